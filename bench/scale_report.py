"""The scale bench's report: a Markdown section with the steps side by side, the figures
against issue 10's acceptance, and where the CPU went per lead."""

from __future__ import annotations

from statistics import quantiles
from typing import TYPE_CHECKING

from engine.settings import Settings

if TYPE_CHECKING:  # annotations only: scale.py itself runs as __main__
    from scale import Run, Step

RATIO_TARGET = 0.5        # enrolment ÷ raw no-op starts, same run
FIRST_WAIT_LIMIT = 60.0   # seconds a lead's first workflow task may wait
WORKER_RSS_LIMIT = 1024.0  # MiB, at 100,000 leads

TUNING = ("worker_", "relay_")


def settings_line() -> str:
    """The worker tuning and relay pacing settings in force (the environment's)."""
    settings = Settings()
    chosen = {name: getattr(settings, name) for name in type(settings).model_fields
              if name.startswith(TUNING)}
    return ", ".join(f"{name}={value}" for name, value in chosen.items()) or "(none)"


def _cuts(values: list[float]) -> tuple[float, float, float]:
    if len(values) < 2:
        return (values[0],) * 3 if values else (0.0, 0.0, 0.0)
    cut = quantiles(values, n=100, method="inclusive")
    return cut[49], cut[98], max(values)


def _row(step: Step) -> str:
    raw = f"{step.raw.rate:,.1f}" if step.raw else "—"
    rate = f"{step.rate:,.1f}" if step.rate else "—"
    ratio = f"{step.rate / step.raw.rate:.2f}×" if step.rate and step.raw else "—"
    first = _cuts([w.first_wait for w in step.waits])
    worst = max((w.worst_wait for w in step.waits), default=0.0)
    m, s = step.memory, step.sizes
    return (f"| {step.count:,} ({step.rounds}) | {raw} | {rate} | {ratio} | "
            f"{first[0]:.1f} / {first[1]:.1f} / {first[2]:.1f} | {worst:.1f} | "
            f"{step.backlog_count:,} / {step.backlog_age:.0f} | "
            f"{m.get('worker', 0):,.0f} / {m.get('worker peak', 0):,.0f} | "
            f"{m.get('temporal', 0):,.0f} / {m.get('temporal peak', 0):,.0f} | "
            f"{s.get('temporal', 0):,.0f} | {s.get('app', 0):,.1f} |")


def verdicts(run: Run) -> list[str]:
    """The acceptance figures, each met or MISSED."""
    def mark(ok: bool) -> str:
        return "met" if ok else "MISSED"

    lines = []
    for step in run.steps:
        if step.rate and step.raw:
            ratio = step.rate / step.raw.rate
            lines.append(f"- {step.count:,} leads: enrolment {ratio:.2f}× raw no-op starts "
                         f"(target ≥ {RATIO_TARGET:.2f}×): **{mark(ratio >= RATIO_TARGET)}**")
        worst = max((w.first_wait for w in step.waits), default=None)
        if worst is not None:
            lines.append(f"- {step.count:,} leads: longest first workflow task wait "
                         f"{worst:.1f} s of {len(step.waits):,} read (target ≤ "
                         f"{FIRST_WAIT_LIMIT:.0f} s): **{mark(worst <= FIRST_WAIT_LIMIT)}**")
        if step.count >= 100_000:
            peak = step.memory.get("worker peak", 0.0)
            lines.append(f"- {step.count:,} leads: worker peak RSS {peak:,.0f} MiB (target ≤ "
                         f"{WORKER_RSS_LIMIT:,.0f} MiB): **{mark(peak <= WORKER_RSS_LIMIT)}**")
        if step.verdict:
            lines.append(f"- {step.count:,} leads: **DID NOT FINISH**: {step.verdict}")
    return lines


def report(run: Run) -> str:
    """The run as a Markdown section for bench/RESULTS.md."""
    lines = [f"### Run finished {run.finished}", "",
             f"`{run.command}` at commit {run.commit}", "",
             f"Machine: {run.machine}. Settings: {run.settings}.", "",
             "| new leads (rounds) | raw no-op starts/s | enrolled leads/s | ratio | first task "
             "wait p50 / p99 / max s | longest task wait s | peak backlog tasks / oldest s | "
             "worker RSS MiB now / peak | server RSS MiB now / peak | Temporal DB MiB | "
             "app DB MiB |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    lines += [_row(step) for step in run.steps]
    lines += ["", *verdicts(run), ""]
    for step in run.steps:
        timeouts = sum(w.task_timeouts for w in step.waits)
        failures = sum(w.task_failures for w in step.waits)
        detail = [f"- {step.count:,} leads: enrolled {step.enrolled:,}"]
        if step.seconds:
            detail.append(f"in {step.seconds:,.1f} s (identify calls accepted in "
                          f"{step.accepted_in:.1f} s)")
        if step.cpu is not None and step.enrolled:
            detail.append(f"; cpu per lead: {step.cpu.per(step.enrolled)} "
                          f"(other {step.cpu.other / step.enrolled * 1000:,.1f} ms)")
        if step.raw is not None:
            detail.append(f"; cpu per raw start: {step.raw.cpu.per(step.raw.count)}")
        detail.append(f"; enrolment tasks timed out {timeouts:,}, failed {failures:,}"
                      + (f"; {step.unread:,} histories unread" if step.unread else ""))
        lines.append(" ".join(detail))
    if run.events is not None:
        ev = run.events
        applied = ev.count - ev.pending - ev.missing
        text = (f"- one event to each of {ev.count:,} leads: {applied:,} applied"
                + (f" in {ev.seconds:,.1f} s ({applied / ev.seconds:,.1f} events/s)"
                   if ev.seconds else "")
                + f"; calls accepted in {ev.accepted_in:.1f} s")
        if ev.cpu is not None and applied:
            text += f"; cpu per event (with the history reads): {ev.cpu.per(applied)}"
        text += (f"; afterwards worker RSS {ev.memory.get('worker', 0):,.0f} MiB (peak "
                 f"{ev.memory.get('worker peak', 0):,.0f}), server "
                 f"{ev.memory.get('temporal', 0):,.0f} MiB; Temporal DB "
                 f"{ev.sizes.get('temporal', 0):,.0f} MiB, app DB {ev.sizes.get('app', 0):,.1f}"
                 " MiB")
        if ev.pending or ev.missing:
            text += f"; {ev.pending:,} not applied, {ev.missing:,} without the signal"
        if ev.verdict:
            text += f"; **DID NOT FINISH**: {ev.verdict}"
        lines.append(text)
    lines.append("- load average (1/5/15 min) before "
                 + " ".join(f"{n:.2f}" for n in run.load_before) + ", after "
                 + " ".join(f"{n:.2f}" for n in run.load_after))
    return "\n".join(lines) + "\n"
