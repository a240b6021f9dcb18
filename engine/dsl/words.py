"""Values as people say them, for diffs and outlines: durations, counts, lists and
conditions."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from engine.dsl.conditions import (
    AllOf,
    AnyOf,
    AttributeIs,
    Condition,
    Disqualified,
    EventSeen,
    FitTierIs,
    InPhase,
    Not,
    PropertyMatchesLead,
    ScoreIs,
)
from engine.phrasing import count

__all__ = ["condition", "count", "join", "span", "text"]


def span(duration: timedelta) -> str:
    """A duration as people say it: 7 days, 1 day 6 hours, 30 minutes."""
    rest, parts = int(duration.total_seconds()), []
    for unit, size in (("day", 86_400), ("hour", 3_600), ("minute", 60), ("second", 1)):
        amount, rest = divmod(rest, size)
        if amount:
            parts.append(count(amount, unit))
    return " ".join(parts) or "no time"


def text(value: object) -> str:
    """Any value of a spec in words (none, 7 days, 2.5, a, b)."""
    if value is None:
        return "none"
    if isinstance(value, float | int):
        return f"{value:g}"
    if isinstance(value, timedelta):
        return span(value)
    if isinstance(value, dict):
        return ", ".join(f"{part} {text(item)}".strip() for part, item in value.items())
    return (", ".join(text(item) for item in value) or "none") if isinstance(value, list) \
        else str(value)


def join(words: Sequence[object], last: str) -> str:
    """a; a and b; a, b and c."""
    items = [str(word) for word in words]
    return f" {last} ".join([", ".join(items[:-1]), items[-1]]) if len(items) > 1 else \
        "".join(items)


_OPS = {"eq": "is", "ne": "is not", "gt": "is above", "gte": "is at least", "lt": "is below",
        "lte": "is at most", "in": "is one of", "not_in": "is none of", "contains": "contains"}


def condition(when: Condition) -> str:
    """A condition as ops read it: "intent score is at least 20 and seen pricing_page_viewed
    at least 2 times within 30 days"."""
    if isinstance(when, AllOf | AnyOf):
        joiner = " and " if isinstance(when, AllOf) else " or "
        return "(" + joiner.join(condition(c) for c in when.conditions) + ")"
    if isinstance(when, Not):
        return f"not {condition(when.condition)}"
    if isinstance(when, ScoreIs):
        return f"{when.dimension} score {_OPS[when.op]} {text(when.value)}"
    if isinstance(when, AttributeIs):
        return f"{when.field} {_OPS[when.op]} {text(when.value)}"
    if isinstance(when, FitTierIs):
        return f"fit is {join(when.tiers, 'or')}"
    if isinstance(when, EventSeen):
        times = f" at least {count(when.at_least, 'time')}" if when.at_least > 1 else ""
        within = f" within {span(when.within)}" if when.within else ""
        where = f" where {text(when.where)}" if when.where else ""
        return f"seen {join(when.types, 'or')}{where}{times}{within}"
    if isinstance(when, PropertyMatchesLead):
        return (f"{join(when.types, 'or')} with {when.property} matching the lead's "
                f"{when.attribute}")
    if isinstance(when, Disqualified):
        return "disqualified (student, competitor, job seeker…)"
    if isinstance(when, InPhase):
        return f"in phase {join(when.phases, 'or')}"
    return when.kind
