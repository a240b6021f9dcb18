"""Sales inbox API benchmark: how fast `GET /sales/tasks` answers with 10,000 sales tasks,
side by side with the store queries behind it.

    .venv/bin/python bench/inbox.py [--tasks 10000] [--requests 2000] [--warmup 200]
                                    [--database-url URL] [--quick] [--record]

Seeds a fresh store (a SQLite file in a temp dir, or with `--database-url` a PostgreSQL
schema of its own, dropped afterwards) with leads, their events and one escalation each over
twenty reps and a manager (bench/inbox_seed.py), then serves the real app in a child process
the way `nurture api` builds it without a relay (uvicorn, `create_app` with the shipped
playbook, relay=None) and times sequential requests over loopback TCP from this process:

- rep:     `GET /sales/tasks` — a rep's open tasks, soonest due first, page of 50;
- manager: `GET /sales/tasks?status=all&tier=N` — every task of a tier, page of 50;
- detail:  `GET /sales/tasks/{id}` — one task with its handoff package and both timelines.

With relay=None the detail's lead timeline comes from the store (no Temporal client to ask),
so that phase times the store fallback without any connection attempt. A second phase
serves the app exactly as `nurture api` does (with its relay) pointed at a loopback port
nothing listens on, and times the detail again: then each request first tries to connect,
is refused, and falls back. In the same run, in chunks between the API's, this process
times the store calls each endpoint makes, and `store.list_sales_tasks` alone.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import itertools
import os
import random
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from inbox_report import Meter, percentiles, record, report
from inbox_seed import MANAGER, Seeded, reps, seed
from ingest_stack import Part, Role, _process_cpu, commit, free_port, run_guarded

from engine.store import Store
from engine.store.connect import scratch_schema

CHUNK = 100  # API requests, then store calls, in turns of this many
TARGET_P99_MS = 50.0


@dataclass
class Call:
    """One request of an endpoint, and the same work done directly on the store."""

    path: str
    token: str
    store: Callable[[], object]  # the store calls the endpoint makes, in order
    query: Callable[[], object] | None = None  # list_sales_tasks alone (list endpoints)


@dataclass
class Timings:
    """Milliseconds per call of one endpoint, three ways, and what the server spent."""

    name: str
    api: list[float] = field(default_factory=list)
    store: list[float] = field(default_factory=list)
    query: list[float] = field(default_factory=list)
    server_cpu: float = 0.0  # cpu-s the server process used during the API's turns
    client_gc: list[float] = field(default_factory=list)  # this process's GC pauses, ms
    body_bytes: int = 0
    note: str = ""


# --- what each endpoint asks --------------------------------------------------------------------

def rep_calls(store: Store, seeded: Seeded) -> Iterator[Call]:
    """A rep's first page of open tasks, each rep in turn."""
    staff = [rep for rep, _, _ in reps()]
    for n in itertools.count():
        rep = staff[n % len(staff)]
        token = seeded.tokens[rep]

        def query(rep: str = rep) -> object:
            return store.list_sales_tasks(owner=rep)

        def calls(token: str = token, query: Callable[[], object] = query,
                  rep: str = rep) -> object:
            return (store.token_user(token), query(), store.count_sales_tasks(owner=rep))

        yield Call("/sales/tasks", token, calls, query)


def manager_calls(store: Store, seeded: Seeded) -> Iterator[Call]:
    """The manager's first page of every task of a tier, tiers in turn."""
    token = seeded.tokens[MANAGER[0]]
    for n in itertools.count():
        tier = 1 + n % 3

        def query(tier: int = tier) -> object:
            return store.list_sales_tasks(status=None, tier=tier)

        def calls(query: Callable[[], object] = query, tier: int = tier) -> object:
            return (store.token_user(token), query(),
                    store.count_sales_tasks(status=None, tier=tier))

        yield Call(f"/sales/tasks?status=all&tier={tier}", token, calls, query)


def detail_calls(store: Store, seeded: Seeded, rng: random.Random) -> Iterator[Call]:
    """A random task, asked for by its owner; the store calls are those of the desk's
    detail with the timeline read from the store (Temporal not asked)."""
    while True:
        lead = rng.choice(seeded.leads)
        task_id, token = lead.task["id"], seeded.tokens[lead.owner]

        def calls(task_id: str = task_id, token: str = token) -> object:
            store.token_user(token)
            task = store.sales_task(task_id)
            assert task is not None
            profile = store.get_lead(task.lead_id)
            related = list(task.handoff.get("related_contacts") or [])
            if not related and profile is not None and profile.company_domain:
                related = [store.get_lead(other) for other in
                           store.colleagues(profile.id, profile.company_domain)[:10]]
            return profile, related, store.events_for(task.lead_id, 200)

        yield Call(f"/sales/tasks/{task_id}", token, calls)


