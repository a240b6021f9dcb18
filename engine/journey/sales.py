"""The lead's side of the sales handoff: the SLA clock and what sales' answer means.

An open task is `due` until its SLA deadline, then `breached` (the owner is re-notified and,
with routing rules, the task is re-routed at `reroute_at`), and `closing` once an answer
arrived; with no answer in the follow-up window the system recycles it ('no response').
Everything here takes the state and `now`; the workflow calls the activities.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal

from engine.business_hours import BusinessHours
from engine.dsl.sales import NextStep
from engine.feedback import Feedback, FeedbackResult, RejectReason
from engine.handoff import HandoffPackage, build_handoff
from engine.journey.journal import note, note_scores
from engine.journey.reactions import rescore
from engine.journey.state import LeadState, OpenEscalation
from engine.leads import Phase
from engine.phrasing import count
from engine.scoring import readiness
from engine.sla import owner_hours, reroute_at

STATUS = {"accept": "accepted", "reject": "rejected", "recycle": "recycled"}
Due = Literal["no_response", "breach", "reroute"]


def handoff(state: LeadState, tier: int, reason: str, now: datetime) -> HandoffPackage:
    """The package a new task carries, with the path the lead takes if sales never answers."""
    sales = state.playbook.sales
    package = build_handoff(state.lead, state.events, state.scores, tier=tier, reason=reason,
                            now=now)
    no_answer = sales.after_reject(RejectReason.NO_RESPONSE)
    return package.model_copy(update={"recycle_path": (
        f"no outcome within {count(sales.tiers.follow_up_days, 'business day')}: recycled with "
        f"reason 'no response', then {no_answer.describe() if no_answer else 'nurture'}")})


def tier_for(state: LeadState, hint: int | None) -> int:
    """The tier a handoff gets: the more urgent of the asked-for and the earned one; a
    student, competitor or job seeker is qualified further, never rushed."""
    earned = readiness(state.scores, state.playbook.scoring)
    tier = min((t for t in (hint, earned) if t), default=3)
    return 3 if state.scores.flags else tier


def current_package(state: LeadState, now: datetime) -> HandoffPackage:
    """The open task's package as the lead looks now (for a notice to its owner)."""
    escalation = state.escalation
    assert escalation is not None
    return build_handoff(state.lead, state.events, state.scores, tier=escalation.tier,
                         reason=escalation.reason, now=now)


def refusal(state: LeadState, answer: Feedback, today: date, *, answered: bool) -> str | None:
    """Why an answer cannot be taken (None when it can); `answered` is True while an
    earlier answer is being carried out."""
    escalation, outcome = state.escalation, state.sales_outcome
    if escalation is None or escalation.task_id != answer.task_id:
        if outcome is not None and outcome.task_id == answer.task_id:
            return (f"task {answer.task_id} was already {outcome.status} at "
                    f"{outcome.at.isoformat(timespec='minutes')}; nothing changed")
        return f"task {answer.task_id} is not open for this lead"
    if escalation.stage == "closing" or answered:
        return f"task {answer.task_id} already has an outcome"
    if answer.action == "reject" and answer.reason is None:
        allowed = ", ".join(r.value for r in RejectReason)
        return f"a reject needs a reason: one of {allowed}"
    plan = plan_for(state, answer)
    if plan is not None and plan.needs_date and answer.until is None:
        return (f"{answer.reason.label if answer.reason else 'recycle'} needs the date to "
                "reactivate the lead on (until)")
    if answer.until is not None and answer.until <= today:
        return f"until ({answer.until}) must be a future date"
    return None


def plan_for(state: LeadState, answer: Feedback) -> NextStep | None:
    """The playbook's next step for an answer; None for accept (the lead is an SQL)."""
    playbook = state.playbook
    if answer.action == "accept":
        return None
    if answer.action == "recycle":
        return playbook.sales.on_recycle or NextStep(action="reactivate",
                                                     track=playbook.default_track)
    assert answer.reason is not None
    return playbook.sales.after_reject(answer.reason) or NextStep(
        action="move", track=playbook.default_track)


def result_of(state: LeadState, answer: Feedback, plan: NextStep | None, status: str,
              now: datetime) -> FeedbackResult:
    """What the answer does, as the rep is told (the task closes before they hear it)."""
    to_sql = (now - state.enrolled_at).total_seconds() if answer.action == "accept" else None
    next_step = "sales qualified lead: marketing nurture ends" if plan is None \
        else plan.describe()
    return FeedbackResult(task_id=answer.task_id, status=status, next_step=next_step,
                          phase=_phase_after(state, plan, answer.until), at=now,
                          time_to_sql_seconds=to_sql)


