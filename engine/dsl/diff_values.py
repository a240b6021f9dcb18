"""A playbook's settings as flat views compared value by value: entry rules, the silence
rule, templates, scoring, cadence, pages and the sales policy."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict

from engine.dsl import spec as s
from engine.dsl.conditions import Condition
from engine.dsl.sales import SalesPolicy
from engine.dsl.words import condition, count, join, span, text
from engine.feedback import RejectReason
from engine.scoring import NegativeRule, ScoringModel, TitleRule

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

    def __init__(self, area: Area, subject: str, text: str) -> None:
        super().__init__(area=area, subject=subject, text=text)

    def __str__(self) -> str:
        return f"{self.subject}: {self.text}"


def entry_changes(old: s.PlaybookSpec, new: s.PlaybookSpec) -> list[Change]:
    was, now = _entry_rules(old), _entry_rules(new)
    changes = [Change("Entry", key, f"now when {condition(now[key])} (was: when "
                                    f"{condition(was[key])})" if key in now else "removed")
               for key in was if now.get(key) != was[key]]
    changes += [Change("Entry", key, "added") for key in now if key not in was]
    if not changes and old.entry != new.entry:
        changes.append(Change("Entry", "entry rules", "reordered (the first that holds wins)"))
    return changes + compare_views("Entry", {"default track": f"`{old.default_track}`"},
                              {"default track": f"`{new.default_track}`"})


def _entry_rules(spec: s.PlaybookSpec) -> dict[str, Condition]:
    """Entry rules by the track they start (a second rule for a track is numbered)."""
    rules: dict[str, Condition] = {}
    for n, rule in enumerate(spec.entry):
        earlier = sum(other.track == rule.track for other in spec.entry[:n])
        number = f" ({earlier + 1})" if earlier else ""
        rules[f"entry rule for `{rule.track}`{number}"] = rule.when
    return rules


def silence_view(rule: s.SilenceRule | None) -> dict[str, object]:
    return {"quiet leads move to": f"`{rule.track}`", "quiet period": rule.after,
            "engagement events": rule.engagement,
            "phases watched for silence": rule.phases or "all"} if rule else {}


def templates_used(spec: s.PlaybookSpec) -> list[str]:
    triggers = [*spec.triggers, *(t for track in spec.tracks.values() for t in track.triggers)]
    sends = [*(step for track in spec.tracks.values() for step in track.steps),
             *(action for trigger in triggers for action in trigger.actions)]
    return sorted({item.template for item in sends
                   if isinstance(item, s.SendStep | s.SendAction)})


def scoring_view(model: ScoringModel) -> dict[str, object]:
    fit, intent, rel = model.fit, model.intent, model.relationship
    sizes = {f"{b.min}–{b.max}" if b.max is not None else f"{b.min}+": b.points
             for b in fit.company_size}
    negative = {_negative_label(rule): rule for rule in model.negative}
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


def _negative_label(rule: NegativeRule) -> str:
    """The rule's flag, else what it matches first (`email domain gmail.com …`)."""
    for what, values in (("title", rule.title_words), ("email domain", rule.email_domains),
                         ("company domain", rule.company_domains),
                         ("industry", rule.industries), ("event", rule.event_types)):
        if values and not rule.flag:
            return f"{what} {values[0]}{' …' if len(values) > 1 else ''}"
    return rule.flag or f"company size up to {rule.max_company_size}"


def cadence_view(cadence: s.Cadence) -> dict[str, object]:
    return {"email cap": f"{cadence.max_emails} emails per {span(cadence.per)}",
            "grace period": cadence.grace, "default time zone": cadence.default_timezone,
            "send window": f"{cadence.window_start_hour:02d}:00–{cadence.window_end_hour:02d}:00"}


def sales_view(policy: SalesPolicy) -> dict[str, object]:
    hours, tiers, routing = policy.hours, policy.tiers, policy.routing
    weekdays = [_WEEKDAYS[day] for day in hours.days]
    view: dict[str, object] = {
        "business hours": f"{text(weekdays)} {hours.opens:%H:%M}–{hours.closes:%H:%M} "
                          f"({hours.timezone})",
        "holidays": [day.isoformat() for day in hours.holidays],
        "SLA": f"tier 1 within {span(tiers.tier_1)}; tier 2 the same day (the next when less "
               f"than {span(tiers.same_day_floor)} is left); tier 3 within "
               f"{count(tiers.tier_3_days, 'business day')}",
        "follow-up window": count(tiers.follow_up_days, "business day"),
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
        view[f"rep `{rep.id}`"] = {
            "": f"{rep.name} <{rep.email}>", "role": rep.role, "capacity": rep.capacity,
            "manager": rep.manager, "time zone": rep.timezone,
            "status": "active" if rep.active else "inactive"}
    view |= {f"owner of account {key}": rep for key, rep in routing.account_owners.items()}
    return view | {f"territory {country}": reps for country, reps in routing.territories.items()}


def said(*checks: tuple[bool, str]) -> list[str]:
    """The sentences whose check holds, in order."""
    return [text for changed, text in checks if changed]


def compare_views(area: Area, old: dict[str, object], new: dict[str, object]) -> list[Change]:
    """One change per value added, removed or different between two flat views."""
    changes = []
    for key in [*old, *(key for key in new if key not in old)]:
        was, now = old.get(key), new.get(key)
        if key not in new or key not in old:
            texts = [f"removed (was {text(was)})" if key in old else f"added: {text(now)}"]
        elif isinstance(was, list) and isinstance(now, list):
            texts = list_texts(was, now, "adds", "drops")
        elif isinstance(was, dict) and isinstance(now, dict):
            texts = said((was != now, text({part: f"{text(was.get(part))} → {text(value)}"
                                              for part, value in now.items()
                                              if was.get(part) != value})))
        else:
            texts = said((was != now, f"{text(was)} → {text(now)}"))
        changes += [Change(area, key, text) for text in texts]
    return changes


def list_texts(old: Sequence[object], new: Sequence[object], more: str, fewer: str
                ) -> list[str]:
    added = [item for item in new if item not in old]
    dropped = [item for item in old if item not in new]
    return said((bool(added), f"{more} {join(added, 'and')}"),
                 (bool(dropped), f"{fewer} {join(dropped, 'and')}"))


