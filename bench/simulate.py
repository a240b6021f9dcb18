"""Benchmark: what a `nurture simulate` process costs next to importing Temporal's testing
module, and where its time goes.

    .venv/bin/python bench/simulate.py [--repeat 5] [--examples webinar_attendee,...]
                                       [--checkout DIR] [--no-compile]

For every scenario in examples/ it runs, interleaved and `--repeat` times each:

- `nurture simulate <example>`, a fresh process each time, output discarded;
- `python -c "import temporalio.testing"` with the same interpreter: what any simulation
  on the time-skipping server pays before it does anything. The ratio of the two is per
  repetition;
- the floor (`bench/simulate_floor.py`): a process that imports only Temporal and makes
  the time-skipping server do what it did for the example (the same runs, timers,
  activities, local activities and signals at the same simulated times, read once from a
  simulation of it before the repetitions), with no-op activities and no engine code:
  what any simulation of that lead on this server costs, however fast the engine were;
  and the same floor with the engine code every simulation loads imported first (the
  playbook, its DSL, the journey, scoring, the email renderer, settings; no store);
- a probe process that does what the command does, timing its phases: importing
  `worker.cli`, importing `worker.simulate` (with the garbage collector paused, as the
  command does), reading the scenario and the playbook, and the `simulate()` call; then,
  warm, the call again with the server's start and stop timed apart from the run. `rest of
  process` is the command's wall time less the probe's phases: interpreter start, the
  command line and exit.

Besides wall times it reports each process's CPU time (its own and its children's, the
time-skipping server's included), which a machine loaded by other work disturbs less.

The project's modules are compiled to bytecode first (`compileall`), as installing a wheel
does for every package, and as Python does on a first run unless PYTHONDONTWRITEBYTECODE is
set; `--no-compile` measures whatever is there. `--checkout DIR` measures the code in DIR
(an older commit exported with `git archive`, say) with this interpreter and its packages:
its modules come first on PYTHONPATH and its command runs as `python -m worker.cli`.

Then, once per example, the probe runs under `-X importtime`, with and without importing
`worker.cli`, to show which packages the import time goes to and which of them the
simulation never imports. Those figures are inflated by the instrumentation; compare
them with each other, not with the wall times.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from engine.dsl.spec import PlaybookSpec
    from engine.settings import Settings
    from worker.simulate import Scenario

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("engine", "worker", "workflows")
BARE_IMPORT = "import temporalio.testing"
MARK = "@phase "  # written to stderr by the probe between phases
TIMEOUT = 300.0  # seconds for one child process
PHASES = {"import_cli": "import worker.cli", "import_simulate": "import worker.simulate",
          "setup": "scenario + playbook", "simulate": "simulate()"}
SPLIT = {"server_start": "server start", "run": "run", "server_stop": "server stop"}
AROUND = {"probe_start": "start, to its first phase", "probe_exit": "exit, after its last"}
PROJECT = {"engine", "worker", "workflows"}


# --- the probe: runs in a child process --------------------------------------------------

class Clock:
    """Times consecutive phases and marks where each starts, for `-X importtime`."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._phase: str | None = None
        self._start = 0.0

    def next(self, phase: str | None) -> None:
        now = time.perf_counter()
        if self._phase:
            self.seconds[self._phase] = now - self._start
        print(f"{MARK}{phase or 'end'}", file=sys.stderr, flush=True)
        self._phase, self._start = phase, time.perf_counter()


def probe(example: Path, with_cli: bool, split: bool) -> None:
    """Do what `nurture simulate` does, in the same order, and print each phase's time."""
    import gc

    begun = time.time()
    clock = Clock()
    clock.next("import_cli")
    if with_cli:
        import worker.cli  # noqa: F401
    clock.next("import_simulate")
    gc.disable()  # the command loads its code, scenario and playbook without collections
    from worker.simulate import load_scenario, simulate
    clock.next("setup")
    import asyncio

    from engine.settings import load_playbook, load_settings

    scenario = load_scenario(example)
    playbook = load_playbook(load_settings().playbook)
    settings = load_settings()
    gc.freeze()
    gc.enable()
    clock.next("simulate")
    result = asyncio.run(simulate(scenario, playbook, settings))
    clock.next(None)
    if split:
        clock.seconds |= asyncio.run(_split(scenario, playbook, settings))
    print(json.dumps({"seconds": clock.seconds, "timeline": len(result.timeline),
                      "begun": begun, "ended": time.time()}), flush=True)
    sys.stderr.flush()
    # Then the interpreter's teardown, as the command ends: Temporal's core is gone by now.


