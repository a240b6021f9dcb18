"""A readable outline of a track, for `nurture tracks show`."""

from __future__ import annotations

from engine.dsl.spec import (
    Action,
    BranchStep,
    EscalateStep,
    ExitStep,
    MoveStep,
    SendStep,
    Step,
    SuppressStep,
    TrackSpec,
    Trigger,
    WaitForStep,
    WaitStep,
)
from engine.dsl.words import condition, span


def describe_step(step: Step) -> str:
    """One step in words."""
    if isinstance(step, SendStep):
        return f"send {step.template} → {step.next}"
    if isinstance(step, WaitStep):
        return f"wait {span(step.duration)} → {step.next}"
    if isinstance(step, WaitForStep):
        ways = "; ".join(f"{'|'.join(b.on)} → {b.next}" for b in step.branches)
        return f"wait for {ways}; after {span(step.timeout)} → {step.on_timeout}"
    if isinstance(step, BranchStep):
        cases = "; ".join(f"if {condition(c.when)} → {c.next}" for c in step.cases)
        return f"branch: {cases}; otherwise → {step.otherwise}"
    if isinstance(step, MoveStep):
        return f"move to track {step.track} ({step.reason})"
    if isinstance(step, EscalateStep):
        tier = f"tier {step.tier}" if step.tier else "tier by score"
        return f"escalate to sales, {tier} ({step.reason})"
    if isinstance(step, SuppressStep):
        return f"suppress ({step.reason})"
    assert isinstance(step, ExitStep)
    return f"exit ({step.reason})"


def describe_action(action: Action) -> str:
    """One trigger action in words."""
    reason = getattr(action, "reason", None) or getattr(action, "template", "")
    target = getattr(action, "track", None)
    return f"{action.kind}{' ' + target if target else ''} ({reason})"


def describe_trigger(trigger: Trigger) -> str:
    """One trigger in words."""
    text = f"{trigger.name}: on {'|'.join(trigger.on)}"
    if trigger.when is not None:
        text += f" if {condition(trigger.when)}"
    if trigger.phases:
        text += f" in {'/'.join(trigger.phases)}"
    return text + " → " + ", ".join(describe_action(a) for a in trigger.actions)


def outline(spec: TrackSpec) -> str:
    """The whole track as text."""
    lines = [f"{spec.name}  (phase {spec.phase}, version {spec.version})"]
    if spec.description:
        lines.append(f"  {spec.description}")
    width = max(len(s.id) for s in spec.steps)
    for number, step in enumerate(spec.steps, start=1):
        lines.append(f"  {number:>2}. {step.id:<{width}}  {describe_step(step)}")
    for trigger in spec.triggers:
        lines.append(f"  trigger {describe_trigger(trigger)}")
    return "\n".join(lines)
