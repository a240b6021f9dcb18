"""The processes of one source tree — `nurture worker` and `nurture api` — as an operator runs
them, against a Temporal server, an SMTP sink and a database that outlive them.

The upgrade test starts them first from a past release's checkout, then from this tree, on
the same data. Each process runs this interpreter (the current virtual environment, whose
packages are a superset of any release's) with its tree first on the path, and refuses to
start if `engine` would come from anywhere else.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import sys
import time
from collections.abc import Awaitable, Callable
from contextlib import suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import httpx
import typer.main
from temporalio.api.enums.v1 import EventType, WorkflowTaskFailedCause
from temporalio.client import Client, WorkflowHandle

import worker.cli

T = TypeVar("T")
ROOT = Path(__file__).resolve().parents[2]
PLAYBOOK_DIR = Path(__file__).resolve().parent
PLAYBOOK = "upgrade_playbook:PLAYBOOK"
WRITE_KEY = "upgrade-test-write-key"
STOP_SECONDS = 20.0

# Runs `nurture` from the tree given as the first argument, or refuses to.
_LAUNCH = (
    "import os, sys\n"
    "tree = sys.argv.pop(1)\n"
    "import engine, worker.cli\n"
    "if not engine.__file__.startswith(os.path.join(tree, '')):\n"
    "    raise SystemExit(f'engine comes from {engine.__file__}, not from {tree}')\n"
    "sys.argv[0] = 'nurture'\n"
    "worker.cli.app()\n"
)


def nurture_env(tree: Path, settings: dict[str, str]) -> dict[str, str]:
    """This machine's environment without NURTURE_*/TEMPORAL_* settings, plus `settings`,
    with `tree` (and the short-clock playbook) on the path."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("NURTURE_", "TEMPORAL_")) and k != "PYTHONPATH"}
    return {**env, **settings, "PYTHONPATH": os.pathsep.join([str(tree), str(PLAYBOOK_DIR)]),
            "NURTURE_PLAYBOOK": PLAYBOOK}


def has_command(name: str) -> bool:
    """Whether this tree's `nurture` CLI has a top-level command or group `name`."""
    group = typer.main.get_command(worker.cli.app)
    return name in getattr(group, "commands", {})


async def run_nurture(tree: Path, env: dict[str, str], *args: str,
                      timeout: float = 60.0) -> str:
    """Run one `nurture …` command of `tree` to completion; its stdout (stderr on failure)."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", _LAUNCH, str(tree), *args, cwd=tree, env=env,
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE)
    try:
        out, err = await asyncio.wait_for(process.communicate(), timeout)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode == 0, (f"nurture {' '.join(args)} exited with "
                                     f"{process.returncode}:\n{err.decode(errors='replace')}")
    return out.decode()


class NurtureProcess:
    """One long-running `nurture <command>` of a tree, its output in `log`."""

    def __init__(self, tree: Path, command: str, env: dict[str, str], log: Path) -> None:
        self.tree, self.command, self.env, self.log = tree, command, env, log
        self.process: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        """Start it (in a session of its own, so only we signal it)."""
        with self.log.open("ab") as out:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable, "-c", _LAUNCH, str(self.tree), self.command, cwd=self.tree,
                env=self.env, stdin=asyncio.subprocess.DEVNULL, stdout=out,
                stderr=asyncio.subprocess.STDOUT, start_new_session=True)

    @property
    def running(self) -> bool:
        """Started and not exited."""
        return self.process is not None and self.process.returncode is None

    def output(self, last: int = 4000) -> str:
        """The end of what it printed."""
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return f"--- nurture {self.command} ({self.tree.name}) ---\n{text[-last:]}"

    async def stop(self) -> None:
        """Ctrl-C, as an operator stops it; killed if it has not exited within the grace."""
        process = self.process
        if process is None or process.returncode is not None:
            return
        with suppress(ProcessLookupError):
            process.send_signal(signal.SIGINT)
        try:
            await asyncio.wait_for(process.wait(), STOP_SECONDS)
        except TimeoutError:
            with suppress(ProcessLookupError):
                process.kill()
            await process.wait()


class ReleaseStack:
    """`nurture api` and `nurture worker` of one tree, started and stopped together."""

    def __init__(self, tree: Path, env: dict[str, str], logs: Path, api_url: str) -> None:
        self.tree, self.env, self.api_url = tree, env, api_url
        logs.mkdir(parents=True, exist_ok=True)
        self.api = NurtureProcess(tree, "api", env, logs / f"{tree.name}-api.log")
        self.worker = NurtureProcess(tree, "worker", env, logs / f"{tree.name}-worker.log")

    async def start(self, timeout: float = 90.0) -> None:
        """Start the API, wait until it answers (it has created the schema by then), then
        start the worker."""
        await self.api.start()
        async with httpx.AsyncClient(base_url=self.api_url) as http:
            async def healthy() -> bool:
                assert self.api.running, f"the API exited\n{self.api.output()}"
                try:
                    return (await http.get("/health")).is_success
                except httpx.TransportError:
                    return False

            await eventually(healthy, f"the API of {self.tree.name} to answer", timeout)
        await self.worker.start()

    async def stop(self) -> None:
        """Stop both; they are gone when this returns."""
        await asyncio.gather(self.api.stop(), self.worker.stop())

    def output(self) -> str:
        """Both processes' recent output, for a failure message."""
        return f"{self.api.output()}\n{self.worker.output()}"


