"""Warnings about a playbook that builds but probably does not do what its author meant:
`nurture tracks check` prints them. (Errors, which stop the build, are in `validate`.)"""

from __future__ import annotations

from engine.dsl.spec import MoveAction, MoveStep, PlaybookSpec, WaitForStep

INTERRUPTING = frozenset({"move", "escalate", "suppress"})
"""Trigger actions that end whatever step a lead is on (the others run beside it)."""


def playbook_warnings(spec: PlaybookSpec) -> list[str]:
    """Tracks nothing routes leads to, and playbook triggers that pre-empt a track's own
    `wait_for` on the same event, each naming both places."""
    return [*_unrouted(spec), *_pre_empted(spec)]


def _unrouted(spec: PlaybookSpec) -> list[str]:
    routed = {spec.default_track, *(rule.track for rule in spec.entry)}
    if spec.silence is not None:
        routed.add(spec.silence.track)
    plans = [*spec.sales.on_reject.values(), spec.sales.on_recycle]
    routed |= {plan.track for plan in plans if plan is not None and plan.track}
    for track in spec.tracks.values():
        routed |= {step.track for step in track.steps
                   if isinstance(step, MoveStep) and step.track != track.name}
    for trigger in [*spec.triggers, *(t for tr in spec.tracks.values() for t in tr.triggers)]:
        routed |= {a.track for a in trigger.actions if isinstance(a, MoveAction)}
    return [f"track {name!r}: nothing routes leads to it (no entry rule, default track, "
            "move_to(), trigger go_to(), silence rule or sales plan names it)"
            for name in sorted(set(spec.tracks) - routed)]


def _pre_empted(spec: PlaybookSpec) -> list[str]:
    found = []
    for trigger in spec.triggers:
        kinds = {action.kind for action in trigger.actions} & INTERRUPTING
        if not kinds:
            continue
        for track in spec.tracks.values():
            if trigger.phases and track.phase not in trigger.phases:
                continue
            for step in track.steps:
                if not isinstance(step, WaitForStep):
                    continue
                for branch in step.branches:
                    shared = sorted(set(trigger.on) & set(branch.on))
                    if shared:
                        found.append(
                            f"trigger {trigger.name!r} ({', '.join(sorted(kinds))}) pre-empts "
                            f"track {track.name!r} step {step.id!r}, which waits for "
                            f"{', '.join(shared)}: when the trigger's conditions hold it "
                            f"wins, and the step's branch to {branch.next!r} never runs")
    return found
