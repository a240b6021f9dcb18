"""Lead scoring: fit, intent (with recency decay), relationship and negative signals.

All point values and thresholds live in a `ScoringModel` — data that marketing ops
change in the playbook. `score` is pure: it takes `now` and never reads a clock.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from engine.events import Event
from engine.leads import LeadProfile

FitTier = Literal["high", "medium", "low"]


class _Rules(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SizeBand(_Rules):
    """Points for a company-size range (inclusive; `max` None means no upper bound)."""

    min: int = 0
    max: int | None = None
    points: float


class TitleRule(_Rules):
    """Points when the job title contains any of the words (first matching rule wins)."""

    words: list[str]
    points: float
    role: str = ""


class FitRules(_Rules):
    """Firmographic and role fit."""

    company_size: list[SizeBand] = Field(default_factory=list)
    industries: dict[str, float] = Field(default_factory=dict)
    other_industry: float = 0
    seniority: list[TitleRule] = Field(default_factory=list)
    departments: list[TitleRule] = Field(default_factory=list)
    countries: dict[str, float] = Field(default_factory=dict)
    other_country: float = 0
    high: float = 35
    medium: float = 20


class IntentRules(_Rules):
    """Behavior points per event type, per-type caps and the decay half-life."""

    points: dict[str, float] = Field(default_factory=dict)
    caps: dict[str, float] = Field(default_factory=dict)
    half_life: timedelta = timedelta(days=30)
    high: float = 40
    medium: float = 20


class RelationshipRules(_Rules):
    """Tenure and two-way touches."""

    per_month: float = 1
    tenure_cap: float = 10
    touch_points: dict[str, float] = Field(default_factory=dict)
    touch_cap: float = 15


class NegativeRule(_Rules):
    """A negative signal; `flag` set means the lead is disqualified while it holds."""

    points: float
    flag: str | None = None
    title_words: list[str] = Field(default_factory=list)
    email_domains: list[str] = Field(default_factory=list)
    company_domains: list[str] = Field(default_factory=list)
    industries: list[str] = Field(default_factory=list)
    max_company_size: int | None = None
    event_types: list[str] = Field(default_factory=list)


class ScoringModel(_Rules):
    """Everything scoring needs. Defaults are empty; the playbook fills them in."""

    fit: FitRules = FitRules()
    intent: IntentRules = IntentRules()
    relationship: RelationshipRules = RelationshipRules()
    negative: list[NegativeRule] = Field(default_factory=list)
    mql: float = 60
    sales_ready: float = 75


class Scores(BaseModel):
    """A lead's scores at one moment."""

    model_config = ConfigDict(frozen=True)

    fit: float = 0
    intent: float = 0
    relationship: float = 0
    negative: float = 0
    total: float = 0
    fit_tier: FitTier = "low"
    intent_level: FitTier = "low"
    flags: list[str] = Field(default_factory=list)
    role: str = ""

    def as_dict(self) -> dict[str, float]:
        """The numeric dimensions, for conditions."""
        return {"fit": self.fit, "intent": self.intent, "relationship": self.relationship,
                "negative": self.negative, "total": self.total}


def _contains_any(text: str | None, words: Iterable[str]) -> bool:
    folded = (text or "").lower()
    return any(w.lower() in folded for w in words)


def _fit(profile: LeadProfile, rules: FitRules) -> tuple[float, str]:
    points = 0.0
    size = profile.company_size
    if size is not None:
        for band in rules.company_size:
            if band.min <= size and (band.max is None or size <= band.max):
                points += band.points
                break
    if profile.industry:
        points += rules.industries.get(profile.industry.lower(), rules.other_industry)
    role = ""
    for rule in rules.seniority:
        if _contains_any(profile.title, rule.words):
            points += rule.points
            role = rule.role
            break
    for rule in rules.departments:
        if _contains_any(profile.title, rule.words):
            points += rule.points
            break
    if profile.country:
        points += rules.countries.get(profile.country.upper(), rules.other_country)
    return points, role


def _decay(age: timedelta, half_life: timedelta) -> float:
    if age.total_seconds() <= 0:
        return 1.0
    return float(0.5 ** (age / half_life))


def _intent(events: Iterable[Event], rules: IntentRules, now: datetime) -> float:
    by_type: dict[str, float] = {}
    for event in events:
        base = rules.points.get(event.type)
        if not base or event.properties.get("bot") is True:
            continue
        by_type[event.type] = by_type.get(event.type, 0.0) + base * _decay(now - event.at,
                                                                            rules.half_life)
    return sum(min(v, rules.caps.get(t, v)) for t, v in by_type.items())


def _relationship(events: Iterable[Event], rules: RelationshipRules, now: datetime,
                  enrolled_at: datetime) -> float:
    months = max((now - enrolled_at).days, 0) / 30
    touches = sum(rules.touch_points.get(e.type, 0.0) for e in events)
    return min(months * rules.per_month, rules.tenure_cap) + min(touches, rules.touch_cap)


def _negative(profile: LeadProfile, seen_types: set[str], rules: list[NegativeRule]
              ) -> tuple[float, list[str]]:
    points, flags = 0.0, []
    company_domain = (profile.company_domain or "").lower()
    for rule in rules:
        hit = (
            _contains_any(profile.title, rule.title_words) if rule.title_words else False
        ) or profile.email_domain in rule.email_domains \
            or (bool(company_domain) and company_domain in rule.company_domains) \
            or profile.email_domain in rule.company_domains \
            or (profile.industry or "").lower() in rule.industries \
            or (rule.max_company_size is not None and profile.company_size is not None
                and profile.company_size <= rule.max_company_size) \
            or bool(seen_types.intersection(rule.event_types))
        if hit:
            points += rule.points
            if rule.flag and rule.flag not in flags:
                flags.append(rule.flag)
    return points, flags