class TimedOut(AssertionError):
    """What was awaited did not happen in time."""


async def eventually(check: Callable[[], Awaitable[T]], what: str, seconds: float) -> T:
    """The first truthy answer of `check`, polled until `seconds` pass (then `TimedOut`)."""
    deadline = time.monotonic() + seconds
    while True:
        result = await check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise TimedOut(f"timed out after {seconds:g} s waiting for {what}")
        await asyncio.sleep(0.25)


def email_ledger(database: Path) -> list[dict[str, Any]]:
    """Every row of the send ledger, read with plain SQL so any schema revision reads."""
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=10) as db:
        db.row_factory = sqlite3.Row
        rows = db.execute("SELECT key, lead_id, to_address, template, track, step, status, "
                          "message_id, sent_at FROM email_sends ORDER BY created_at").fetchall()
    return [{**row, "sent_at": _utc(row["sent_at"])} for row in map(dict, rows)]


def _utc(stored: str | None) -> datetime | None:
    """A time the store wrote to SQLite (UTC, without an offset) as an aware datetime."""
    return datetime.fromisoformat(stored).replace(tzinfo=UTC) if stored else None


async def open_timers(handle: WorkflowHandle[Any, Any]) -> list[datetime]:
    """When the timers of the current run that neither fired nor were cancelled will fire."""
    started: dict[int, datetime] = {}
    closed: set[int] = set()
    async for event in handle.fetch_history_events():
        if event.event_type == EventType.EVENT_TYPE_TIMER_STARTED:
            timeout = event.timer_started_event_attributes.start_to_fire_timeout
            started[event.event_id] = (event.event_time.ToDatetime(tzinfo=UTC)
                                       + timeout.ToTimedelta())
        elif event.event_type == EventType.EVENT_TYPE_TIMER_FIRED:
            closed.add(event.timer_fired_event_attributes.started_event_id)
        elif event.event_type == EventType.EVENT_TYPE_TIMER_CANCELED:
            closed.add(event.timer_canceled_event_attributes.started_event_id)
    return sorted(fires for event_id, fires in started.items() if event_id not in closed)


async def workflow_task_failures(client: Client) -> list[str]:
    """Every failed workflow task in every run of every workflow, as one line each."""
    found: list[str] = []
    async for execution in client.list_workflows():
        handle = client.get_workflow_handle(execution.id, run_id=execution.run_id)
        async for event in handle.fetch_history_events():
            if event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED:
                failed = event.workflow_task_failed_event_attributes
                cause = WorkflowTaskFailedCause.Name(failed.cause)
                found.append(f"{execution.id} (run {execution.run_id[:8]}): {cause}: "
                             f"{failed.failure.message[:500]}")
    return found