# --- measuring --------------------------------------------------------------------------------

def check_answer(name: str, answer: httpx.Response, seeded: Seeded, call: Call) -> None:
    """Refuse to time an endpoint that does not answer what the bench expects."""
    if answer.status_code != 200:
        raise RuntimeError(f"{name}: {call.path} answered {answer.status_code}: {answer.text}")
    body = answer.json()
    if name.startswith("detail"):
        source = body["lead_timeline"]["source"]
        if source != "store" or body["task"]["id"] != call.path.rsplit("/", 1)[1]:
            raise RuntimeError(f"detail: timeline from {source!r}, task {body['task']['id']}")
        return
    dues = [task["due_at"] for task in body["tasks"]]
    if len(dues) != min(50, body["total"]) or dues != sorted(dues):
        raise RuntimeError(f"{name}: {len(dues)} tasks of {body['total']}, sorted "
                           f"{dues == sorted(dues)}")
    viewer = body["viewer"]["user_id"]
    if name == "rep":
        expected = sum(lead.status == "open" and lead.owner == viewer for lead in seeded.leads)
    else:
        tier = int(call.path.rsplit("=", 1)[1])
        expected = sum(lead.task["tier"] == tier for lead in seeded.leads)
    if body["total"] != expected:
        raise RuntimeError(f"{name}: total {body['total']}, the seed holds {expected}")


async def measure(name: str, http: httpx.AsyncClient, calls: Iterator[Call], seeded: Seeded,
                  *, requests: int, warmup: int, server_pid: int, note: str = "") -> Timings:
    """Warm up, then `requests` sequential API calls, each CHUNK followed by the same calls
    made directly on the store (and list_sales_tasks alone)."""
    timings = Timings(name, note=note)
    first = next(calls)
    answer = await http.get(first.path, headers={"Authorization": f"Bearer {first.token}"})
    check_answer(name, answer, seeded, first)
    for _ in range(warmup):
        call = next(calls)
        await http.get(call.path, headers={"Authorization": f"Bearer {call.token}"})
        call.store()
    done, paused = 0, [0.0]

    def pause(phase: str, info: dict[str, int]) -> None:  # gc.callbacks: time collections
        if phase == "start":
            paused[0] = time.perf_counter()
        elif timing:
            timings.client_gc.append((time.perf_counter() - paused[0]) * 1000)

    timing = False
    gc.callbacks.append(pause)
    try:
        while done < requests:
            chunk = [next(calls) for _ in range(min(CHUNK, requests - done))]
            cpu, timing = _process_cpu(server_pid), True
            for call in chunk:
                headers = {"Authorization": f"Bearer {call.token}"}
                began = time.perf_counter()
                answer = await http.get(call.path, headers=headers)
                timings.api.append((time.perf_counter() - began) * 1000)
                if answer.status_code != 200:
                    raise RuntimeError(f"{name}: {call.path} answered {answer.status_code}")
                timings.body_bytes += len(answer.content)
            timing = False
            timings.server_cpu += _process_cpu(server_pid) - cpu
            for call in chunk:
                began = time.perf_counter()
                call.store()
                timings.store.append((time.perf_counter() - began) * 1000)
                if call.query is not None:
                    began = time.perf_counter()
                    call.query()
                    timings.query.append((time.perf_counter() - began) * 1000)
            done += len(chunk)
    finally:
        gc.callbacks.remove(pause)
    print(f"{name}: API p50 {percentiles(timings.api)[0]:.1f} ms, "
          f"p99 {percentiles(timings.api)[2]:.1f} ms")
    return timings


# --- a run --------------------------------------------------------------------------------------

@dataclass
class Run:
    """Every figure of one run."""

    database: str
    tasks: int
    seeding: str = ""
    endpoints: list[Timings] = field(default_factory=list)
    cpu: list[str] = field(default_factory=list)
    commit: str = ""
    load_before: tuple[float, ...] = ()
    load_after: tuple[float, ...] = ()


