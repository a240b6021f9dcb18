"""What a chaos run must show, one property at a time: each check says what went wrong,
or None. The short form asserts them one test each; the scale-out form and the bench
report all those its scenarios make meaningful (no recovery bound without a restart)."""

from __future__ import annotations

from collections.abc import Callable

from tests.chaos.faults import LOCK_SLACK, RESTARTS, SCENARIOS
from tests.chaos.harness import ChaosRun
from tests.chaos.report import RECOVERY_BOUND


def _first(items: list[str], most: int = 5) -> str:
    return ", ".join(items[:most]) + (f", … ({len(items)} in all)" if len(items) > most
                                      else "")


def calls_kept(run: ChaosRun) -> str | None:
    """Every acknowledged call was persisted and reached its lead's workflow."""
    t = run.tally
    problems = []
    if t.lost:
        problems.append(f"{len(t.lost)} acknowledged calls lost: {_first(t.lost)}")
    if t.not_applied:
        problems.append(f"{len(t.not_applied)} acknowledged calls never applied: "
                        f"{_first(t.not_applied)}")
    if t.refused:
        problems.append(f"{len(t.refused)} calls refused: {_first(t.refused)}")
    return "; ".join(problems) or None


def emails_once(run: ChaosRun) -> str | None:
    """No email went out twice, by Message-ID or by (lead, template)."""
    t = run.tally
    if t.duplicate_message_ids or t.duplicate_lead_templates:
        return (f"{t.duplicate_message_ids} duplicate deliveries by Message-ID, "
                f"{t.duplicate_lead_templates} by (lead, template): {_first(t.duplicates)}")
    return None


def tasks_once(run: ChaosRun) -> str | None:
    """No lead was handed to sales twice."""
    t = run.tally
    return f"{t.duplicate_tasks} duplicate sales tasks" if t.duplicate_tasks else None


def nothing_stuck(run: ChaosRun) -> str | None:
    """Every lead settled where its calls lead, no workflow keeps failing, and no process
    died on its own."""
    t = run.tally
    problems = [f"{lead}: {why}" for lead, why in t.stuck.items()]
    if not run.drained:
        problems.insert(0, f"the run did not settle within {run.options.drain:g} s")
    if t.missing_emails:
        problems.append(f"owed, never sent: {_first(t.missing_emails)}")
    if run.exited:
        problems.insert(0, f"exited on their own: {', '.join(run.exited)}")
    return _first(problems, 8) if problems else None


def unknown_per_kill(run: ChaosRun) -> str | None:
    """At most one email ends "outcome unknown" per worker kill."""
    kills = sum(1 for fault in run.faults if fault.scenario == "worker-kill")
    unknown = run.tally.outcome_unknown
    return (f"{unknown} emails ended outcome unknown after {kills} worker kill(s) "
            f"({run.tally.unknown_but_delivered} of them were delivered)"
            if unknown > kills else None)


def quick_recovery(run: ChaosRun) -> str | None:
    """Every restarted process had its backlog drained within the bound."""
    slow = [f"{f.scenario} {f.target}: " + (f"{f.to_recovery:.1f} s" if f.to_recovery
                                            is not None else "never")
            for f in run.faults if f.restart and (f.to_recovery is None
                                                   or f.to_recovery >= RECOVERY_BOUND)]
    return (f"recovery took {RECOVERY_BOUND:g} s or more after {len(slow)} restart(s): "
            + ", ".join(slow)) if slow else None


def bounded_waits(run: ChaosRun) -> str | None:
    """While the write lock was held, the API answered within its database wait (and a
    slack), with 503 and Retry-After once the wait ran out."""
    wait = run.options.layout.api_database_wait
    problems = []
    for fault in run.faults:
        if fault.scenario != "db-lock" or fault.answers is None:
            continue
        answers, held = fault.answers, fault.up - fault.began
        if answers.slowest > wait + LOCK_SLACK:
            problems.append(f"a request sent while the lock was held took "
                            f"{answers.slowest:.1f} s to be answered (database wait {wait:g} "
                            "s)")
        if held > wait + 1 and answers.log and not answers.retry_after:
            problems.append(f"no 503 with Retry-After during a {held:.1f} s lock "
                            f"({', '.join(f'{s} ×{n}' for s, n in answers.statuses.items())})")
    return "; ".join(problems) or None


CHECKS: dict[str, Callable[[ChaosRun], str | None]] = {
    "no acknowledged call lost": calls_kept,
    "no duplicate email": emails_once,
    "no duplicate sales task": tasks_once,
    "no stuck workflow": nothing_stuck,
    "at most one outcome-unknown email per worker kill": unknown_per_kill,
    f"recovery under {RECOVERY_BOUND:g} s after each restart": quick_recovery,
    "503 with Retry-After after a bounded wait while the write lock is held": bounded_waits,
}


NEEDS: dict[Callable[[ChaosRun], str | None], tuple[str, ...]] = {
    quick_recovery: RESTARTS,
    bounded_waits: ("db-lock",),
}
"""Checks that say something only when the run injected one of these scenarios."""


def verdicts(run: ChaosRun) -> dict[str, str | None]:
    """The finding of every check the run's scenarios make meaningful (None: it holds)."""
    chosen = set(run.options.scenarios)
    return {name: check(run) for name, check in CHECKS.items()
            if chosen & set(NEEDS.get(check, SCENARIOS))}
