"""Where a running `nurture dev` listens, kept in its data folder while it runs.

`nurture dev --api-port 8123` answers on 8123, not on the 8000 every other command assumes.
So the stack writes its addresses to `<data-dir>/dev.json` once it is up, and removes the
file when it stops; `nurture tasks`, `nurture demo` and `nurture event send` read it to
print and use the addresses actually in use. A file left by a stack that was killed names
a process that is gone and is ignored.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from engine.settings import Settings

FILE_NAME = "dev.json"
DEFAULT_DATA_DIR = Path(".nurture")
DEFAULT_API_URL = "http://127.0.0.1:8000"
DEFAULT_UI_URL = "http://127.0.0.1:8233"  # Temporal's own: the gRPC port 7233 + 1000


@dataclass(frozen=True)
class DevAddresses:
    """The addresses of one running `nurture dev` (`ui_url` is None with TEMPORAL_ADDRESS)."""

    api_url: str
    temporal_address: str
    ui_url: str | None
    pid: int

    @property
    def inbox_url(self) -> str:
        """Where reps sign in to the sales inbox."""
        return f"{self.api_url}/inbox"


def keep(data_dir: Path, addresses: DevAddresses) -> None:
    """Write the addresses of the stack running from `data_dir`."""
    path = data_dir / FILE_NAME
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(asdict(addresses), indent=2) + "\n")
    temporary.replace(path)  # readers never see half a file


def forget(data_dir: Path, pid: int) -> None:
    """Remove the file, unless another process has written its own since."""
    found = _read(data_dir / FILE_NAME)
    if found is not None and found.pid == pid:
        (data_dir / FILE_NAME).unlink(missing_ok=True)


def running(data_dir: Path) -> DevAddresses | None:
    """The addresses of the `nurture dev` running from `data_dir`, or None when none is."""
    found = _read(data_dir / FILE_NAME)
    return found if found is not None and _alive(found.pid) else None


def _read(path: Path) -> DevAddresses | None:
    try:
        data = json.loads(path.read_text())
        return DevAddresses(api_url=str(data["api_url"]),
                            temporal_address=str(data["temporal_address"]),
                            ui_url=str(data["ui_url"]) if data.get("ui_url") else None,
                            pid=int(data["pid"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None  # no stack, or a file nobody should trust


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process, but alive
    return True


def data_dir_option(data_dir: Path) -> str:
    """` --data-dir DIR` for a command line, or nothing for the default folder."""
    return "" if Path(data_dir).resolve() == DEFAULT_DATA_DIR.resolve() \
        else f" --data-dir {data_dir}"


def api_url(settings: Settings, given: str | None, data_dir: Path) -> str:
    """The API to talk to: `given`, else NURTURE_API_URL or NURTURE_BASE_URL when set,
    else the `nurture dev` running from `data_dir`, else the default address."""
    if given:
        return given.rstrip("/")
    if {"api_url", "base_url"} & settings.model_fields_set:
        return settings.api_base
    dev = running(data_dir)
    return dev.api_url if dev is not None else settings.api_base