async def serve_and_measure(run: Run, options: argparse.Namespace, url: str, folder: Path,
                            seeded: Seeded) -> None:
    """Both phases: the app without a relay, then as `nurture api` with Temporal down."""
    rng = random.Random(options.seed)
    nowhere = f"127.0.0.1:{free_port()}"  # nothing listens there: connects are refused
    with Store(url) as store:
        for relay in (False, True):
            api = Part(Role("api", url, nowhere, free_port(), relay=relay), folder,
                       in_process=False)
            await api.start()
            try:
                async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{api.role.port}",
                                             timeout=30) as http:
                    meter = Meter({"api": api.pid, "bench": os.getpid()},
                                  postgres=url.startswith("postgresql"))
                    common: dict[str, Any] = {"requests": options.requests,
                                              "warmup": options.warmup, "server_pid": api.pid}
                    if not relay:
                        run.endpoints.append(await measure(
                            "rep", http, rep_calls(store, seeded), seeded, **common))
                        run.endpoints.append(await measure(
                            "manager", http, manager_calls(store, seeded), seeded, **common))
                        run.endpoints.append(await measure(
                            "detail", http, detail_calls(store, seeded, rng), seeded,
                            note="relay=None: timeline from the store, no connect attempt",
                            **common))
                    else:
                        run.endpoints.append(await measure(
                            "detail, Temporal down", http, detail_calls(store, seeded, rng),
                            seeded, note="as `nurture api` (relay on), Temporal address "
                            "refusing connections: one refused connect, then the store",
                            **common))
                    phase = "with relay, Temporal down" if relay else "relay=None"
                    run.cpu.append(f"{phase}: {meter.read()}")
            finally:
                await api.stop()


async def run_bench(options: argparse.Namespace, run: Run) -> None:
    """Seed, serve, measure; remove the temp dir (and the PostgreSQL schema) afterwards."""
    folder = Path(tempfile.mkdtemp(prefix="bench-inbox-"))
    task = asyncio.current_task()
    assert task is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
    try:
        with contextlib.ExitStack() as stack:
            url = (stack.enter_context(scratch_schema(options.database_url, "bench_inbox"))
                   if options.database_url else f"sqlite:///{folder / 'nurture.db'}")
            began = time.perf_counter()
            with Store(url, upgrade=True) as store:
                seeded = await asyncio.to_thread(seed, store, options.tasks,
                                                 datetime.now(UTC), random.Random(options.seed))
                if options.database_url:
                    with store.engine.connect() as connection:
                        version = connection.exec_driver_sql("SHOW server_version").scalar()
                    run.database = f"PostgreSQL {str(version).split()[0]}"
            events = sum(len(lead.events) for lead in seeded.leads)
            run.seeding = (f"{options.tasks:,} leads, {events:,} events, {options.tasks:,} tasks "
                           f"({seeded.open_tasks:,} open) and {len(seeded.tokens)} tokens in "
                           f"{time.perf_counter() - began:.1f} s; {seeded.through_store} leads "
                           "through the store's methods, the rest in bulk, every row checked")
            print(run.seeding)
            # The seed's ~300,000 objects would make each full collection in this process
            # (the client) take ~100 ms, landing in some timed request; freeze them.
            gc.collect()
            gc.freeze()
            await serve_and_measure(run, options, url, folder, seeded)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--tasks", type=int, help="leads and tasks to seed (10000)")
    parser.add_argument("--requests", type=int, help="timed requests per endpoint (2000; "
                        "--quick 200)")
    parser.add_argument("--warmup", type=int, help="untimed requests first (200; --quick 20)")
    parser.add_argument("--database-url", metavar="URL", help="a PostgreSQL server to run "
                        "against, in a schema of its own, e.g. "
                        "postgresql+psycopg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--quick", action="store_true", help="a small run, not recorded")
    parser.add_argument("--record", action=argparse.BooleanOptionalAction,
                        help="add the results to bench/RESULTS.md (default: unless --quick)")
    parser.add_argument("--seed", type=int, default=1)
    options = parser.parse_args(argv)
    options.tasks = options.tasks or (2_000 if options.quick else 10_000)
    options.requests = options.requests or (200 if options.quick else 2_000)
    options.warmup = options.warmup if options.warmup is not None else (
        20 if options.quick else 200)
    options.record = (not options.quick) if options.record is None else options.record
    return options


def main(argv: Sequence[str] | None = None) -> int:
    """Run the bench; print the figures and, unless --quick, record them."""
    options = parse(argv)
    command = " ".join([".venv/bin/python bench/inbox.py", *(argv or sys.argv[1:])])
    run = Run("PostgreSQL" if options.database_url else "SQLite file (WAL)", options.tasks,
              commit=commit(), load_before=os.getloadavg())
    if not run_guarded(run_bench(options, run)):
        print("interrupted: server stopped, temp dir removed")
        return 130
    run.load_after = os.getloadavg()
    section = report(run, command, TARGET_P99_MS)
    if options.record:
        print(f"\nrecorded in {record(section)}")
    met = next(t for t in run.endpoints if t.name == "rep")
    return 0 if percentiles(met.api)[2] <= TARGET_P99_MS else 1


if __name__ == "__main__":
    sys.exit(main())
