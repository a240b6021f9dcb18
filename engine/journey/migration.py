"""Moving a lead in flight onto a new playbook version, at a safe point.

A lead waiting in a step continues at the step with the same id in the new version (or the
step `step_map` names), keeping how long it has already waited: a 5-day wait that became a
7-day wait, entered 2 days ago, has 5 days left. A lead with sales, suppressed, exited or an
SQL is left alone; a lead resting after a recycle takes the new version if the track it
will resume still exists. Moving a lead onto the version it runs changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict, Field

from engine.dsl.spec import PlaybookSpec, Step, WaitForStep, WaitStep
from engine.journey.journal import note
from engine.journey.state import LeadState
from engine.leads import NURTURE_PHASES, Phase

LEFT_ALONE = {Phase.SALES: "with sales", Phase.SQL: "an SQL", Phase.SUPPRESSED: "suppressed",
              Phase.EXITED: "exited"}
"""Leads in these phases are never moved, in words."""


class MigrateRequest(BaseModel):
    """Move the lead onto `playbook` (the lead workflow's `migrate` update).

    `from_version` and `track`, when given, are conditions: a lead on another version or
    track is refused, not moved. `step_map` names the new step for a step that no longer
    exists (old step id → new step id, within the lead's track).
    """

    model_config = ConfigDict(extra="forbid")

    playbook: PlaybookSpec
    from_version: str | None = None
    track: str | None = None
    step_map: dict[str, str] = Field(default_factory=dict)
    by: str = Field(default="", max_length=200)


class MigrateResult(BaseModel):
    """What the move did: `moved`, or `unchanged` (the lead already ran that version)."""

    status: str
    from_version: str
    to_version: str
    track: str | None = None
    from_step: str | None = None
    to_step: str | None = None


@dataclass(frozen=True)
class Move:
    """A move the lead can take: onto `track` / `step` (None for a resting lead);
    `unchanged` when it already runs the target version."""

    track: str | None
    step: str | None
    unchanged: bool = False


def _duration(step: Step) -> timedelta | None:
    if isinstance(step, WaitStep):
        return step.duration
    if isinstance(step, WaitForStep):
        return step.timeout
    return None


def plan(state: LeadState, request: MigrateRequest) -> Move | str:
    """Where the lead lands, or why it cannot move (a sentence for the operator)."""
    target, current = request.playbook, state.playbook
    pos = state.position
    if current.version == target.version:
        return Move(track=pos.track if pos else None, step=pos.step if pos else None,
                    unchanged=True)
    if request.from_version is not None and current.version != request.from_version:
        return (f"the lead runs version {current.version}, not {request.from_version}; "
                "nothing changed")
    if request.track is not None and (pos is None or pos.track != request.track):
        return (f"the lead is not on track {request.track!r} "
                f"({pos.track if pos else 'no track'}); nothing changed")
    if state.phase == Phase.RECYCLED and state.resting_until is not None:
        resume = state.resume_track or target.default_track
        if resume not in target.tracks:
            return (f"the lead will resume track {resume!r}, which version "
                    f"{target.version} does not have; nothing changed")
        return Move(track=None, step=None)
    if state.phase in LEFT_ALONE:
        return f"the lead is {LEFT_ALONE[Phase(state.phase)]}: left alone"
    if state.phase not in NURTURE_PHASES or pos is None:
        return "the lead is not on a track: left alone"
    if pos.track not in target.tracks:
        return (f"version {target.version} has no track {pos.track!r}; move the lead with a "
                "playbook that keeps the track")
    new_track = target.track(pos.track)
    step = request.step_map.get(pos.step, pos.step)
    if step not in {s.id for s in new_track.steps}:
        if pos.step in request.step_map:
            return (f"--map {pos.step}={step}: track {pos.track!r} of version "
                    f"{target.version} has no step {step!r}")
        return (f"step {pos.step!r} of track {pos.track!r} is gone in version "
                f"{target.version}; map it to a new step (--map {pos.step}=STEP)")
    return Move(track=pos.track, step=step)


def apply(state: LeadState, request: MigrateRequest, move: Move, now: datetime) -> MigrateResult:
    """Put the lead on the new version (and step), noting it in the journal."""
    before, target = state.playbook, request.playbook
    pos = state.position
    if move.unchanged:
        return MigrateResult(status="unchanged", from_version=before.version,
                             to_version=target.version, track=move.track,
                             from_step=move.step, to_step=move.step)
    result = MigrateResult(status="moved", from_version=before.version,
                           to_version=target.version, track=move.track,
                           from_step=pos.step if pos else None, to_step=move.step)
    if pos is not None and move.track is not None and move.step is not None:
        old_step = before.track(pos.track).step(pos.step)
        new_step = target.track(move.track).step(move.step)
        deadline = pos.deadline
        old_wait, new_wait = _duration(old_step), _duration(new_step)
        if deadline is not None and old_wait is not None and new_wait is not None:
            deadline = deadline - old_wait + new_wait  # the time already waited is kept
        elif old_wait is not None or new_wait is not None or move.step != pos.step:
            deadline = None  # a different kind of step starts its own clock
        state.position = pos.model_copy(update={"step": move.step, "deadline": deadline})
    state.playbook = target
    where = f" step {result.from_step}" if result.from_step else ""
    to = f" step {result.to_step}" if result.to_step else ""
    note(state, now, "migrated", **{"from": before.version, "to": target.version},
         track=move.track, from_step=result.from_step, to_step=result.to_step,
         by=request.by, detail=f"moved from version {before.version}{where} to version "
                               f"{target.version}{to}")
    return result