async def _split(scenario: Scenario, playbook: PlaybookSpec, settings: Settings
                 ) -> dict[str, float]:
    import gc

    from temporalio.contrib.pydantic import pydantic_data_converter
    from temporalio.testing import WorkflowEnvironment

    from worker.simulate import quiet_runtime, simulate, test_server_path

    start = time.perf_counter()
    env = await WorkflowEnvironment.start_time_skipping(
        data_converter=pydantic_data_converter, runtime=quiet_runtime(),
        test_server_existing_path=test_server_path())
    started = time.perf_counter()
    async with env:
        await simulate(scenario, playbook, settings, env=env)
        ran = time.perf_counter()
    stopped = time.perf_counter()
    del env
    gc.collect()  # let this server's core go too, as `simulate` does with its own
    return {"server_start": started - start, "run": ran - started,
            "server_stop": stopped - ran}


# --- child processes ---------------------------------------------------------------------

@dataclass
class Child:
    """A finished child process: its wall and CPU time, output, and when it started and
    ended."""

    wall: float
    cpu: float  # user + system, its own and that of the children it waited for
    stdout: str
    stderr: str
    spawned: float  # time.time(), comparable with the child's own clock
    exited: float


@dataclass
class Tree:
    """The code being measured: its folder and how its command line is started."""

    root: Path = ROOT
    nurture: list[str] = field(
        default_factory=lambda: [str(Path(sys.executable).parent / "nurture")])

    @property
    def examples(self) -> Path:
        return self.root / "examples"


TREE = Tree()


