"""Who holds a lease: a process named so that another process can tell it is dead.

A holder is `host:pid:started:instance`, `started` being the process's start time as the
kernel counts it (Linux: field 22 of /proc/<pid>/stat). A process on the same host can then
tell that a holder is gone — no process with that pid, or one started at another time (the
pid reused, e.g. by a restarted container's first process) — and take its lease at once
instead of waiting for it to expire. Holders on other hosts are never judged: their leases
expire.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

_HOST = socket.gethostname()


def process_started(pid: int) -> str | None:
    """The process's start time in clock ticks since boot; None if there is no such
    process or the system does not say ("" when it cannot be read but the process runs)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        if Path("/proc/self/stat").exists():
            return None  # /proc works here: no such process
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            pass  # it exists, owned by someone else
        return ""
    except OSError:
        return ""
    # The command name (field 2) is in parentheses and may hold spaces: split after it.
    fields = stat.rpartition(")")[2].split()
    return fields[19] if len(fields) > 19 else ""


def holder_name(instance: object) -> str:
    """This process's name for a lease held by `instance`."""
    pid = os.getpid()
    return f"{_HOST}:{pid}:{process_started(pid) or ''}:{id(instance):x}"


def holder_gone(holder: str) -> bool:
    """Whether `holder` is a process of this host that no longer runs."""
    host, _, rest = holder.partition(":")
    pid_text, _, rest = rest.partition(":")
    started = rest.partition(":")[0]
    if host != _HOST or not pid_text.isdigit():
        return False
    now = process_started(int(pid_text))
    if now is None:
        return True
    return bool(started and now and now != started)
