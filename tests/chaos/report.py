"""A chaos run in words and tables (Markdown, as bench/RESULTS.md keeps it)."""

from __future__ import annotations

from collections.abc import Iterable

from tests.chaos.harness import ChaosRun

RECOVERY_BOUND = 10.0
"""Seconds a restart may take, from the process back up to the backlog drained."""


def _seconds(value: float | None) -> str:
    return "never" if value is None else f"{value:.1f} s"


def _first(items: Iterable[str], most: int = 5) -> str:
    items = list(items)
    shown = ", ".join(items[:most])
    return shown + (f", … ({len(items)} in all)" if len(items) > most else "")


def report(run: ChaosRun) -> str:
    """Every figure of the run, with the layout and the scenarios that made them."""
    o, t, layout = run.options, run.tally, run.options.layout
    answers = run.producer.answers
    database = "PostgreSQL" if layout.postgres else "SQLite"
    lines = [
        f"{layout.workers} worker(s), {layout.apis} API(s), {database}; scenarios "
        f"{', '.join(o.scenarios)}; {len({c.lead for c in run.producer.sent})} leads at "
        f"{o.rate:g}/s, load {run.load_seconds:.0f} s, drain "
        f"{run.drain_seconds:.0f} s ({'settled' if run.drained else 'NOT settled'}).",
        "",
        "| calls sent | acknowledged | persisted | applied | lost | not applied | "
        "refused (4xx) | never acknowledged |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
        f"| {t.sent} | {t.acknowledged} | {t.persisted} | {t.applied} | {len(t.lost)} | "
        f"{len(t.not_applied)} | {len(t.refused)} | {t.unacknowledged} |",
        "",
        "API answers: " + ", ".join(f"{status} ×{n}" for status, n in
                                    sorted(answers.statuses.items())) +
        f"; {answers.retry_after} said Retry-After; slowest answer {answers.slowest:.1f} s, "
        f"slowest 503 {answers.slow_refusals:.1f} s.",
        "",
        "| emails delivered | unique Message-IDs | duplicates by Message-ID | unique "
        "(lead, template) | duplicates by (lead, template) | outcome unknown: worker "
        "stopped (of which delivered) | outcome unknown: SMTP connection dropped (of which "
        "delivered) | owed, never sent |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
        f"| {t.delivered} | {t.unique_message_ids} | {t.duplicate_message_ids} | "
        f"{t.unique_lead_templates} | {t.duplicate_lead_templates} | {t.outcome_unknown} "
        f"({t.unknown_but_delivered}) | {t.connection_lost} ({t.lost_but_delivered}) | "
        f"{len(t.missing_emails)} |",
        "",
        "SMTP refusals: " + (", ".join(f"{code} ×{n}" for code, n in
                                       sorted(run.smtp_refused.items())) or "none") + ".",
        f"Sales tasks: {t.escalations} escalations, {t.duplicate_tasks} duplicates. "
        "Leads ended: " + ", ".join(f"{phase} {n}" for phase, n in sorted(t.phases.items()))
        + f". Stuck: {len(t.stuck)}.",
        "",
        "| fault | target | detail | to first flow | to recovery | within "
        f"{RECOVERY_BOUND:g} s |",
        "|---|---|---|---:|---:|---|",
    ]
    for fault in run.faults:
        bound = ("yes" if fault.to_recovery is not None and fault.to_recovery < RECOVERY_BOUND
                 else "NO") if fault.restart else "(window)"
        lines.append(f"| {fault.scenario} | {fault.target} | {fault.detail or '-'} | "
                     f"{_seconds(fault.to_first_flow)} | {_seconds(fault.to_recovery)} | "
                     f"{bound} |")
    notes = []
    if run.overlapped:
        notes.append(f"{run.overlapped} fault(s) were injected before the one before had "
                     f"recovered (after {o.settle:g} s): their recoveries overlap")
    if t.lost:
        notes.append(f"lost: {_first(t.lost)}")
    if t.not_applied:
        notes.append(f"not applied: {_first(t.not_applied)}")
    if t.refused:
        notes.append(f"refused: {_first(t.refused)}")
    if t.duplicates:
        notes.append(f"doubled: {_first(t.duplicates)}")
    if t.missing_emails:
        notes.append(f"owed, never sent: {_first(t.missing_emails)}")
    if not run.drained and run.unsettled:
        notes.append("not settled when the drain gave up: " + _first(
            f"{lead} ({why})" for lead, why in run.unsettled.items()))
    if t.stuck:
        notes.append("stuck: " + _first(f"{lead} ({why})" for lead, why in t.stuck.items()))
    for fault in run.faults:
        if fault.behind:
            notes.append(f"{fault.scenario} {fault.target} never recovered; behind: "
                         + _first(f"{lead} ({why})" for lead, why in fault.behind.items()))
    if run.exited:
        notes.append(f"exited on their own: {', '.join(run.exited)}")
    if notes:
        lines += ["", *(f"- {note}" for note in notes)]
    return "\n".join(lines)
