"""The stack the ingest bench measures: a raw counting workflow for the baseline, and the
API (with or without its relay) and the worker, each in a child process or in-process, with
their CPU time metered."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import uvicorn
from pydantic import BaseModel
from raw_noop import RawNoop
from temporalio import workflow
from temporalio.client import Client
from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from engine.api import create_app
from engine.client import connect
from engine.dsl import library
from engine.mail import MemoryTransport
from engine.settings import Settings, load_playbook
from engine.store import Store
from worker.assembly import build_activities, build_worker, tune_garbage_collector
from worker.serve import build_app

WRITE_KEY = "bench-write-key"
LEAD_QUEUE = "nurture"
RAW_QUEUE = "bench-raw"
CALLS_PER_BATCH = 100
SENDERS = 16        # /v1/batch requests in flight
SIGNALLERS = 32     # raw signals in flight: the relay's default concurrency
PROBES = 16         # state queries in flight while waiting for workflows
BACKGROUND_RATE = 20.0
ACCEPT_TARGET, RATIO_TARGET, P50_TARGET, P99_TARGET = 5_000.0, 1.0, 150.0, 1_000.0
FEATURES = ("dashboards", "alerts", "exports", "forecasting", "pipeline_view", "sso")
AGENT = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 Safari/605.1.15"
# What this file imports, passed through the raw counter's sandbox rather than re-imported.
_IMPORTED = ("engine", "httpx", "pydantic", "sqlalchemy", "uvicorn", "worker")
_CHILDREN: set[int] = set()  # process ids to kill for sure if a clean stop does not happen


def run_guarded(work: Coroutine[Any, Any, None]) -> bool:
    """Run a bench's main coroutine; False if Ctrl-C stopped it. Child processes a clean
    stop did not reach (it was itself interrupted) are killed either way."""
    try:
        asyncio.run(work)
    except (KeyboardInterrupt, asyncio.CancelledError):
        return False
    finally:
        for pid in _CHILDREN - {0}:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    return True


def commit() -> str:
    """The checked-out commit, marked when the code under test has local changes (read
    without taking git's index lock: others may work in this checkout at the same time)."""
    def git(*args: str) -> str:
        return subprocess.run(["git", "--no-optional-locks", *args], capture_output=True,
                              text=True, check=False,
                              cwd=Path(__file__).resolve().parent.parent).stdout.strip()

    changed = git("status", "--porcelain", "--", "engine", "worker", "workflows")
    return git("rev-parse", "--short", "HEAD") + (" + local changes" if changed else "")


# --- the raw baseline: a workflow that only counts ------------------------------------------

class RawEvent(BaseModel):
    """What one raw signal carries: the shape of one engine event."""

    id: str
    type: str
    at: datetime
    properties: dict[str, Any]


class RawCount(BaseModel):
    """How many signals a counter has taken."""

    received: int


@workflow.defn(name="BenchRawCounter")
class RawCounter:
    """Counts its signals until terminated: Temporal plus one worker, with no logic."""

    def __init__(self) -> None:
        self.received = 0

    @workflow.run
    async def run(self) -> RawCount:
        """Wait for ever; the server goes with the bench's temp dir."""
        await workflow.wait_condition(lambda: False)
        return RawCount(received=self.received)

    @workflow.signal
    def event(self, event: RawEvent) -> None:
        """One more."""
        self.received += 1

    @workflow.query
    def tally(self) -> RawCount:
        """Signals counted so far."""
        return RawCount(received=self.received)


# --- the parts of the stack ------------------------------------------------------------------

@dataclass
class Role:
    """One part of the stack: the API (with or without its relay) or the worker."""

    kind: str
    database: str
    temporal: str
    port: int = 0
    relay: bool = True

    def argv(self) -> list[str]:
        """This role as command-line options for a child process."""
        return ["--role", self.kind, "--database", self.database, "--temporal", self.temporal,
                "--port", str(self.port), *([] if self.relay else ["--no-relay"])]


async def serve_role(role: Role, ready: Callable[[], None]) -> None:
    """Run one part until cancelled; call `ready()` once it serves."""
    settings = Settings(write_keys=WRITE_KEY, database_url=role.database,
                        temporal_address=role.temporal, task_queue=LEAD_QUEUE,
                        base_url=f"http://127.0.0.1:{role.port}")
    store = Store(role.database)
    try:
        if role.kind == "worker":
            library.remember(load_playbook(settings.playbook))  # as `nurture worker` does
            client = await connect(role.temporal)
            leads = build_worker(client, build_activities(settings, store, MemoryTransport()),
                                 LEAD_QUEUE, settings=settings)
            # Sandboxed like the lead workflow; this file's imports pass through it.
            passing = SandboxRestrictions.default.with_passthrough_modules(*_IMPORTED)
            raw = Worker(client, task_queue=RAW_QUEUE, workflows=[RawCounter, RawNoop],
                         workflow_runner=SandboxedWorkflowRunner(restrictions=passing))
            async with leads, raw:
                tune_garbage_collector(settings)  # as `nurture worker` does
                ready()
                await asyncio.Event().wait()
        app = (build_app(settings, store) if role.relay else
               create_app(settings, store=store, playbook=load_playbook(settings.playbook),
                          relay=None))
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=role.port,
                                               log_level="warning", lifespan="on"))
        serving = asyncio.create_task(server.serve())
        try:
            while not server.started:
                if serving.done():
                    await serving
                    raise RuntimeError("uvicorn stopped during start-up")
                await asyncio.sleep(0.02)
            ready()
            await asyncio.shield(serving)
        finally:
            server.should_exit = True
            await serving
    finally:
        store.dispose()