def run_child(command: list[str]) -> Child:
    """Run one child process in a session of its own, so that nothing it starts outlives it
    unnoticed. Children run one at a time, so the CPU the bench's children used grows by
    this one's."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        before = _children_cpu()
        spawned, start = time.time(), time.perf_counter()
        process = subprocess.Popen(command, cwd=TREE.root, stdin=subprocess.DEVNULL,
                                   stdout=out, stderr=err, text=True, start_new_session=True)
        try:
            process.wait(TIMEOUT)
            wall, exited = time.perf_counter() - start, time.time()
        finally:
            _end_group(process)
        out.seek(0)
        err.seek(0)
        child = Child(wall, _children_cpu() - before, out.read(), err.read(), spawned, exited)
    if process.returncode != 0:
        raise SystemExit(f"{' '.join(command)} exited with {process.returncode}:\n"
                         f"{child.stderr[-3000:]}")
    return child


def _children_cpu() -> float:
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def _end_group(process: subprocess.Popen[str]) -> None:
    """Kill the child if it still runs, and anything it left behind in its session."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    for _ in range(20):
        try:
            os.killpg(process.pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    print(f"warning: {process.args!r} left processes behind; killing them", file=sys.stderr)
    os.killpg(process.pid, signal.SIGKILL)


def probe_command(example: Path, with_cli: bool = True, split: bool = True,
                  importtime: bool = False) -> list[str]:
    return [sys.executable, *(["-X", "importtime"] if importtime else []), __file__,
            "--probe", str(example), *([] if with_cli else ["--no-cli"]),
            *([] if split else ["--no-split"])]


# --- measuring ---------------------------------------------------------------------------

@dataclass
class Samples:
    """Every repetition's figures for one example, in seconds."""

    command: list[float] = field(default_factory=list)
    bare: list[float] = field(default_factory=list)
    ratio: list[float] = field(default_factory=list)
    command_cpu: list[float] = field(default_factory=list)
    bare_cpu: list[float] = field(default_factory=list)
    cpu_ratio: list[float] = field(default_factory=list)
    floor: list[float] = field(default_factory=list)
    floor_cpu: list[float] = field(default_factory=list)
    code: list[float] = field(default_factory=list)
    code_cpu: list[float] = field(default_factory=list)
    shape: dict[str, int] = field(default_factory=dict)
    phases: dict[str, list[float]] = field(default_factory=dict)


FLOOR = Path(__file__).resolve().parent / "simulate_floor.py"


def shapes(examples: list[Path], folder: Path) -> dict[str, tuple[Path, dict[str, int]]]:
    """Each example's shape for the floor (simulated once with this checkout's code)."""
    found = {}
    for example in examples:
        out = folder / f"{example.stem}.shape.json"
        child = run_child([sys.executable, str(FLOOR), "--shape", str(example), str(out)])
        found[example.stem] = out, json.loads(child.stdout.splitlines()[-1])
    return found


def measure(examples: list[Path], repeat: int,
            floors: dict[str, tuple[Path, dict[str, int]]], server: str
            ) -> dict[str, Samples]:
    samples = {example.stem: Samples(shape=floors[example.stem][1]) for example in examples}
    kinds = ["command", "bare", "floor", "code", "probe"]
    for rep in range(repeat):
        print(f"repetition {rep + 1}/{repeat}", flush=True)
        for example in examples:
            got = samples[example.stem]
            walls: dict[str, float] = {}
            cpus: dict[str, float] = {}
            seconds: dict[str, float] = {}
            for kind in kinds[rep % 5:] + kinds[:rep % 5]:  # each goes first in turn
                if kind in ("command", "bare", "floor", "code"):
                    ran = run_child(
                        [*TREE.nurture, "simulate", str(example)] if kind == "command" else
                        [sys.executable, "-c", BARE_IMPORT] if kind == "bare" else
                        [sys.executable, str(FLOOR), str(floors[example.stem][0]), server,
                         *(["--code"] if kind == "code" else [])])
                    walls[kind], cpus[kind] = ran.wall, ran.cpu
                else:
                    child = run_child(probe_command(example))
                    told = json.loads(child.stdout.splitlines()[-1])
                    seconds = {**told["seconds"], "probe_start": told["begun"] - child.spawned,
                               "probe_exit": child.exited - told["ended"]}
            got.command.append(walls["command"])
            got.bare.append(walls["bare"])
            got.ratio.append(walls["command"] / walls["bare"])
            got.command_cpu.append(cpus["command"])
            got.bare_cpu.append(cpus["bare"])
            got.cpu_ratio.append(cpus["command"] / cpus["bare"])
            got.floor.append(walls["floor"])
            got.floor_cpu.append(cpus["floor"])
            got.code.append(walls["code"])
            got.code_cpu.append(cpus["code"])
            seconds["rest"] = walls["command"] - sum(seconds[name] for name in PHASES)
            for name, value in seconds.items():
                got.phases.setdefault(name, []).append(value)
    return samples


@dataclass
class Import:
    """One line of `-X importtime`: a module, its own and cumulative time, its importer."""

    name: str
    self_us: int
    cumulative_us: int
    depth: int
    phase: str
    parent: Import | None = None

    def ancestors(self) -> list[Import]:
        found, row = [], self.parent
        while row is not None:
            found.append(row)
            row = row.parent
        return found


def parse_importtime(stderr: str) -> list[Import]:
    """The probe's imports, phase by phase; a module is printed after those it imported,
    one level less indented, so a row's importer is the next row less indented."""
    rows: list[Import] = []
    pending: list[Import] = []
    phase: str | None = None
    for line in stderr.splitlines():
        if line.startswith(MARK):
            phase, pending = line[len(MARK):], []
            continue
        fields = line.removeprefix("import time:").split("|")
        if phase is None or len(fields) != 3 or not fields[0].strip().isdigit():
            continue
        name = fields[2][1:]
        row = Import(name.strip(), int(fields[0]), int(fields[1]),
                     (len(name) - len(name.lstrip())) // 2, phase)
        while pending and pending[-1].depth > row.depth:
            pending.pop().parent = row
        pending.append(row)
        rows.append(row)
    return rows


def group_of(module: str, project_depth: int = 1) -> str:
    parts = module.split(".")
    return ".".join(parts[:project_depth if parts[0] in PROJECT else 1])


def chain(row: Import) -> str:
    names = [a.name for a in row.ancestors()]
    if len(names) > 4:
        names = [*names[:2], "…", *names[-2:]]
    return " ← ".join(names) or "(top)"


def by_package(rows: list[Import], project_depth: int = 1) -> list[tuple[str, int, int, str]]:
    """(package, self µs, cumulative µs, who pulls it in) by cumulative time, the largest
    first. A package's cumulative time adds up its imports that no import of its own is
    above, so it counts what it pulls in and nothing twice."""
    groups: dict[str, list[Import]] = {}
    for row in rows:
        groups.setdefault(group_of(row.name, project_depth), []).append(row)
    table = []
    for name, members in groups.items():
        tops = [r for r in members
                if all(group_of(a.name, project_depth) != name for a in r.ancestors())]
        biggest = max(tops, key=lambda r: r.cumulative_us)
        table.append((name, sum(r.self_us for r in members),
                      sum(r.cumulative_us for r in tops), chain(biggest)))
    return sorted(table, key=lambda item: -item[2])


# --- reporting ---------------------------------------------------------------------------

def spread(values: list[float], scale: float = 1.0, digits: int = 2) -> str:
    low, mid, high = min(values) * scale, statistics.median(values) * scale, max(values) * scale
    return f"{mid:.{digits}f} ({low:.{digits}f}–{high:.{digits}f})"


def machine(label: str) -> None:
    load = " ".join(f"{value:.2f}" for value in os.getloadavg())
    print(f"load average {label}: {load}")


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _over(values: list[float], bases: list[float]) -> list[float]:
    return [value / base for value, base in zip(values, bases, strict=True)]


def report_times(samples: dict[str, Samples]) -> None:
    width = max(len(name) for name in samples) + 2
    print(f"\nwall time, seconds: median (min–max) of {len(next(iter(samples.values())).bare)}")
    print(f"{'example':<{width}}{'nurture simulate':>22}{'bare import':>22}{'ratio':>22}")
    for name, got in samples.items():
        print(f"{name:<{width}}{spread(got.command):>22}{spread(got.bare):>22}"
              f"{spread(got.ratio, digits=1):>22}")
    print("\nCPU time (user + system, children included), seconds: median (min–max)")
    for name, got in samples.items():
        print(f"{name:<{width}}{spread(got.command_cpu):>22}{spread(got.bare_cpu):>22}"
              f"{spread(got.cpu_ratio, digits=1):>22}")
    print("\nthe floors: the same Temporal work, no engine code (floor), and with the engine code"
          "\nevery simulation loads imported first (floor + code); ratios to the bare import")
    print(f"{'example':<{width}}{'floor s':>16}{'÷ bare':>16}{'floor + code s':>18}"
          f"{'÷ bare':>16}{'command ÷ it':>16}")
    for label, walls, bare, command in (
            ("wall", "floor code", "bare", "command"),
            ("cpu", "floor_cpu code_cpu", "bare_cpu", "command_cpu")):
        print(f"{label} time, seconds: median (min–max)")
        for name, got in samples.items():
            floor, code = (getattr(got, key) for key in walls.split())
            base, full = getattr(got, bare), getattr(got, command)
            print(f"{name:<{width}}{spread(floor):>16}{spread(_over(floor, base), digits=1):>16}"
                  f"{spread(code):>18}{spread(_over(code, base), digits=1):>16}"
                  f"{spread(_over(full, code), digits=1):>16}")
    for name, got in samples.items():
        print(f"shape of {name}: " + ", ".join(f"{v} {k}" for k, v in got.shape.items()))
    print("\nwhere a simulate process's time goes, ms: median (min–max); phases in a probe")
    names = {**PHASES, "rest": "rest of the command", **SPLIT, **AROUND}
    for name, got in samples.items():
        print(f"{name}")
        for key, label in names.items():
            if key == "server_start":
                print("  warm, second call, with the server apart:")
            if key == "probe_start":
                print("  the probe process itself:")
            print(f"  {label:<26}{spread(got.phases[key], 1000, 0):>22}")


def report_imports(examples: list[Path]) -> None:
    runs = {}
    for example in examples:
        cli = parse_importtime(run_child(probe_command(example, split=False,
                                                       importtime=True)).stderr)
        alone = parse_importtime(run_child(probe_command(example, with_cli=False, split=False,
                                                         importtime=True)).stderr)
        runs[example.stem] = cli, alone
    print("\nimports under -X importtime, ms (single run each; the instrumentation inflates them)")
    print(f"{'example':<26}" + "".join(f"{label:>24}" for label in PHASES.values()))
    for name, (cli, _) in runs.items():
        totals = [sum(r.self_us for r in cli if r.phase == key) / 1000 for key in PHASES]
        print(f"{name:<26}" + "".join(f"{total:>24.0f}" for total in totals))
    first, (cli, alone) = next(iter(runs.items()))
    loading = [r for r in cli if r.phase != "simulate"]
    sets = {frozenset(r.name for r in rows[0] if r.phase != "simulate")
            for rows in runs.values()}
    same = "the same modules for every example" if len(sets) == 1 else "differ by example"
    total = sum(r.self_us for r in loading) / 1000
    print(f"\nbefore simulate() ({first}; {same}): {len(loading)} modules, {total:.0f} ms")
    print(f"{'package':<18}{'self':>8}{'cumul.':>8}  pulled in by (its largest import)")
    for package, own, cumulative, by in by_package(loading)[:12]:
        print(f"{package:<18}{own / 1000:>8.0f}{cumulative / 1000:>8.0f}  {by}")
    during = [r for r in cli if r.phase == "simulate"]
    top = ", ".join(f"{p} {c / 1000:.0f}" for p, _, c, _ in by_package(during)[:4])
    print(f"during simulate(): {len(during)} modules, "
          f"{sum(r.self_us for r in during) / 1000:.0f} ms ({top})")
    needed = {r.name for r in alone}
    extra = [r for r in cli if r.name not in needed]
    print(f"\nimported only because of worker.cli ({first}): not imported by worker.simulate, "
          f"the playbook\nor simulate() itself: {len(extra)} modules, "
          f"{sum(r.self_us for r in extra) / 1000:.0f} ms of their own")
    print(f"{'package':<26}{'self':>8}  pulled in by")
    for package, own, _, by in sorted(by_package(extra, 2), key=lambda item: -item[1])[:10]:
        print(f"{package:<26}{own / 1000:>8.0f}  {by}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="repetitions of each process")
    parser.add_argument("--examples", help="comma-separated names from examples/ "
                                           "(default: all)")
    parser.add_argument("--checkout", type=Path, help="measure the code in this folder "
                                                      "(default: this checkout)")
    parser.add_argument("--no-compile", action="store_true",
                        help="do not compile the project's bytecode first")
    parser.add_argument("--probe", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--no-cli", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--no-split", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.probe:
        probe(args.probe, with_cli=not args.no_cli, split=not args.no_split)
        return
    if args.checkout:
        TREE.root = args.checkout.resolve()
        TREE.nurture = [sys.executable, "-m", "worker.cli"]
        # Children (this script's probe included) import the checkout's code first.
        os.environ["PYTHONPATH"] = str(TREE.root)
    shipped = {path.stem: path for path in sorted(TREE.examples.glob("*.json"))}
    wanted = [name.removesuffix(".json") for name in (args.examples or "").split(",") if name]
    unknown = set(wanted) - set(shipped)
    if unknown:
        parser.error(f"no example {', '.join(sorted(unknown))}; there are "
                     f"{', '.join(shipped)}")
    examples = [shipped[name] for name in wanted] or list(shipped.values())
    print(f"cpu: {cpu_model()} ({os.cpu_count()} logical)")
    print(f"python {platform.python_version()} ({sys.executable}), "
          f"temporalio {version('temporalio')}")
    print(f"code: {TREE.root}, command: {' '.join(Path(a).name for a in TREE.nurture)} "
          "simulate")
    if not args.no_compile:
        subprocess.run([sys.executable, "-m", "compileall", "-q", *PACKAGES], cwd=TREE.root,
                       check=True, stdout=subprocess.DEVNULL)
        print(f"bytecode compiled for {', '.join(PACKAGES)} (as installing them would)")
    sys.path.insert(0, str(ROOT))
    from worker.simulate import test_server_path

    folder = Path(tempfile.mkdtemp(prefix="bench-simulate-"))
    floors = shapes(examples, folder)
    machine("before")
    started = time.perf_counter()
    samples = measure(examples, args.repeat, floors, test_server_path())
    report_times(samples)
    report_imports(examples)
    machine("after")
    print(f"bench took {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