def _level(value: float, high: float, medium: float) -> FitTier:
    return "high" if value >= high else "medium" if value >= medium else "low"


def score(profile: LeadProfile, events: list[Event], *, now: datetime, enrolled_at: datetime,
          model: ScoringModel, intent_since: datetime | None = None) -> Scores:
    """Score a lead from its profile and behavior as of `now`.

    `intent_since` (set when sales hands a lead back) counts intent only from behavior
    after that moment, so a recycled lead must show new interest to be escalated again.
    This reads every event; a running lead is scored from a `Tally` instead, and this is
    the reference the tally must agree with.
    """
    recent = events if intent_since is None else [e for e in events if e.at >= intent_since]
    return _scores(profile, model, intent=_intent(recent, model.intent, now),
                   relationship=_relationship(events, model.relationship, now, enrolled_at),
                   seen_types={e.type for e in events})


def _scores(profile: LeadProfile, model: ScoringModel, *, intent: float, relationship: float,
            seen_types: set[str]) -> Scores:
    fit, role = _fit(profile, model.fit)
    negative, flags = _negative(profile, seen_types, model.negative)
    total = max(fit + intent + relationship + negative, 0.0)
    return Scores(
        fit=round(fit, 1), intent=round(intent, 1), relationship=round(relationship, 1),
        negative=round(negative, 1), total=round(total, 1),
        fit_tier=_level(fit + min(negative, 0), model.fit.high, model.fit.medium),
        intent_level=_level(intent, model.intent.high, model.intent.medium),
        flags=flags, role=role,
    )


class Tally(BaseModel):
    """Running sums that rescore a lead in constant time per event.

    Intent is kept per event type as one sum decayed to the moment `at`; reading it at a
    later `now` decays the sum once more (decay is multiplicative, so this is exact).
    Relationship touches are a plain sum, and of event types only those a negative rule
    names are remembered. `since` is the `intent_since` the intent sums follow: intent
    from events before it is not counted. `version` names the scoring model the sums were
    counted with (the lead's playbook version), so a lead moved to another one recounts.
    """

    version: str = ""
    since: datetime | None = None
    at: datetime | None = None
    intent: dict[str, float] = Field(default_factory=dict)
    touches: float = 0
    types: list[str] = Field(default_factory=list)


def tally_add(tally: Tally, event: Event, model: ScoringModel, now: datetime) -> None:
    """Count one event. An event stamped after `now` counts as if it happened at `now`."""
    rules = model.intent
    tally.touches += model.relationship.touch_points.get(event.type, 0.0)
    if event.type not in tally.types and any(event.type in r.event_types
                                             for r in model.negative):
        tally.types.append(event.type)
    base = rules.points.get(event.type)
    if not base or event.properties.get("bot") is True:
        return
    if tally.since is not None and event.at < tally.since:
        return
    at = min(event.at, now)
    if tally.at is None or at > tally.at:
        factor = _decay(at - tally.at, rules.half_life) if tally.at is not None else 1.0
        tally.intent = {t: v * factor for t, v in tally.intent.items()}
        tally.at = at
    tally.intent[event.type] = tally.intent.get(event.type, 0.0) + \
        base * _decay(tally.at - at, rules.half_life)


def tally_of(events: Iterable[Event], model: ScoringModel, now: datetime,
             since: datetime | None = None) -> Tally:
    """A tally counted afresh from events (a running lead after its scoring model changed)."""
    tally = Tally(since=since)
    for event in events:
        tally_add(tally, event, model, now)
    return tally


def score_tallied(profile: LeadProfile, tally: Tally, *, now: datetime,
                  enrolled_at: datetime, model: ScoringModel) -> Scores:
    """Score a lead from its tally as of `now`: what `score` says of the same events."""
    rules = model.intent
    factor = _decay(now - tally.at, rules.half_life) if tally.at is not None else 1.0
    intent = sum(min(v * factor, rules.caps.get(t, v * factor))
                 for t, v in tally.intent.items())
    months = max((now - enrolled_at).days, 0) / 30
    rel = model.relationship
    relationship = min(months * rel.per_month, rel.tenure_cap) + min(tally.touches,
                                                                     rel.touch_cap)
    return _scores(profile, model, intent=intent, relationship=relationship,
                   seen_types=set(tally.types))


def readiness(scores: Scores, model: ScoringModel) -> int | None:
    """The sales tier a lead has earned, or None to keep nurturing.

    Readiness needs fit AND intent: high fit + high intent is tier 1 (call now), high fit +
    medium intent tier 2 (targeted outreach), high intent + lower fit tier 3 (qualify
    further). A disqualified lead is never ready, however much it clicks.
    """
    if scores.flags or scores.total < model.sales_ready:
        return None
    if scores.fit_tier == "high" and scores.intent_level == "high":
        return 1
    if scores.fit_tier == "high" and scores.intent_level == "medium":
        return 2
    if scores.intent_level == "high":
        return 3
    return None


def is_mql(scores: Scores, model: ScoringModel) -> bool:
    """Marketing-qualified: total at or above the MQL threshold and not disqualified."""
    return not scores.flags and scores.total >= model.mql
