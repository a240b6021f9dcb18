"""What one event asks of a lead: recorded once, triggers fired, the decisive interrupt."""

from __future__ import annotations

from datetime import timedelta

from engine.dsl.spec import EscalateAction, EventBranch, MoveAction, SuppressAction
from engine.events import Event
from engine.journey import reactions
from engine.journey.state import LeadState
from tests.engine.journey.conftest import NOW, make_state


def event(kind: str, id: str = "e1", **properties: object) -> Event:
    return Event(id=id, type=kind, at=NOW, properties=properties)


def test_an_event_is_applied_once_whatever_the_redeliveries(state: LeadState) -> None:
    reactions.react(state, event("blog_viewed"), NOW, [])
    again = reactions.react(state, event("blog_viewed"), NOW, [])
    assert state.event_count == 1 and again == reactions.Reaction()


def test_a_demo_request_wants_a_tier_one_escalation(state: LeadState) -> None:
    reaction = reactions.react(state, event("demo_requested"), NOW, [])
    assert EscalateAction(tier=1, reason="asked to talk to sales") in reaction.wants
    assert any(line.kind == "score" for line in state.journal)


def test_a_pricing_visit_alerts_sales_beside_the_move(state: LeadState) -> None:
    reaction = reactions.react(state, event("pricing_page_viewed"), NOW, [])
    assert [a.kind for a in reaction.wants] == ["move"]
    assert [a.kind for a in reaction.side] == ["notify_sales"]


def test_unsubscribe_and_a_hard_bounce_want_suppression_and_nothing_else(
        state: LeadState) -> None:
    assert reactions.react(state, event("unsubscribed"), NOW, []).wants == [
        SuppressAction(reason="unsubscribed")]
    soft = reactions.react(state, event("email_bounced", id="b1", hard=False), NOW, [])
    assert soft.wants == []
    hard = reactions.react(state, event("email_bounced", id="b2"), NOW, [])
    assert hard.wants == [SuppressAction(reason="hard bounce")]


def test_a_resting_lead_gets_no_email_but_a_hand_raise_still_counts() -> None:
    state = make_state(phase="recycled", track=None)
    clicked = reactions.react(state, event("case_study_viewed", industry="retail"), NOW, [])
    assert clicked.side == []
    demo = reactions.react(state, event("demo_requested", id="d"), NOW, [])
    assert [a.kind for a in demo.wants] == ["escalate"]


def test_the_waiting_branch_an_event_answers() -> None:
    state = make_state()
    branch = EventBranch(on=["pricing_page_viewed"], next="hot")
    assert reactions.react(state, event("pricing_page_viewed"), NOW, [branch]).matched == branch
    assert reactions.react(state, event("blog_viewed", id="x"), NOW, [branch]).matched is None


def test_suppress_beats_escalate_beats_move_and_the_more_urgent_tier_wins() -> None:
    move, suppress = MoveAction(track="x", reason="r"), SuppressAction(reason="r")
    tier3, tier1 = EscalateAction(tier=3, reason="r"), EscalateAction(tier=1, reason="r")
    assert reactions.decisive(None, move) == move
    assert reactions.decisive(move, tier3) == tier3
    assert reactions.decisive(tier3, move) == tier3
    assert reactions.decisive(tier3, tier1) == tier1
    assert reactions.decisive(tier1, tier3) == tier1
    assert reactions.decisive(tier1, suppress) == suppress


def test_silence_counts_from_the_last_human_engagement() -> None:
    state = make_state()
    reactions.react(state, Event(id="c", type="email_clicked", at=NOW), NOW, [])
    reactions.react(state, Event(id="bot", type="email_clicked", at=NOW + timedelta(days=5),
                                 properties={"bot": True}), NOW, [])
    assert reactions.silence_deadline(state) == NOW + timedelta(days=21)
