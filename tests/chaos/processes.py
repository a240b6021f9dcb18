"""The product's processes as an operator runs them, and as a crash ends them.

`Child` is one `nurture worker` or `nurture api` (or any other `nurture` command) of this
tree: its own session, its output appended to a log file, stopped with SIGTERM like a
service manager stops it, or ended with SIGKILL like the kernel's OOM killer or a pulled
plug ends it. Each start is a new process with the same command line and environment.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from contextlib import suppress
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
STOP_SECONDS = 20.0


def nurture_env(settings: dict[str, str]) -> dict[str, str]:
    """This machine's environment without its NURTURE_* and TEMPORAL_* settings, plus
    `settings`, with the repository root on the path (for the chaos playbook)."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("NURTURE_", "TEMPORAL_")) and k != "PYTHONPATH"}
    return {**env, **settings, "PYTHONPATH": str(ROOT)}


def nurture_command(*args: str) -> list[str]:
    """The command line of `nurture <args>` with this interpreter (the project's venv)."""
    return [sys.executable, "-m", "worker.cli", *args]


class Child:
    """One long-running `nurture` process; `starts` counts its (re)starts."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], log: Path) -> None:
        self.name, self.args, self.env, self.log = name, args, env, log
        self.process: asyncio.subprocess.Process | None = None
        self.starts = 0

    @property
    def running(self) -> bool:
        """Started and not exited."""
        return self.process is not None and self.process.returncode is None

    @property
    def pid(self) -> int | None:
        """The current process's id."""
        return self.process.pid if self.process is not None else None

    async def start(self) -> None:
        """Start a new process (in a session of its own, so only we signal it)."""
        assert not self.running, f"{self.name} is already running"
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as out:
            out.write(f"\n=== start {self.starts + 1}: {' '.join(self.args)}\n".encode())
            out.flush()
            self.process = await asyncio.create_subprocess_exec(
                *nurture_command(*self.args), cwd=ROOT, env=self.env,
                stdin=asyncio.subprocess.DEVNULL, stdout=out,
                stderr=asyncio.subprocess.STDOUT, start_new_session=True)
        self.starts += 1

    async def kill(self) -> None:
        """SIGKILL: no clean-up, no goodbye; gone when this returns."""
        process = self.process
        if process is None or process.returncode is not None:
            return
        with suppress(ProcessLookupError):
            process.send_signal(signal.SIGKILL)
        await process.wait()

    async def stop(self) -> None:
        """SIGTERM, as a service manager stops it; SIGKILL after the grace period."""
        process = self.process
        if process is None or process.returncode is not None:
            return
        with suppress(ProcessLookupError):
            process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(process.wait(), STOP_SECONDS)
        except TimeoutError:
            await self.kill()

    def output(self, last: int = 3000) -> str:
        """The end of what it printed, for a failure message."""
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return f"--- {self.name} ({self.log}) ---\n{text[-last:]}"
