"""Values as people say them, for diffs and outlines: durations, counts, lists."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta


def span(duration: timedelta) -> str:
    """A duration as people say it: 7 days, 1 day 6 hours, 30 minutes."""
    rest, parts = int(duration.total_seconds()), []
    for unit, size in (("day", 86_400), ("hour", 3_600), ("minute", 60), ("second", 1)):
        amount, rest = divmod(rest, size)
        if amount:
            parts.append(count(amount, unit))
    return " ".join(parts) or "no time"


def count(amount: int, unit: str) -> str:
    """1 day, 2 days."""
    return f"{amount} {unit}{'' if amount == 1 else 's'}"


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
