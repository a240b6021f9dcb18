"""Stress bench: does `nurture simulate` always end cleanly on a busy machine?

    .venv/bin/python bench/simulate_loop.py [--runs 50] [--load 2] [--example FILE]

Runs the real command, `nurture simulate examples/webinar_attendee.json --pretty` (as the
README shows it), `--runs` times one after another, while `--load` busy-loop processes
(default: one per CPU) compete with it for the CPUs. A simulation that finishes its
timeline and then dies on the way out, with "Fatal Python error" and exit -6 (SIGABRT),
is what this looks for: Temporal's core threads meeting the interpreter's teardown, which
a quiet machine rarely shows.

For each run it prints the exit code, the wall time, whether the timeline was printed to
its end (the `final:` line) and the first "Fatal Python error" line of stderr, if any; then
a summary. It exits 1 if any run's exit code was not 0, and 0 otherwise. It records
nothing: copy the summary into RESULTS.md by hand.
"""

from __future__ import annotations

import argparse
import collections
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "webinar_attendee.json"
FATAL = "Fatal Python error"
BUSY_LOOP = "while True:\n    pass\n"


@dataclass
class Run:
    """One `nurture simulate` process: how it ended and what it said."""

    code: int | None  # None: killed after --timeout
    seconds: float
    complete: bool  # the timeline was printed to its last line
    fatal: str | None  # the first "Fatal Python error" line of stderr
    stderr: str

    @property
    def clean(self) -> bool:
        return self.code == 0


def simulate_command(nurture: Path, example: Path) -> list[str]:
    """The command as the README shows it."""
    return [str(nurture), "simulate", str(example), "--pretty"]


def run_once(command: Sequence[str], timeout: float) -> Run:
    """Run the command in a session of its own; kill whatever is left of it afterwards."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        start = time.perf_counter()
        process = subprocess.Popen(list(command), cwd=ROOT, stdin=subprocess.DEVNULL,
                                   stdout=out, stderr=err, text=True, start_new_session=True)
        try:
            code: int | None = process.wait(timeout)
        except subprocess.TimeoutExpired:
            code = None
        seconds = time.perf_counter() - start
        _kill_session(process)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    fatal = next((line.strip() for line in stderr.splitlines() if FATAL in line), None)
    return Run(code=code, seconds=seconds, complete="\nfinal: " in stdout, fatal=fatal,
               stderr=stderr)


def _kill_session(process: subprocess.Popen[Any]) -> None:
    """The process and anything it started (a time-skipping server it failed to stop)."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait()


@contextmanager
def cpu_load(processes: int) -> Iterator[list[subprocess.Popen[bytes]]]:
    """`processes` busy loops at the bench's own priority, stopped when the block ends."""
    busy = [subprocess.Popen([sys.executable, "-c", BUSY_LOOP], stdin=subprocess.DEVNULL,
                             start_new_session=True) for _ in range(processes)]
    try:
        yield busy
    finally:
        for process in busy:
            _kill_session(process)


def loop(command: Sequence[str], runs: int, load: int, timeout: float,
         report: bool = True) -> list[Run]:
    """Run the command `runs` times under `load` busy loops; print each run as it ends."""
    done: list[Run] = []
    with cpu_load(load):
        for number in range(1, runs + 1):
            run = run_once(command, timeout)
            done.append(run)
            if report:
                print(describe(number, runs, run), flush=True)
    return done


def describe(number: int, runs: int, run: Run) -> str:
    code = "timeout" if run.code is None else f"exit {run.code}"
    line = f"run {number:>3}/{runs}: {code:<8} {run.seconds:6.1f} s  " \
           f"timeline {'complete' if run.complete else 'INCOMPLETE'}"
    if run.fatal:
        line += f"  {run.fatal}"
    elif not run.clean and run.stderr.strip():
        line += f"  stderr: {run.stderr.strip().splitlines()[-1][:120]}"
    return line


def summary(runs: list[Run], load: int) -> str:
    codes = collections.Counter("timeout" if r.code is None else str(r.code) for r in runs)
    seconds = [r.seconds for r in runs]
    clean = sum(r.clean for r in runs)
    return "\n".join([
        f"{clean} of {len(runs)} runs exited 0 under {load} busy-loop processes "
        f"on {os.cpu_count()} CPUs",
        "exit codes: " + ", ".join(f"{code} ×{n}" for code, n in sorted(codes.items())),
        f"'{FATAL}' on stderr: {sum(r.fatal is not None for r in runs)} runs; "
        f"timeline incomplete: {sum(not r.complete for r in runs)} runs",
        f"wall per run: median {statistics.median(seconds):.1f} s, "
        f"min {min(seconds):.1f}, max {max(seconds):.1f}",
    ])


def _relative(part: str) -> str:
    path = Path(part)
    return str(path.relative_to(ROOT)) if path.is_absolute() and path.is_relative_to(ROOT) \
        else part


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=50, help="simulations to run (50)")
    parser.add_argument("--load", type=int, default=os.cpu_count() or 2,
                        help="busy-loop processes beside them (one per CPU)")
    parser.add_argument("--example", type=Path, default=EXAMPLE,
                        help="scenario file (examples/webinar_attendee.json)")
    parser.add_argument("--nurture", type=Path, default=Path(sys.executable).parent / "nurture",
                        help="the nurture command (the one beside this interpreter)")
    parser.add_argument("--timeout", type=float, default=300.0,
                        help="seconds a run may take before it is killed and counted")
    args = parser.parse_args(argv)
    if args.runs < 1 or args.load < 0:
        parser.error("--runs must be at least 1 and --load at least 0")
    if not args.nurture.exists():
        parser.error(f"--nurture {args.nurture} does not exist (pip install -e . first)")
    if not args.example.exists():
        parser.error(f"--example {args.example} does not exist")
    command = simulate_command(args.nurture, args.example)
    before = os.getloadavg()[0]
    shown = [Path(command[0]).name, *(_relative(part) for part in command[1:])]
    print(f"{' '.join(shown)}: {args.runs} runs beside {args.load} busy loops; "
          f"{platform.machine()}, {os.cpu_count()} CPUs, load average {before:.2f}", flush=True)
    runs = loop(command, args.runs, args.load, args.timeout)
    print(summary(runs, args.load))
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    return 0 if all(run.clean for run in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
