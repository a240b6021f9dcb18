"""What changed from one version of a playbook to the next, in words marketing ops read.

    print(diff_playbooks(live, edited).render())

Steps are matched by id, tracks and triggers by name; scoring, cadence, pages and the sales
policy are compared value by value. `step_mapping` says which steps survive an edit.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from engine.dsl import spec as s
from engine.dsl.conditions import Condition
from engine.dsl.diff_values import (
    AREAS,
    Change,
    cadence_view,
    compare_views,
    entry_changes,
    list_texts,
    said,
    sales_view,
    scoring_view,
    silence_view,
    templates_used,
)
from engine.dsl.words import condition, count, join, span, text


class PlaybookDiff(BaseModel):
    """Every change from the old playbook to the new one, in reading order."""

    model_config = ConfigDict(frozen=True)

    old_version: str
    new_version: str
    changes: list[Change] = Field(default_factory=list)

    @property
    def is_empty(self) -> bool:
        """Whether nothing changed."""
        return not self.changes

    def lines(self) -> list[str]:
        """The changes grouped by area, then by subject (several changes indent under it)."""
        lines: list[str] = []
        for area in AREAS:
            texts: dict[str, list[str]] = {}
            for change in (change for change in self.changes if change.area == area):
                texts.setdefault(change.subject, []).append(change.text)
            lines += [area] if texts else []
            for subject, told in texts.items():
                lines += [f"  {subject}: {told[0]}"] if len(told) == 1 else \
                    [f"  {subject}:", *(f"    {line}" for line in told)]
        return lines

    def render(self) -> str:
        """A heading with both versions, then the grouped changes."""
        heading = f"Playbook {self.old_version} → {self.new_version}"
        return "\n".join([heading, *(self.lines() or ["  no changes"])])


def diff_playbooks(old: s.PlaybookSpec, new: s.PlaybookSpec) -> PlaybookDiff:
    """What changed from `old` to `new`."""
    changes = [change for name, track in old.tracks.items() for change in (
        diff_tracks(track, new.tracks[name]) if name in new.tracks
        else [Change("Tracks", f"track `{name}`", "removed")])]
    changes += [Change("Tracks", f"track `{name}`",
                        f"added (phase {track.phase}, {len(track.steps)} steps)")
                for name, track in new.tracks.items() if name not in old.tracks]
    changes += [Change("Triggers", f"trigger `{name}`", text)
                for name, text in _trigger_texts(old.triggers, new.triggers)]
    changes += entry_changes(old, new)
    if (old.silence is None) != (new.silence is None):
        changes.append(Change("Silence", "silence rule", "added" if new.silence else "removed"))
    else:
        changes += compare_views("Silence", silence_view(old.silence), silence_view(new.silence))
    was, now = templates_used(old), templates_used(new)
    changes += [Change("Templates", f"template `{name}`", "no longer used")
                for name in was if name not in now]
    changes += [Change("Templates", f"template `{name}`", "now used")
                for name in now if name not in was]
    changes += compare_views("Scoring", scoring_view(old.scoring), scoring_view(new.scoring))
    changes += compare_views("Cadence", cadence_view(old.cadence), cadence_view(new.cadence))
    changes += compare_views("Pages", {f"page {r.pattern}": r.event for r in old.pages},
                        {f"page {r.pattern}": r.event for r in new.pages})
    changes += compare_views("Sales", sales_view(old.sales), sales_view(new.sales))
    return PlaybookDiff(old_version=old.version, new_version=new.version, changes=changes)


def diff_tracks(old: s.TrackSpec, new: s.TrackSpec) -> list[Change]:
    """What changed in one track: phase, description, steps (by id) and its triggers."""
    was, now = {step.id: step for step in old.steps}, {step.id: step for step in new.steps}
    first, was_first = new.steps[0].id, old.steps[0].id
    texts = said(
        (old.phase != new.phase, f"now in phase {new.phase} instead of {old.phase}"),
        (old.description != new.description, f'description now reads "{new.description}"'
         if new.description else "description removed"),
        (first != was_first and first in was and was_first in now,
         f"now starts at step `{first}` instead of `{was_first}`"),
    )
    for step in old.steps:
        if step.id not in now:
            texts.append(f"step `{step.id}` removed (was: {_does(step)})")
        elif now[step.id] != step:
            texts += _step_texts(step, now[step.id], set(was), set(now))
    texts += [f"step `{step.id}` added {_placed(step, new)}: {_does(step)}"
              for step in new.steps if step.id not in was]
    texts += [f"trigger `{name}`: {text}"
              for name, text in _trigger_texts(old.triggers, new.triggers)]
    return [Change("Tracks", f"track `{new.name}`", text) for text in texts]


def step_mapping(old_track: s.TrackSpec, new_track: s.TrackSpec) -> dict[str, str | None]:
    """For each step of the old track, the same step in the new one, or None when it is
    gone (a lead waiting there must be told where to go on)."""
    kept = {step.id for step in new_track.steps}
    return {step.id: step.id if step.id in kept else None for step in old_track.steps}


def _does(item: s.Step | s.Action) -> str:
    """What a step or trigger action does, as a verb phrase."""
    if isinstance(item, s.SendStep | s.SendAction):
        return f"sends template `{item.template}`"
    if isinstance(item, s.WaitStep):
        return f"waits {span(item.duration)}"
    if isinstance(item, s.WaitForStep):
        return f"waits up to {span(item.timeout)} for {join(_listens(item), 'or')}"
    if isinstance(item, s.BranchStep):
        return f"checks {count(len(item.cases), 'condition')}"
    if isinstance(item, s.MoveStep | s.MoveAction):
        return f"moves the lead to track `{item.track}`"
    if isinstance(item, s.EscalateStep | s.EscalateAction):
        return f"hands the lead to sales ({_tier(item.tier)})"
    if isinstance(item, s.SuppressStep | s.SuppressAction):
        return "stops all email to the lead"
    return "ends nurture for the lead" if isinstance(item, s.ExitStep) else "notifies sales"


def _step_texts(old: s.Step, new: s.Step, was: set[str], now: set[str]) -> list[str]:
    """The changes to a step kept under the same id; links into added or removed steps
    are left to the sentences about those steps."""
    if old.kind != new.kind:
        return [f"step `{new.id}`: now {_does(new)} (was: {_does(old)})"]
    texts = [phrase.format(was=_word(field, getattr(old, field)),
                           now=_word(field, getattr(new, field)))
             for field, phrase in _STEP_CHANGES.items()
             if getattr(old, field, None) != getattr(new, field, None)]
    if isinstance(old, s.WaitForStep) and isinstance(new, s.WaitForStep):
        texts += list_texts(_listens(old), _listens(new), "now also listens for",
                             "no longer listens for")
    if isinstance(old, s.BranchStep) and isinstance(new, s.BranchStep):
        texts += _case_texts(old, new)
    texts = [f"step `{new.id}`: {text}" for text in texts]
    links, linked = _links(new), _links(old)
    for way in (way for way in linked if way in links and links[way] != linked[way]):
        if links[way] in was and linked[way] in now:
            texts.append(f"steps reordered: `{links[way]}` now follows `{new.id}`{way} "
                         f"(instead of `{linked[way]}`)")
    # Anything else (an event filter) still gets a sentence.
    return texts or said((links == linked, f"step `{new.id}`: details changed"))


_STEP_CHANGES = {
    "template": "sends template `{now}` instead of `{was}`",
    "ctx": "template variables changed",
    "duration": "waits {now} instead of {was}",
    "timeout": "times out after {now} instead of {was}",
    "track": "moves to track `{now}` instead of `{was}`",
    "tier": "hands to sales as {now} instead of {was}",
    "reason": 'reason now reads "{now}"',
}


def _case_texts(old: s.BranchStep, new: s.BranchStep) -> list[str]:
    """Branch conditions that changed, by the step they lead to."""
    was = {case.next: case.when for case in old.cases}
    now = {case.next: case.when for case in new.cases}
    texts = [f"goes to `{goal}` if {condition(when)} (was: if {condition(was[goal])})"
             for goal, when in now.items() if goal in was and was[goal] != when]
    texts += [f"now goes to `{goal}` if {condition(when)}" for goal, when in now.items()
              if goal not in was]
    texts += [f"no longer goes to `{goal}` if {condition(when)}" for goal, when in was.items()
              if goal not in now]
    return texts


def _word(field: str, value: object) -> str:
    return _tier(value) if field == "tier" else text(value)


def _links(step: s.Step) -> dict[str, str | None]:
    """Where a step leads, by way out: '' (next), ' on <event>', ' on timeout', ..."""
    if isinstance(step, s.SendStep | s.WaitStep):
        return {"": step.next}
    if isinstance(step, s.WaitForStep):
        ways = {f" on {event}": way.next for way in reversed(step.branches) for event in way.on}
        return {way: ways[way] for way in sorted(ways)} | {" on timeout": step.on_timeout}
    if isinstance(step, s.BranchStep):
        return {f" when condition {n} holds": case.next for n, case in
                enumerate(step.cases, 1)} | {" otherwise": step.otherwise}
    return {}


def _placed(step: s.Step, track: s.TrackSpec) -> str:
    before = [f"`{other.id}`" for other in track.steps if step.id in _links(other).values()]
    return "at the start" if step.id == track.steps[0].id else f"after {join(before, 'or')}"


def _listens(step: s.WaitForStep) -> list[str]:
    return list(dict.fromkeys(event for way in step.branches for event in way.on))


def _trigger_texts(old: list[s.Trigger], new: list[s.Trigger]) -> list[tuple[str, str]]:
    """(trigger name, change) for triggers removed, changed and added, matched by name."""
    before, after = {t.name: t for t in old}, {t.name: t for t in new}
    texts = [(name, "removed") for name in before if name not in after]
    for name, was in before.items():
        now = after.get(name, was)
        told = list_texts(was.on, now.on, "now also fires on", "no longer fires on")
        told += said(
            (was.where != now.where, "event filter changed"),
            (was.when != now.when, f"now fires if {_when(now.when)} (was: if "
                                   f"{_when(was.when)})"),
            (was.phases != now.phases,
             f"phases: {text(was.phases or 'all')} → {text(now.phases or 'all')}"),
            (was.actions != now.actions, f"now {_acts(now)} (was: {_acts(was)})"),
            (was.once != now.once, f"now fires {'once per lead' if now.once else 'every time'}"),
            (was.cooldown != now.cooldown,
             f"cooldown: {text(was.cooldown)} → {text(now.cooldown)}"),
        )
        texts += [(name, line) for line in told]
    return texts + [(name, f"added: on {join(t.on, 'or')}, {_acts(t)}")
                    for name, t in after.items() if name not in before]


def _when(when: Condition | None) -> str:
    return "always" if when is None else condition(when)


def _acts(trigger: s.Trigger) -> str:
    return join([_does(action) for action in trigger.actions], "and")


def _tier(tier: object) -> str:
    return f"tier {tier}" if tier else "the tier its scores earn"


