"""The track interpreter: what the step a lead stands on asks for, and where it leads.

A step may first wait (a send step for its send slot, a wait step for its duration, a
wait-for step for an event or its timeout); `wait_of` says until when. `decide` then says
what to do: deliver an email, go to another step, or take a transition (move, escalate,
suppress, exit). The workflow sleeps and acts; nothing here reads a clock.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from engine.dsl.conditions import evaluate
from engine.dsl.spec import (
    Action,
    BranchStep,
    EscalateAction,
    EscalateStep,
    EventBranch,
    ExitStep,
    MoveAction,
    MoveStep,
    SendStep,
    Step,
    SuppressAction,
    SuppressStep,
    WaitForStep,
    WaitStep,
)
from engine.journey.outbox import send_time
from engine.journey.reactions import current_track, facts
from engine.journey.state import LeadState
from engine.leads import NURTURE_PHASES


@dataclass(frozen=True)
class Wait:
    """Sleep until `until`, waking early for an event matching one of `listening`."""

    until: datetime
    listening: list[EventBranch] = field(default_factory=list)


@dataclass(frozen=True)
class Deliver:
    """Send the step's email under `key`, then go to `then`."""

    key: str
    template: str
    ctx: dict[str, Any]
    track: str
    step: str
    then: str | None
    event: dict[str, Any] = field(default_factory=dict)
    """The event the email is about (`SendStep.about`): its type and properties."""


@dataclass(frozen=True)
class Goto:
    """Go to another step of the same track."""

    step: str | None


@dataclass(frozen=True)
class Transition:
    """Leave the step through a move, an escalation or a suppression."""

    action: Action


@dataclass(frozen=True)
class Exit:
    """The track ends the lead's nurture."""

    reason: str


Decision = Deliver | Goto | Transition | Exit | None


def current_step(state: LeadState) -> Step | None:
    """The step a nurtured lead stands on, if any."""
    track = current_track(state)
    if track is None or state.phase not in NURTURE_PHASES or state.position is None:
        return None
    return track.step(state.position.step)


def goto(state: LeadState, step_id: str | None) -> None:
    """Stand on another step of the same track (a new visit: a new seq, no deadline)."""
    assert state.position is not None and step_id is not None
    state.position = state.position.model_copy(
        update={"step": step_id, "seq": state.next_seq(), "deadline": None})


def _deadline(state: LeadState, now: datetime, duration: timedelta) -> datetime:
    """The step's deadline, set on the first visit and kept across runs."""
    pos = state.position
    assert pos is not None
    if pos.deadline is None:
        state.position = pos.model_copy(update={"deadline": now + duration})
    return state.position.deadline  # type: ignore[union-attr,return-value]


def wait_of(state: LeadState, step: Step, now: datetime) -> Wait | None:
    """How long the step waits before it acts; None for a step that acts at once."""
    if isinstance(step, SendStep):
        return Wait(_deadline(state, now, send_time(state, now) - now))
    if isinstance(step, WaitStep):
        return Wait(_deadline(state, now, step.duration))
    if isinstance(step, WaitForStep):
        return Wait(_deadline(state, now, step.timeout), step.branches)
    return None


def decide(state: LeadState, step: Step, now: datetime, *, timed_out: bool = False,
           matched: EventBranch | None = None) -> Decision:
    """What the step does now (after its wait, if it has one)."""
    pos = state.position
    assert pos is not None
    if isinstance(step, SendStep):
        if not timed_out:
            return None
        later = send_time(state, now)
        if later > now:  # a trigger's email took the slot meanwhile
            state.position = pos.model_copy(update={"deadline": later})
            return None
        return Deliver(key=f"{state.lead.id}:{pos.track}:{step.id}:{pos.seq}",
                       template=step.template, ctx=step.ctx, track=pos.track, step=step.id,
                       then=step.next, event=_about(state, step.about))
    if isinstance(step, WaitStep | WaitForStep):
        if matched is not None:
            return Goto(matched.next)
        if timed_out:
            return Goto(step.next if isinstance(step, WaitStep) else step.on_timeout)
        return None
    if isinstance(step, BranchStep):
        snapshot = facts(state, now)
        return Goto(next((c.next for c in step.cases if evaluate(c.when, snapshot)),
                         step.otherwise))
    if isinstance(step, MoveStep):
        return Transition(MoveAction(track=step.track, reason=step.reason))
    if isinstance(step, EscalateStep):
        return Transition(EscalateAction(tier=step.tier, reason=step.reason))
    if isinstance(step, SuppressStep):
        return Transition(SuppressAction(reason=step.reason))
    if isinstance(step, ExitStep):
        return Exit(step.reason)
    return None


def _about(state: LeadState, event_type: str | None) -> dict[str, Any]:
    """The lead's newest kept event of `event_type`, as a template sees an event."""
    if event_type is None:
        return {}
    newest = max((e for e in state.events if e.type == event_type), key=lambda e: e.at,
                 default=None)
    return {} if newest is None else {"type": newest.type, "properties": newest.properties}
