"""Validation of tracks and playbooks. Every error names the track, the step and the fix."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from pydantic import BaseModel

from engine.dsl.conditions import EventSeen, InPhase, PropertyMatchesLead
from engine.dsl.spec import (
    TERMINAL_KINDS,
    BranchStep,
    EventBranch,
    MoveAction,
    MoveStep,
    PlaybookSpec,
    SendAction,
    SendStep,
    Step,
    TrackSpec,
    Trigger,
    WaitForStep,
    WaitStep,
)
from engine.errors import PlaybookError, TrackError, did_you_mean
from engine.events import CANONICAL_TYPES
from engine.leads import NURTURE_PHASES, check_phase


def exits_of(step: Step) -> list[str]:
    """The step ids a step can go to next."""
    if isinstance(step, SendStep | WaitStep):
        return [step.next] if step.next else []
    if isinstance(step, WaitForStep):
        targets = [b.next for b in step.branches]
        return targets + ([step.on_timeout] if step.on_timeout else [])
    if isinstance(step, BranchStep):
        return [c.next for c in step.cases] + ([step.otherwise] if step.otherwise else [])
    return []


def validate_track(spec: TrackSpec) -> None:
    """Check one track's phase and shape: ids, links, reachability, an end, no busy loops."""
    name = spec.name
    try:
        check_phase(spec.phase, NURTURE_PHASES, what="a phase a track can be in")
    except ValueError as err:
        raise TrackError(name, str(err)) from None
    if not spec.steps:
        raise TrackError(name, "has no steps",
                         fix="add at least one step, e.g. end('done', 'nothing to send')")
    ids: dict[str, Step] = {}
    for step in spec.steps:
        if step.id in ids:
            raise TrackError(name, "step id is used twice", step=step.id,
                             fix="give every step its own id")
        ids[step.id] = step
    for step in spec.steps:
        _check_step(name, step)
        for target in exits_of(step):
            if target not in ids:
                raise TrackError(name, f"goes to unknown step {target!r}", step=step.id,
                                 fix=f"point it at one of {sorted(ids)}")
        if step.kind not in TERMINAL_KINDS and not exits_of(step):
            raise TrackError(name, "is a dead end: nothing comes after it", step=step.id,
                             fix="add a following step or end the track with end(), "
                                 "move_to(), escalate() or suppress()")
    reachable = _reachable(spec.steps[0].id, ids)
    for step in spec.steps:
        if step.id not in reachable:
            raise TrackError(name, "can never be reached", step=step.id,
                             fix="remove it, or point a then=/goto= of an earlier step at it")
    if not any(ids[s].kind in TERMINAL_KINDS for s in reachable):
        raise TrackError(name, "has no way to end", step=spec.steps[-1].id,
                         fix="add an end(), move_to(), escalate() or suppress() step")
    _check_busy_loops(name, ids)
    for trigger in spec.triggers:
        _check_trigger(name, trigger)


def _check_step(track: str, step: Step) -> None:
    if isinstance(step, WaitStep) and step.duration <= timedelta(0):
        raise TrackError(track, "waits for no time", step=step.id, fix="give a positive duration")
    if isinstance(step, WaitForStep):
        if not step.branches:
            raise TrackError(track, "waits for no event", step=step.id,
                             fix="add on('event_type', goto='step') branches")
        if step.timeout <= timedelta(0):
            raise TrackError(track, "has no timeout", step=step.id,
                             fix="give timeout=days(n) so a quiet lead moves on")
    if isinstance(step, BranchStep) and not step.cases:
        raise TrackError(track, "branches on nothing", step=step.id,
                         fix="add when(condition, goto='step') cases")


def _check_trigger(track: str, trigger: Trigger) -> None:
    if not trigger.on:
        raise TrackError(track, f"trigger {trigger.name!r} listens to no event",
                         fix="give on=['event_type', ...]")
    if not trigger.actions:
        raise TrackError(track, f"trigger {trigger.name!r} does nothing",
                         fix="give then=[...] actions")


def _reachable(start: str, ids: dict[str, Step]) -> set[str]:
    seen: set[str] = set()
    todo = [start]
    while todo:
        current = todo.pop()
        if current in seen or current not in ids:
            continue
        seen.add(current)
        todo.extend(exits_of(ids[current]))
    return seen


def _check_busy_loops(track: str, ids: dict[str, Step]) -> None:
    """A loop must pass through a wait, or it would send email in a tight circle."""
    timeless = {k: s for k, s in ids.items() if s.kind not in ("wait", "wait_for")}
    state: dict[str, int] = {}

    def visit(node: str) -> None:
        state[node] = 1
        for nxt in exits_of(timeless[node]):
            if nxt not in timeless:
                continue
            if state.get(nxt) == 1:
                raise TrackError(track, f"loops back to {nxt!r} without waiting", step=node,
                                 fix="put a wait() or wait_for() inside the loop")
            if nxt not in state:
                visit(nxt)
        state[node] = 2

    for node in timeless:
        if node not in state:
            visit(node)


