"""The ingest bench's results: the figures against their targets, the details of each
phase, and the machine they were measured on."""

from __future__ import annotations

import argparse
import os
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from ingest_stack import ACCEPT_TARGET, P50_TARGET, P99_TARGET, RATIO_TARGET, commit

from worker.temporal_server import temporal_path

if TYPE_CHECKING:  # annotations only: ingest.py itself runs as __main__
    from ingest import Run




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
