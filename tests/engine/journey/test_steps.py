"""The track interpreter: what each kind of step waits for and what it does next."""

from __future__ import annotations

from datetime import timedelta

from engine.dsl import (
    branch,
    days,
    end,
    escalate,
    move_to,
    on,
    score,
    send,
    track,
    wait,
    wait_for,
    when,
)
from engine.journey import steps
from engine.journey.state import LeadState, Position, SentEmail
from tests.engine.journey.conftest import NOW, make_state

DEMO = track("demo_track", phase="qualification", steps=[
    send("hello", "welcome_intro"),
    wait_for("listen", on("pricing_page_viewed", goto="hot"), timeout=days(5)),
    wait("pause", days=2),
    branch("check", when(score("intent").at_least(20), goto="hot"),
           when(score("fit").at_least(95), goto="elsewhere"), otherwise="done"),
    end("done", "finished"),
    escalate("hot", "looked at pricing", tier=2),
    move_to("elsewhere", "education", "moved on"),
])


def standing_on(step_id: str, state: LeadState | None = None) -> LeadState:
    state = state or make_state()
    state.playbook = state.playbook.model_copy(
        update={"tracks": {**state.playbook.tracks, "demo_track": DEMO}})
    state.position = Position(track="demo_track", step=step_id, seq=state.next_seq())
    return state


def test_a_send_step_waits_for_the_send_slot_then_delivers_under_a_key_per_visit() -> None:
    state = standing_on("hello")
    wait_ = steps.wait_of(state, DEMO.step("hello"), NOW)
    assert wait_ is not None and wait_.until == NOW and wait_.listening == []
    decision = steps.decide(state, DEMO.step("hello"), NOW, timed_out=True)
    assert isinstance(decision, steps.Deliver)
    assert decision.template == "welcome_intro" and decision.then == "listen"
    assert decision.key == f"lead-1:demo_track:hello:{state.position.seq}"  # type: ignore


def test_a_send_step_whose_slot_was_taken_waits_again_without_sending() -> None:
    state = standing_on("hello")
    state.emails = [SentEmail(template=f"t{i}", subject="s", track="x", step="y",
                              at=NOW - timedelta(hours=i + 1), key=f"k{i}") for i in range(2)]
    decision = steps.decide(state, DEMO.step("hello"), NOW, timed_out=True)
    assert decision is None
    assert state.position is not None and state.position.deadline is not None
    assert state.position.deadline > NOW


def test_a_wait_keeps_its_deadline_across_visits_of_the_same_step() -> None:
    state = standing_on("pause")
    first = steps.wait_of(state, DEMO.step("pause"), NOW)
    later = steps.wait_of(state, DEMO.step("pause"), NOW + timedelta(days=1))
    assert first is not None and later is not None
    assert first.until == later.until == NOW + timedelta(days=2)


def test_a_wait_for_listens_and_a_matching_event_takes_its_branch() -> None:
    state = standing_on("listen")
    wait_ = steps.wait_of(state, DEMO.step("listen"), NOW)
    assert wait_ is not None and [b.next for b in wait_.listening] == ["hot"]
    assert steps.decide(state, DEMO.step("listen"), NOW,
                        matched=wait_.listening[0]) == steps.Goto("hot")
    assert steps.decide(state, DEMO.step("listen"), NOW, timed_out=True) == steps.Goto("pause")
    assert steps.decide(state, DEMO.step("listen"), NOW) is None  # woken for nothing


def test_branch_escalate_move_and_end_act_at_once() -> None:
    state = standing_on("check")
    assert steps.wait_of(state, DEMO.step("check"), NOW) is None
    assert steps.decide(state, DEMO.step("check"), NOW) == steps.Goto("done")
    hot = steps.decide(state, DEMO.step("hot"), NOW)
    assert isinstance(hot, steps.Transition) and hot.action.kind == "escalate"
    moved = steps.decide(state, DEMO.step("elsewhere"), NOW)
    assert isinstance(moved, steps.Transition) and moved.action.kind == "move"
    assert steps.decide(state, DEMO.step("done"), NOW) == steps.Exit("finished")


def test_goto_is_a_new_visit_without_the_old_deadline() -> None:
    state = standing_on("pause")
    steps.wait_of(state, DEMO.step("pause"), NOW)
    before = state.position
    steps.goto(state, "check")
    assert state.position is not None and before is not None
    assert state.position.step == "check" and state.position.deadline is None
    assert state.position.seq > before.seq


def test_only_a_nurtured_lead_stands_on_a_step() -> None:
    assert steps.current_step(make_state()) is not None
    assert steps.current_step(make_state(phase="sales")) is None
    assert steps.current_step(make_state(track=None)) is None
