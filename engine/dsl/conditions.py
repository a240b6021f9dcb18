"""Conditions as data: what a branch, trigger or wait can ask about a lead.

Every condition is a pydantic model with a `kind` tag, so a track stays JSON and carries
no code. `evaluate` is a pure function over a `Facts` snapshot of the lead.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from engine.events import Event
from engine.leads import LeadProfile

Op = Literal["eq", "ne", "gt", "gte", "lt", "lte", "in", "not_in", "contains"]
Dimension = Literal["fit", "intent", "relationship", "negative", "total"]


class _Condition(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ScoreIs(_Condition):
    """A score dimension compared with a number, e.g. intent >= 40."""

    kind: Literal["score"] = "score"
    dimension: Dimension
    op: Op
    value: float


class FitTierIs(_Condition):
    """The lead's fit tier (high, medium, low) is one of `tiers`."""

    kind: Literal["fit_tier"] = "fit_tier"
    tiers: list[Literal["high", "medium", "low"]]


class AttributeIs(_Condition):
    """A profile field compared with a value, e.g. source == "webinar"."""

    kind: Literal["attribute"] = "attribute"
    field: str
    op: Op
    value: Any = None


MOST_COUNTED = 20
"""The most events of one type a condition can count: a lead keeps the newest 20 of each
type (so that a flood of one kind of event costs it nothing)."""


class EventSeen(_Condition):
    """At least `at_least` events of these types (optionally recent, optionally matching)."""

    kind: Literal["event_seen"] = "event_seen"
    types: list[str]
    at_least: int = Field(default=1, ge=1, le=MOST_COUNTED)
    within: timedelta | None = None
    where: dict[str, Any] = Field(default_factory=dict)


class PropertyMatchesLead(_Condition):
    """The newest event of these types has `property` equal to the lead's `attribute`."""

    kind: Literal["property_matches_lead"] = "property_matches_lead"
    types: list[str]
    property: str
    attribute: str


class Disqualified(_Condition):
    """The lead carries a disqualifying flag (student, competitor, job seeker, ...)."""

    kind: Literal["disqualified"] = "disqualified"


class InPhase(_Condition):
    """The lead's phase is one of `phases`."""

    kind: Literal["in_phase"] = "in_phase"
    phases: list[str]


class AllOf(_Condition):
    """Every condition holds."""

    kind: Literal["all"] = "all"
    conditions: list[Condition]


class AnyOf(_Condition):
    """At least one condition holds."""

    kind: Literal["any"] = "any"
    conditions: list[Condition]


class Not(_Condition):
    """The condition does not hold."""

    kind: Literal["not"] = "not"
    condition: Condition


Condition = Annotated[
    ScoreIs | FitTierIs | AttributeIs | EventSeen | PropertyMatchesLead | Disqualified | InPhase
    | AllOf | AnyOf | Not,
    Field(discriminator="kind"),
]

for _model in (AllOf, AnyOf, Not):
    _model.model_rebuild()


class Facts(BaseModel):
    """What conditions may look at: a snapshot of one lead at one moment."""

    lead: LeadProfile
    scores: dict[str, float]
    fit_tier: str
    flags: list[str] = Field(default_factory=list)
    phase: str
    events: list[Event] = Field(default_factory=list)
    now: datetime


def compare(left: Any, op: Op, right: Any) -> bool:
    """Apply `op`; text compares case-insensitively and None never orders."""
    left, right = _fold(left), _fold(right)
    if op == "eq":
        return bool(left == right)
    if op == "ne":
        return bool(left != right)
    if op in ("in", "not_in"):
        members = {_fold(v) for v in (right or [])}
        return (left in members) == (op == "in")
    if op == "contains":
        return left is not None and right is not None and str(right) in str(left)
    if left is None or right is None:
        return False
    try:
        if op == "gt":
            return bool(left > right)
        if op == "gte":
            return bool(left >= right)
        if op == "lt":
            return bool(left < right)
        return bool(left <= right)
    except TypeError:
        return False


def _fold(value: Any) -> Any:
    return value.strip().lower() if isinstance(value, str) else value


def event_matches(event: Event, types: list[str], where: dict[str, Any]) -> bool:
    """True when the event has one of `types` and every `where` property equals."""
    if event.type not in types:
        return False
    return all(compare(event.properties.get(k), "eq", v) for k, v in where.items())


def evaluate(condition: Condition, facts: Facts) -> bool:
    """Decide a condition against the facts."""
    match condition:
        case ScoreIs(dimension=dim, op=op, value=value):
            return compare(facts.scores.get(dim, 0.0), op, value)
        case FitTierIs(tiers=tiers):
            return facts.fit_tier in tiers
        case AttributeIs(field=name, op=op, value=value):
            return compare(facts.lead.attribute(name), op, value)
        case EventSeen(types=types, at_least=at_least, within=within, where=where):
            since = facts.now - within if within is not None else None
            hits = sum(
                1 for e in facts.events
                if event_matches(e, types, where) and (since is None or e.at >= since)
            )
            return hits >= at_least
        case PropertyMatchesLead(types=types, property=prop, attribute=attr):
            newest = max((e for e in facts.events if e.type in types),
                         key=lambda e: e.at, default=None)
            if newest is None:
                return False
            wanted = facts.lead.attribute(attr)
            return wanted is not None and compare(newest.properties.get(prop), "eq", wanted)
        case Disqualified():
            return bool(facts.flags)
        case InPhase(phases=phases):
            return facts.phase in phases
        case AllOf(conditions=conditions):
            return all(evaluate(c, facts) for c in conditions)
        case AnyOf(conditions=conditions):
            return any(evaluate(c, facts) for c in conditions)
        case Not(condition=inner):
            return not evaluate(inner, facts)
    raise TypeError(f"unknown condition {condition!r}")  # pragma: no cover
