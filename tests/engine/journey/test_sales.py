"""The SLA state machine and what sales' answer means, without a workflow."""

from __future__ import annotations

from datetime import date, timedelta

from engine.feedback import Feedback, RejectReason
from engine.journey import sales
from engine.journey.state import LeadState, OpenEscalation, TaskOwner
from tests.engine.journey.conftest import NOW, make_state

OWNER = TaskOwner(rep_id="jordan", name="Jordan", email="jordan@northwind.example",
                  timezone="America/New_York")


def with_task(**escalation: object) -> LeadState:
    state = make_state(phase="sales", track=None)
    state.escalation = OpenEscalation(**({
        "task_id": "t1", "tier": 1, "reason": "r", "opener": "o", "at": NOW,
        "due_at": NOW + timedelta(minutes=30), "owner": OWNER,
        "follow_up_until": NOW + timedelta(days=14)} | escalation))
    return state


def test_the_clock_wakes_at_the_deadline_then_breaches_then_reroutes() -> None:
    state = with_task()
    escalation = state.escalation
    assert escalation is not None
    assert sales.wake_at(escalation) == NOW + timedelta(minutes=30)
    breach_at = NOW + timedelta(minutes=31)
    assert sales.due(escalation, breach_at) == "breach"
    detail = sales.breach(state, breach_at)
    assert escalation.stage == "breached" and escalation.reroute_at is not None
    assert "Jordan re-notified" in detail and "re-routed at" in detail
    assert state.journal[-1].kind == "sla_breached"
    assert sales.wake_at(escalation) == escalation.reroute_at
    assert sales.due(escalation, escalation.reroute_at) == "reroute"


def test_the_follow_up_window_closing_beats_everything() -> None:
    state = with_task()
    assert state.escalation is not None
    assert sales.due(state.escalation, NOW + timedelta(days=14)) == "no_response"
    answer = sales.no_response(state)
    assert (answer.by, answer.reason) == ("system", RejectReason.NO_RESPONSE)


def test_answers_that_cannot_be_taken_say_why() -> None:
    state = with_task()
    today = NOW.date()

    def refused(answered: bool = False, **answer: object) -> str | None:
        return sales.refusal(state, Feedback(**({"task_id": "t1"} | answer)), today,
                             answered=answered)

    assert refused(task_id="t2", action="accept") == "task t2 is not open for this lead"
    assert "needs a reason" in (refused(action="reject") or "")
    assert "needs the date" in (refused(action="reject", reason=RejectReason.TIMING) or "")
    assert "must be a future date" in (refused(action="recycle", until=today) or "")
    assert "already has an outcome" in (refused(action="accept", answered=True) or "")
    assert refused(action="accept") is None


def test_a_timing_reject_rests_the_lead_until_the_date_on_its_reactivation_track() -> None:
    state = with_task()
    until = date(2026, 4, 1)
    answer = Feedback(task_id="t1", action="reject", reason=RejectReason.TIMING, until=until)
    plan = sales.plan_for(state, answer)
    result = sales.result_of(state, answer, plan, "rejected", NOW)
    assert result.phase == "recycled" and "reactivation" in result.next_step
    where = sales.follow(state, answer, plan, result, NOW)
    assert where.kind == "rest" and where.track == "reactivation"
    assert state.escalation is None and state.intent_since == NOW


def test_accept_makes_an_sql_and_a_competitor_is_suppressed() -> None:
    state = with_task()
    accept = Feedback(task_id="t1", action="accept", by="jordan")
    result = sales.result_of(state, accept, None, "accepted", NOW + timedelta(hours=2))
    assert result.phase == "sql" and result.time_to_sql_seconds == 7200
    assert sales.follow(state, accept, None, result, NOW).kind == "sql"
    rival = with_task()
    reject = Feedback(task_id="t1", action="reject", reason=RejectReason.NOT_A_BUYER)
    plan = sales.plan_for(rival, reject)
    assert sales.follow(rival, reject, plan, sales.result_of(rival, reject, plan, "rejected",
                                                             NOW), NOW).kind == "suppress"


def test_a_flagged_lead_is_never_rushed() -> None:
    state = with_task()
    assert sales.tier_for(state, 1) == 1
    state.scores = state.scores.model_copy(update={"flags": ["competitor"]})
    assert sales.tier_for(state, 1) == 3