def validate_playbook(spec: PlaybookSpec, templates: Iterable[str] | None = None) -> None:
    """Check every track, every cross-track reference and (if given) every template name."""
    known_templates = set(templates) if templates is not None else None
    tracks = spec.tracks

    def need_track(owner: str, target: str, step: str | None = None) -> None:
        if target not in tracks:
            raise TrackError(owner, f"moves to unknown track {target!r}", step=step,
                             fix=f"use one of {sorted(tracks)} or add that track")

    def need_template(owner: str, template: str, step: str | None = None) -> None:
        if known_templates is not None and template not in known_templates:
            raise TrackError(owner, f"uses unknown template {template!r}", step=step,
                             fix=f"create templates/email/{template}/ (subject.txt, body.txt, "
                                 "body.html) or fix the name")

    for key, track in tracks.items():
        if key != track.name:
            raise TrackError(track.name, f"is registered under another name {key!r}",
                             fix="register each track under its own name")
        validate_track(track)
        for step in track.steps:
            if isinstance(step, MoveStep):
                need_track(track.name, step.track, step.id)
            if isinstance(step, SendStep):
                need_template(track.name, step.template, step.id)
    for owner, trigger in [(t.name, trg) for t in tracks.values() for trg in t.triggers] + [
        ("(playbook)", trg) for trg in spec.triggers
    ]:
        _check_trigger(owner, trigger)
        for action in trigger.actions:
            if isinstance(action, MoveAction):
                need_track(owner, action.track, f"trigger {trigger.name}")
            if isinstance(action, SendAction):
                need_template(owner, action.template, f"trigger {trigger.name}")
    need_track("(playbook)", spec.default_track, "default track")
    for rule in spec.entry:
        need_track("(playbook)", rule.track, "entry rule")
    if spec.silence is not None:
        need_track("(playbook)", spec.silence.track, "silence rule")
    sales = spec.sales
    for label, plan in [*((f"on_reject {r.value}", p) for r, p in sales.on_reject.items()),
                        ("on_recycle", sales.on_recycle)]:
        if plan is not None and plan.action != "suppress":
            if plan.track is None:
                raise TrackError("(playbook)", f"sales {label} names no track",
                                 fix="give move_on_reject/reactivate_on a track name")
            need_track("(playbook)", plan.track, f"sales {label}")
    if spec.cadence.window_start_hour >= spec.cadence.window_end_hour:
        raise TrackError("(playbook)", "send window starts after it ends",
                         fix="window_start_hour must be below window_end_hour")
    _check_names(spec)


def known_event_types(spec: PlaybookSpec) -> frozenset[str]:
    """The event types a playbook may name: the canonical ones, and its custom events (the
    types its scoring gives points, and those its page rules produce)."""
    scoring = spec.scoring
    return frozenset({*CANONICAL_TYPES, *scoring.intent.points, *scoring.intent.caps,
                      *scoring.relationship.touch_points, *(rule.event for rule in spec.pages)})


def _check_names(spec: PlaybookSpec) -> None:
    """Every event type the playbook listens for is one that can arrive, and every phase a
    trigger or condition names is a phase: a misspelled one (`pricing_page_visited`,
    `qualifcation`) would never match, and a lead waiting on it would stall. Checked when a
    playbook is built, not when a stored one is read: a version leads already run keeps
    running as it was built."""
    known = known_event_types(spec)
    for where, node in _models(spec, "playbook"):
        for field, names in _named(node):
            if field == "phases":
                for phase in names:
                    try:
                        check_phase(phase)
                    except ValueError as err:
                        raise PlaybookError(f"{where}.phases: {err}") from None
                continue
            for name in names:
                if name not in known:
                    raise PlaybookError(
                        f"{where}.{field}: {name!r} is not an event type the engine knows; "
                        f"{did_you_mean(name, known, cutoff=0.6)}a custom event must be "
                        f"declared with its points: playbook(..., "
                        f"custom_events={{{name!r}: 5}})")


def _named(node: BaseModel) -> list[tuple[str, list[str]]]:
    """The event types (by field) and phases a model names itself."""
    if isinstance(node, EventBranch):
        return [("on", node.on)]
    if isinstance(node, Trigger):
        return [("on", node.on), ("phases", node.phases)]
    if isinstance(node, EventSeen | PropertyMatchesLead):
        return [("types", node.types)]
    if isinstance(node, InPhase):
        return [("phases", node.phases)]
    if isinstance(node, SendStep) and node.about is not None:
        return [("about", [node.about])]
    return []


def _models(node: Any, where: str) -> Iterable[tuple[str, BaseModel]]:
    """(where, model) for `node` and every model below it, where as a readable path."""
    if isinstance(node, BaseModel):
        yield where, node
        for field in type(node).model_fields:
            yield from _models(getattr(node, field), f"{where}.{field}")
    elif isinstance(node, dict):
        for key, value in node.items():
            yield from _models(value, f"{where}[{key!r}]")
    elif isinstance(node, list | tuple):
        for index, value in enumerate(node):
            label = getattr(value, "name", None) or getattr(value, "id", None)
            yield from _models(value, f"{where}[{label!r}]" if isinstance(
                label, str) else f"{where}[{index}]")
