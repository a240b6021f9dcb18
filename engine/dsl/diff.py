"""What changed from one version of a playbook to the next, in words marketing ops read.

    print(diff_playbooks(live, edited).render())

Steps are matched by id, tracks and triggers by name; scoring, cadence, pages and the sales
policy are compared value by value. `step_mapping` says which steps survive an edit.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict, Field

from engine.dsl import spec as s
from engine.dsl.sales import SalesPolicy
from engine.feedback import RejectReason
from engine.scoring import ScoringModel, TitleRule

Area = Literal["Tracks", "Triggers", "Entry", "Silence", "Templates", "Scoring", "Cadence",
               "Pages", "Sales"]
AREAS: tuple[Area, ...] = get_args(Area)
_DEFAULT_PLAN = "back to nurture on the default track"
_WEEKDAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]


class Change(BaseModel):
    """One difference: the thing it is about (`subject`) and what happened to it (`text`)."""

    model_config = ConfigDict(frozen=True)

    area: Area
    subject: str
    text: str

    def __str__(self) -> str:
        return f"{self.subject}: {self.text}"


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
            for subject, said in texts.items():
                lines += [f"  {subject}: {said[0]}"] if len(said) == 1 else \
                    [f"  {subject}:", *(f"    {text}" for text in said)]
        return lines

    def render(self) -> str:
        """A heading with both versions, then the grouped changes."""
        heading = f"Playbook {self.old_version} → {self.new_version}"
        return "\n".join([heading, *(self.lines() or ["  no changes"])])


def diff_playbooks(old: s.PlaybookSpec, new: s.PlaybookSpec) -> PlaybookDiff:
    """What changed from `old` to `new`."""
    changes = [change for name, track in old.tracks.items() for change in (
        diff_tracks(track, new.tracks[name]) if name in new.tracks
        else [_change("Tracks", f"track `{name}`", "removed")])]
    changes += [_change("Tracks", f"track `{name}`",
                        f"added (phase {track.phase}, {len(track.steps)} steps)")
                for name, track in new.tracks.items() if name not in old.tracks]
    changes += [_change("Triggers", f"trigger `{name}`", text)
                for name, text in _trigger_texts(old.triggers, new.triggers)]
    changes += _entry(old, new) + _silence(old.silence, new.silence)
    was, now = _templates(old), _templates(new)
    changes += [_change("Templates", f"template `{name}`", "no longer used")
                for name in was if name not in now]
    changes += [_change("Templates", f"template `{name}`", "now used")
                for name in now if name not in was]
    changes += _compare("Scoring", _scoring(old.scoring), _scoring(new.scoring))
    changes += _compare("Cadence", _cadence(old.cadence), _cadence(new.cadence))
    changes += _compare("Pages", {f"pages {r.pattern}": r.event for r in old.pages},
                        {f"pages {r.pattern}": r.event for r in new.pages})
    changes += _compare("Sales", _sales(old.sales), _sales(new.sales))
    return PlaybookDiff(old_version=old.version, new_version=new.version, changes=changes)


def diff_tracks(old: s.TrackSpec, new: s.TrackSpec) -> list[Change]:
    """What changed in one track: phase, description, steps (by id) and its triggers."""
    was, now = {step.id: step for step in old.steps}, {step.id: step for step in new.steps}
    first, was_first = new.steps[0].id, old.steps[0].id
    texts = _said(
        (old.phase != new.phase, f"now in phase {new.phase} instead of {old.phase}"),
        (old.description != new.description, f'description now reads "{new.description}"'),
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
    return [_change("Tracks", f"track `{new.name}`", text) for text in texts]


def step_mapping(old_track: s.TrackSpec, new_track: s.TrackSpec) -> dict[str, str | None]:
    """For each step of the old track, the same step in the new one, or None when it is
    gone (a lead waiting there must be told where to go on)."""
    kept = {step.id for step in new_track.steps}
    return {step.id: step.id if step.id in kept else None for step in old_track.steps}


# --- steps and triggers ------------------------------------------------------------------


def _does(item: s.Step | s.Action) -> str:
    """What a step or trigger action does, as a verb phrase."""
    if isinstance(item, s.SendStep | s.SendAction):
        return f"sends template `{item.template}`"
    if isinstance(item, s.WaitStep):
        return f"waits {_span(item.duration)}"
    if isinstance(item, s.WaitForStep):
        return f"waits up to {_span(item.timeout)} for {_join(_listens(item), 'or')}"
    if isinstance(item, s.BranchStep):
        return f"checks {_count(len(item.cases), 'condition')}"
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
    texts = _said((getattr(old, "reason", None) != getattr(new, "reason", None),
                   f'reason now reads "{getattr(new, "reason", "")}"'))
    if isinstance(old, s.SendStep) and isinstance(new, s.SendStep):
        texts += _said(
            (old.template != new.template,
             f"sends template `{new.template}` instead of `{old.template}`"),
            (old.ctx != new.ctx, "template variables changed"))
    elif isinstance(old, s.WaitStep) and isinstance(new, s.WaitStep):
        texts += _said((old.duration != new.duration,
                        f"waits {_span(new.duration)} instead of {_span(old.duration)}"))
    elif isinstance(old, s.WaitForStep) and isinstance(new, s.WaitForStep):
        texts += _said((old.timeout != new.timeout,
                        f"times out after {_span(new.timeout)} instead of {_span(old.timeout)}"))
        texts += _list_texts(_listens(old), _listens(new), "now also listens for",
                             "no longer listens for")
    elif isinstance(old, s.BranchStep) and isinstance(new, s.BranchStep):
        texts += _said(([c.when for c in old.cases] != [c.when for c in new.cases],
                        "condition changed"))
    elif isinstance(old, s.MoveStep) and isinstance(new, s.MoveStep):
        texts += _said((old.track != new.track,
                        f"moves to track `{new.track}` instead of `{old.track}`"))
    elif isinstance(old, s.EscalateStep) and isinstance(new, s.EscalateStep):
        texts += _said((old.tier != new.tier,
                        f"hands to sales as {_tier(new.tier)} instead of {_tier(old.tier)}"))
    texts = [f"step `{new.id}`: {text}" for text in texts]
    links, linked = _links(new), _links(old)
    for way in (way for way in linked if way in links and links[way] != linked[way]):
        if links[way] in was and linked[way] in now:
            texts.append(f"steps reordered: `{links[way]}` now follows `{new.id}`{way} "
                         f"(instead of `{linked[way]}`)")
    return texts or [f"step `{new.id}`: details changed"]


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
    return "at the start" if step.id == track.steps[0].id else f"after {_join(before, 'or')}"


def _listens(step: s.WaitForStep) -> list[str]:
    return list(dict.fromkeys(event for way in step.branches for event in way.on))


def _trigger_texts(old: list[s.Trigger], new: list[s.Trigger]) -> list[tuple[str, str]]:
    """(trigger name, change) for triggers removed, changed and added, matched by name."""
    before, after = {t.name: t for t in old}, {t.name: t for t in new}
    texts = [(name, "removed") for name in before if name not in after]
    for name, was in before.items():
        now = after.get(name, was)
        said = _list_texts(was.on, now.on, "now also fires on", "no longer fires on")
        said += _said(
            (was.where != now.where, "event filter changed"),
            (was.when != now.when, "condition changed"),
            (was.phases != now.phases,
             f"phases: {_text(was.phases or 'all')} → {_text(now.phases or 'all')}"),
            (was.actions != now.actions, f"now {_acts(now)} (was: {_acts(was)})"),
            (was.once != now.once, f"now fires {'once per lead' if now.once else 'every time'}"),
            (was.cooldown != now.cooldown,
             f"cooldown: {_text(was.cooldown)} → {_text(now.cooldown)}"),
        )
        texts += [(name, text) for text in said]
    return texts + [(name, f"added: on {_join(t.on, 'or')}, {_acts(t)}")
                    for name, t in after.items() if name not in before]


def _acts(trigger: s.Trigger) -> str:
    return _join([_does(action) for action in trigger.actions], "and")


def _tier(tier: int | None) -> str:
    return f"tier {tier}" if tier else "the tier its scores earn"


# --- playbook-wide rules, each as a flat view compared value by value --------------------


def _entry(old: s.PlaybookSpec, new: s.PlaybookSpec) -> list[Change]:
    was, now = _entry_rules(old), _entry_rules(new)
    changes = [_change("Entry", key, "removed") for key in was if key not in now]
    changes += [_change("Entry", key, "condition changed")
                for key in was if key in now and was[key] != now[key]]
    changes += [_change("Entry", key, "added") for key in now if key not in was]
    if not changes and old.entry != new.entry:
        changes.append(_change("Entry", "entry rules", "reordered (the first that holds wins)"))
    return changes + _compare("Entry", {"default track": f"`{old.default_track}`"},
                              {"default track": f"`{new.default_track}`"})


def _entry_rules(spec: s.PlaybookSpec) -> dict[str, object]:
    """Entry rules by the track they start (a second rule for a track is numbered)."""
    rules: dict[str, object] = {}
    for rule in spec.entry:
        key = f"entry rule for `{rule.track}`"
        rules[key if key not in rules else f"{key} ({len(rules) + 1})"] = rule.when
    return rules


def _silence(old: s.SilenceRule | None, new: s.SilenceRule | None) -> list[Change]:
    if old is None or new is None:
        text = "added" if new else "removed" if old else ""
        return [_change("Silence", "silence rule", text)] if text else []
    return _compare("Silence", _silence_rule(old), _silence_rule(new))


def _silence_rule(rule: s.SilenceRule) -> dict[str, object]:
    return {"quiet leads move to": f"`{rule.track}`", "quiet period": rule.after,
            "engagement events": rule.engagement,
            "phases watched for silence": rule.phases or "all"}


def _templates(spec: s.PlaybookSpec) -> list[str]:
    tracks = spec.tracks.values()
    triggers = [*spec.triggers, *(trigger for track in tracks for trigger in track.triggers)]
    return sorted({item.template for item in [
        *(step for track in tracks for step in track.steps),
        *(action for trigger in triggers for action in trigger.actions),
    ] if isinstance(item, s.SendStep | s.SendAction)})


def _scoring(model: ScoringModel) -> dict[str, object]:
    fit, intent, rel = model.fit, model.intent, model.relationship
    sizes = {f"{b.min}–{b.max}" if b.max is not None else f"{b.min}+": b.points
             for b in fit.company_size}
    negative = {rule.flag or _text(rule.title_words or rule.email_domains or rule.industries
                                   or rule.company_domains or rule.event_types
                                   or f"company size up to {rule.max_company_size}"): rule
                for rule in model.negative}
    return {
        **{f"fit points for company size {size}": p for size, p in sizes.items()},
        **{f"fit points for industry {name}": p for name, p in fit.industries.items()},
        "fit points for other industries": fit.other_industry,
        **_titles("seniority", fit.seniority), **_titles("department", fit.departments),
        **{f"fit points for country {code}": p for code, p in fit.countries.items()},
        "fit points for other countries": fit.other_country,
        "high fit threshold": fit.high, "medium fit threshold": fit.medium,
        **{f"intent points for {event}": p for event, p in intent.points.items()},
        **{f"intent cap for {event}": p for event, p in intent.caps.items()},
        "intent half-life": intent.half_life,
        "high intent threshold": intent.high, "medium intent threshold": intent.medium,
        "relationship points per month": rel.per_month, "tenure cap": rel.tenure_cap,
        **{f"relationship points for {event}": p for event, p in rel.touch_points.items()},
        "touch cap": rel.touch_cap,
        **{f"negative points for {label}": rule.points for label, rule in negative.items()},
        **{f"negative rule {label} matches": [
            *rule.title_words, *rule.email_domains, *rule.company_domains, *rule.industries,
            *rule.event_types] for label, rule in negative.items()},
        "MQL threshold": model.mql, "sales-ready threshold": model.sales_ready,
    }


def _titles(kind: str, rules: list[TitleRule]) -> dict[str, object]:
    named = {rule.role or rule.words[0]: rule for rule in rules if rule.words}
    return {**{f"fit points for {kind} {name}": rule.points for name, rule in named.items()},
            **{f"title words for {kind} {name}": rule.words for name, rule in named.items()}}


def _cadence(cadence: s.Cadence) -> dict[str, object]:
    return {"email cap": f"{cadence.max_emails} emails per {_span(cadence.per)}",
            "grace period": cadence.grace, "default time zone": cadence.default_timezone,
            "send window": f"{cadence.window_start_hour:02d}:00–{cadence.window_end_hour:02d}:00"}


def _sales(policy: SalesPolicy) -> dict[str, object]:
    hours, tiers, routing = policy.hours, policy.tiers, policy.routing
    weekdays = [_WEEKDAYS[day] for day in hours.days]
    view: dict[str, object] = {
        "business hours": f"{_text(weekdays)} {hours.opens:%H:%M}–{hours.closes:%H:%M} "
                          f"({hours.timezone})",
        "holidays": [day.isoformat() for day in hours.holidays],
        "SLA": f"tier 1 within {_span(tiers.tier_1)}; tier 2 the same day (the next when less "
               f"than {_span(tiers.same_day_floor)} is left); tier 3 within "
               f"{_count(tiers.tier_3_days, 'business day')}",
        "follow-up window": _count(tiers.follow_up_days, "business day"),
        "re-routes per breached task": policy.max_reroutes,
        "after a recycle": policy.on_recycle.describe() if policy.on_recycle else _DEFAULT_PLAN,
    }
    for reason in RejectReason:
        plan = policy.on_reject.get(reason)
        view[f"after a reject for {reason.label.lower()}"] = (
            plan.describe() if plan else _DEFAULT_PLAN)
    if routing is None:
        return view
    for rep in routing.reps:
        view[f"rep `{rep.id}`"] = (
            f"{rep.name} <{rep.email}>, {rep.role}, capacity {rep.capacity}, "
            f"manager {_text(rep.manager)}{'' if rep.active else ', inactive'}")
    view |= {f"owner of account {key}": rep for key, rep in routing.account_owners.items()}
    return view | {f"territory {country}": reps for country, reps in routing.territories.items()}


# --- wording -----------------------------------------------------------------------------


def _change(area: Area, subject: str, text: str) -> Change:
    return Change(area=area, subject=subject, text=text)


def _said(*checks: tuple[bool, str]) -> list[str]:
    """The sentences whose check holds, in order."""
    return [text for changed, text in checks if changed]


def _compare(area: Area, old: dict[str, object], new: dict[str, object]) -> list[Change]:
    """One change per value added, removed or different between two flat views."""
    changes = []
    for key in [*old, *(key for key in new if key not in old)]:
        was, now = old.get(key), new.get(key)
        if key not in new or key not in old:
            texts = [f"removed (was {_text(was)})" if key in old else f"added: {_text(now)}"]
        elif isinstance(was, list) and isinstance(now, list):
            texts = _list_texts(was, now, "adds", "drops")
        else:
            texts = _said((was != now, f"{_text(was)} → {_text(now)}"))
        changes += [_change(area, key, text) for text in texts]
    return changes


def _list_texts(old: Sequence[object], new: Sequence[object], more: str, fewer: str
                ) -> list[str]:
    added = [item for item in new if item not in old]
    dropped = [item for item in old if item not in new]
    return _said((bool(added), f"{more} {_join(added, 'and')}"),
                 (bool(dropped), f"{fewer} {_join(dropped, 'and')}"))


def _span(duration: timedelta) -> str:
    """A duration as people say it: 7 days, 1 day 6 hours, 30 minutes."""
    rest, parts = int(duration.total_seconds()), []
    for unit, size in (("day", 86_400), ("hour", 3_600), ("minute", 60), ("second", 1)):
        count, rest = divmod(rest, size)
        if count:
            parts.append(_count(count, unit))
    return " ".join(parts) or "no time"


def _count(count: int, unit: str) -> str:
    return f"{count} {unit}{'' if count == 1 else 's'}"


def _text(value: object) -> str:
    if value is None:
        return "none"
    if isinstance(value, float | int) and not isinstance(value, bool):
        return f"{value:g}"
    if isinstance(value, timedelta):
        return _span(value)
    return (", ".join(_text(item) for item in value) or "none") if isinstance(value, list) \
        else str(value)


def _join(words: Sequence[object], last: str) -> str:
    """a; a and b; a, b and c."""
    items = [str(word) for word in words]
    return f" {last} ".join([", ".join(items[:-1]), items[-1]]) if len(items) > 1 else \
        "".join(items)