def _phase_after(state: LeadState, plan: NextStep | None, until: date | None) -> str:
    if plan is None:
        return Phase.SQL
    if plan.action == "suppress":
        return Phase.SUPPRESSED
    if plan.action == "reactivate" and until is not None:
        return Phase.RECYCLED
    return state.playbook.track(plan.track or state.playbook.default_track).phase


def no_response(state: LeadState) -> Feedback:
    """The system's answer when the follow-up window closes with no outcome."""
    escalation = state.escalation
    assert escalation is not None
    days = state.playbook.sales.tiers.follow_up_days
    return Feedback(task_id=escalation.task_id, action="reject",
                    reason=RejectReason.NO_RESPONSE, by="system",
                    note=f"no outcome within {count(days, 'business day')}")


def wake_at(escalation: OpenEscalation) -> datetime | None:
    """The next moment the SLA clock needs the lead: its deadline, the re-route, or the end
    of the follow-up window, whichever comes first."""
    clock = escalation.due_at if escalation.stage == "due" else escalation.reroute_at
    return min((t for t in (clock, escalation.follow_up_until) if t is not None), default=None)


def due(escalation: OpenEscalation, now: datetime) -> Due | None:
    """What the SLA clock calls for at `now`."""
    if escalation.follow_up_until is not None and now >= escalation.follow_up_until:
        return "no_response"
    if escalation.stage == "due":
        return "breach"
    if escalation.reroute_at is not None and now >= escalation.reroute_at:
        return "reroute"
    return None


def hours_of(state: LeadState) -> BusinessHours:
    """Business hours in the owner's time zone (the team's, without an owner)."""
    escalation = state.escalation
    assert escalation is not None
    zone = escalation.owner.timezone if escalation.owner else None
    return owner_hours(state.playbook.sales.hours, zone)


def breach(state: LeadState, now: datetime) -> str:
    """Mark the SLA breached and schedule a re-route if the rules allow one; the detail
    says what happened, for the journal and the task's timeline."""
    escalation, sales = state.escalation, state.playbook.sales
    assert escalation is not None
    escalation.stage = "breached"
    can_move = sales.routing is not None and escalation.reroutes < sales.max_reroutes
    escalation.reroute_at = reroute_at(escalation.tier, now, hours_of(state),
                                       sales.tiers) if can_move else None
    who = escalation.owner.name if escalation.owner else "sales"
    then = (f"; re-routed at {escalation.reroute_at.isoformat(timespec='minutes')} "
            "if still untouched") if escalation.reroute_at else ""
    detail = (f"no outcome by {escalation.due_at.isoformat(timespec='minutes')}; "
              f"{who} re-notified{then}")
    note(state, now, "sla_breached", task=escalation.task_id, detail=detail)
    return detail


@dataclass(frozen=True)
class Outcome:
    """Where sales' answer sends the lead: `sql`, `suppress`, `rest` or `move` (to `track`)."""

    kind: Literal["sql", "suppress", "rest", "move"]
    reason: str
    track: str | None = None


def follow(state: LeadState, answer: Feedback, plan: NextStep | None,
           result: FeedbackResult, now: datetime) -> Outcome:
    """Close the lead's side of the task and say where it goes; a handed-back lead counts
    only the interest it shows from now on toward its next handoff."""
    task = state.escalation.task_id if state.escalation else answer.task_id
    note(state, now, "sales_outcome", task=task, status=result.status,
         reason=answer.reason.value if answer.reason else None, note=answer.note,
         by=answer.by, next_step=result.next_step,
         until=answer.until.isoformat() if answer.until else None)
    state.escalation = None
    label = answer.reason.label if answer.reason else result.status
    if plan is not None and plan.action != "suppress":
        state.intent_since = result.at
        before = state.scores
        state.scores = rescore(state, result.at)
        note_scores(state, before, now)
    if plan is None:
        state.sql_at = result.at
        return Outcome("sql", f"accepted by {answer.by or 'sales'}")
    if plan.action == "suppress":
        return Outcome("suppress", f"rejected by sales: {label}")
    if plan.action == "reactivate" and answer.until is not None:
        return Outcome("rest", f"{label}: rest until {answer.until.isoformat()}", plan.track)
    return Outcome("move", f"sales: {label}", plan.track or state.playbook.default_track)
