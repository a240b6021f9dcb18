"""The sales inbox bench's results: per endpoint, the API's latency beside the store's, the
machine they were measured on, and where RESULTS.md keeps them."""

from __future__ import annotations

import os
import sqlite3
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from statistics import quantiles
from typing import TYPE_CHECKING

from ingest_stack import _machine_busy, _process_cpu, commit

if TYPE_CHECKING:  # annotations only: inbox.py itself runs as __main__
    from inbox import Run

SECTION = "## Sales inbox API (`bench/inbox.py`)"


def percentiles(values: list[float]) -> tuple[float, float, float, float]:
    """p50, p95, p99 and max."""
    cuts = quantiles(values, n=100, method="inclusive") if len(values) > 1 else values * 99
    return cuts[49], cuts[94], cuts[98], max(values)


_ms = percentiles


def _postgres_pids() -> list[int]:
    """The PostgreSQL server's processes on this machine (its backends included)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == "postgres":
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


class Meter:
    """CPU seconds our processes, PostgreSQL's (when asked) and everything else used."""

    def __init__(self, pids: dict[str, int], *, postgres: bool) -> None:
        self.pids = pids
        self.start = {name: _process_cpu(pid) for name, pid in pids.items()}
        self.postgres = ({pid: _process_cpu(pid) for pid in _postgres_pids()} if postgres
                         else None)
        self.busy, self.wall = _machine_busy(), time.perf_counter()

    def read(self) -> str:
        """`api 3.1, bench 2.0, postgres 1.2, other 0.4 cpu-s in 9.0 s` since the start."""
        used = {name: _process_cpu(pid) - self.start[name] for name, pid in self.pids.items()}
        if self.postgres is not None:
            used["postgres"] = sum(_process_cpu(pid) - self.postgres.get(pid, 0.0)
                                   for pid in _postgres_pids())
        other = max(0.0, _machine_busy() - self.busy - sum(used.values()))
        wall = time.perf_counter() - self.wall
        parts = ", ".join(f"{name} {cpu:.1f}" for name, cpu in used.items())
        return f"{parts}, other {other:.1f} cpu-s in {wall:.1f} s"


def rows(run: Run) -> list[list[str]]:
    """The results table, one line per endpoint."""
    lines = []
    for t in run.endpoints:
        api, store = _ms(t.api), _ms(t.store)
        query = f"{_ms(t.query)[0]:.1f} / {_ms(t.query)[2]:.1f}" if t.query else "—"
        lines.append([
            t.name, *(f"{value:.1f}" for value in api),
            f"{store[0]:.1f} / {store[2]:.1f}", query, f"{api[0] / store[0]:.1f}×",
            f"{t.server_cpu * 1000 / len(t.api):.1f}", f"{t.body_bytes / len(t.api) / 1024:.1f}",
        ])
    return lines


HEADER = ["endpoint", "API p50", "p95", "p99", "max", "store calls p50 / p99",
          "list_sales_tasks p50 / p99", "API ÷ store (p50)", "server cpu ms/req", "KiB/answer"]


def machine(database: str) -> str:
    """The machine and software versions the figures belong to."""
    model = next((line.split(":", 1)[1].strip() for line in
                  Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), "unknown")
    memory = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                  if line.startswith("MemTotal"))
    return "; ".join([f"nproc {len(os.sched_getaffinity(0))}", f"CPU {model}",
                      f"RAM {memory / 1024 ** 2:.1f} GiB", f"Python {sys.version.split()[0]}",
                      f"SQLite {sqlite3.sqlite_version}" if database.startswith("SQLite")
                      else database])


def report(run: Run, command: str, target: float) -> str:
    """Print the table; return the same as a Markdown section for RESULTS.md."""
    table = rows(run)
    widths = [max(len(row[i]) for row in [HEADER, *table]) for i in range(len(HEADER))]
    print()
    for row in [HEADER, *table]:
        print("  ".join(cell.rjust(width) for cell, width in zip(row, widths, strict=True)))
    rep = next(t for t in run.endpoints if t.name == "rep")
    p99 = _ms(rep.api)[2]
    verdict = (f"`GET /sales/tasks` (rep) p99 {p99:.1f} ms against a target of < "
               f"{target:.0f} ms: **{'met' if p99 < target else 'MISSED'}**")
    notes = [f"seed: {run.seeding}",
             *(f"{t.name}: {len(t.api):,} requests; {t.note}" for t in run.endpoints if t.note),
             "slowest request: " + ", ".join(
                 f"{t.name} #{t.api.index(max(t.api)) + 1}" for t in run.endpoints),
             "this process's garbage collections while a timed request was out: " + ", ".join(
                 f"{t.name} {len(t.client_gc)}" + (f" (longest {max(t.client_gc):.1f} ms)"
                                                   if t.client_gc else "")
                 for t in run.endpoints),
             *(f"cpu, {line}" for line in run.cpu),
             "load average (1/5/15 min) before " + " ".join(f"{v:.2f}" for v in run.load_before)
             + ", after " + " ".join(f"{v:.2f}" for v in run.load_after)]
    print(f"\n{verdict}")
    for line in notes:
        print(f"- {line}")
    now = commit()
    code = run.commit if now == run.commit else f"{run.commit} (HEAD moved to {now} during the run)"
    text = [f"#### {run.database}, run finished {datetime.now(UTC):%Y-%m-%d %H:%M} UTC", "",
            f"`{command}` at commit {code}", "",
            f"Machine: {machine(run.database)}", "",
            "| " + " | ".join(HEADER) + " |", "|---" + "|---:" * (len(HEADER) - 1) + "|",
            *("| " + " | ".join(row) + " |" for row in table), "",
            verdict + ".", "", *(f"- {line}" for line in notes), "", ""]
    return "\n".join(text)


def record(section: str) -> Path:
    """Put the section at the end of this bench's part of RESULTS.md (made if missing)."""
    path = Path(__file__).resolve().parent / "RESULTS.md"
    text = path.read_text() if path.exists() else "# Benchmark results\n\n"
    if SECTION not in text:
        runs = text.find("\n## Runs\n")
        head = f"{SECTION}\n\n### Runs\n\n"
        text = (text + "\n" + head if runs < 0 else
                text[:runs + 1] + head + text[runs + 1:])
    start = text.index(SECTION) + len(SECTION)
    end = text.find("\n## ", start)
    end = len(text) if end < 0 else end + 1
    text = text[:end].rstrip("\n") + "\n\n" + section.rstrip("\n") + "\n\n" + text[end:]
    path.write_text(text.rstrip("\n") + "\n")
    return path