def child_main(role: Role) -> None:
    """A child process: serve the role until SIGTERM or until the bench goes away."""
    async def main() -> None:
        task = asyncio.current_task()
        assert task is not None
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
        parent = os.getppid()

        async def orphaned() -> None:
            while os.getppid() == parent:
                await asyncio.sleep(1)
            task.cancel()
            await asyncio.sleep(15)
            os._exit(1)  # a graceful stop that hangs must not outlive the bench

        watch = asyncio.create_task(orphaned())
        try:
            await serve_role(role, lambda: print("ready", flush=True))
        except asyncio.CancelledError:
            pass
        finally:
            watch.cancel()

    asyncio.run(main())


class Part:
    """A role running in a child process, or (in-process) as a task of this loop."""

    def __init__(self, role: Role, folder: Path, *, in_process: bool) -> None:
        self.role, self.in_process = role, in_process
        self.log = folder / f"{role.kind}-{role.port or 'worker'}.log"
        self.process: asyncio.subprocess.Process | None = None
        self.task: asyncio.Task[None] | None = None

    @property
    def pid(self) -> int:
        """The process doing this part's work."""
        return self.process.pid if self.process else os.getpid()

    async def start(self) -> None:
        """Start the part and return once it serves."""
        if self.in_process:
            ready = asyncio.Event()
            self.task = asyncio.create_task(serve_role(self.role, ready.set))
            waiting = asyncio.create_task(ready.wait())
            await asyncio.wait({self.task, waiting}, timeout=120,
                               return_when=asyncio.FIRST_COMPLETED)
            waiting.cancel()
            if self.task.done():
                self.task.result()
            if not ready.is_set():
                raise RuntimeError(f"the {self.role.kind} did not start within 120 s")
            return
        with self.log.open("ab") as log:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable, str(Path(__file__).resolve().with_name("ingest.py")),
                *self.role.argv(),
                stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=log,
                start_new_session=True)  # Ctrl-C reaches only us; we stop children in order
        _CHILDREN.add(self.process.pid)
        assert self.process.stdout is not None
        try:
            line = await asyncio.wait_for(self.process.stdout.readline(), 120)
        except TimeoutError:
            line = b""
        if line.strip() != b"ready":
            tail = self.log.read_text(errors="replace")[-9000:]
            raise RuntimeError(f"the {self.role.kind} did not start; {self.log} ends:\n{tail}")

    async def stop(self) -> None:
        """Stop gracefully (SIGTERM), or for sure after 20 s (SIGKILL)."""
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
        process = self.process
        if process is None or process.returncode is not None:
            return
        try:
            with contextlib.suppress(ProcessLookupError):
                process.terminate()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(process.wait(), 20)
        finally:
            if process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                await process.wait()
            _CHILDREN.discard(process.pid)


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# --- CPU accounting: whose cores the figures were measured on --------------------------------

def _tick() -> int:
    return os.sysconf("SC_CLK_TCK")


def _process_cpu(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _tick()


def _machine_busy() -> float:
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    return (sum(values) - values[3] - values[4]) / _tick()


class CpuMeter:
    """CPU seconds each of our processes (and everything else on the machine) used."""

    def __init__(self, pids: dict[str, int]) -> None:
        by_pid: dict[int, list[str]] = {}
        for name, pid in pids.items():
            by_pid.setdefault(pid, []).append(name)
        self.names = {pid: "+".join(names) for pid, names in by_pid.items()}
        self.start = {pid: _process_cpu(pid) for pid in self.names}
        self.busy, self.wall = _machine_busy(), time.perf_counter()

    def used(self) -> tuple[dict[str, float], float, float]:
        """CPU seconds each process used, what everything else used, and the wall time."""
        used = {self.names[pid]: _process_cpu(pid) - cpu for pid, cpu in self.start.items()}
        other = max(0.0, _machine_busy() - self.busy - sum(used.values()))
        return used, other, time.perf_counter() - self.wall

    def read(self) -> str:
        """`api 3.1, worker 0.2, …, other 0.4 cpu-s in 4.0 s` since the meter started."""
        used, other, wall = self.used()
        parts = ", ".join(f"{name} {cpu:.1f}" for name, cpu in used.items())
        return (f"{parts}, other {other:.1f} cpu-s in {wall:.1f} s "
                f"({os.cpu_count()} cores: {wall * (os.cpu_count() or 1):.1f} cpu-s)")


# --- load --------------------------------------------------------------------------------------


async def tear_down(parts: list[Part], server: Any, folder: Path) -> None:
    """Stop the bench's child processes (last started first), then the Temporal server,
    and remove the temp folder."""
    for part in reversed(parts):
        await part.stop()
    await server.stop()
    _CHILDREN.discard(server.pid or 0)
    shutil.rmtree(folder, ignore_errors=True)


async def start_children(server: Any, folder: Path, parts: list[Part]
                         ) -> tuple[Client, Part, Part, dict[str, int]]:
    """Start the dev server, then the API (with its relay) and the worker as child processes
    on a SQLite database in `folder`, schema first as an operator would; the parts go into
    `parts` as they are made, so `tear_down` stops them whatever fails. The client, the two
    parts and every process id by name."""
    client = await server.start()
    _CHILDREN.add(server.pid or 0)
    database = f"sqlite:///{folder / 'nurture.db'}"
    Store(database, upgrade=True).dispose()
    api = Part(Role("api", database, server.address, free_port()), folder, in_process=False)
    worker = Part(Role("worker", database, server.address), folder, in_process=False)
    parts += [api, worker]
    await asyncio.gather(api.start(), worker.start())
    pids = {"api": api.pid, "worker": worker.pid, "temporal": server.pid or 0,
            "bench": os.getpid()}
    return client, api, worker, pids
