"""Page rules: which website paths are which behavioral events.

A `page` call from a website becomes a typed event by the first rule whose pattern matches
its path (`/pricing*` -> `pricing_page_viewed`); paths no rule names stay `page_viewed`.
Patterns are shell-style globs on the path, case-insensitive, trailing slash ignored.
"""

from __future__ import annotations

from fnmatch import fnmatchcase

from pydantic import BaseModel, ConfigDict, field_validator

from engine.events import PAGE_VIEWED, normalize_event_type


class PageRule(BaseModel):
    """Pages whose path matches `pattern` become `event` events."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    pattern: str
    event: str

    @field_validator("pattern")
    @classmethod
    def _pattern_is_a_path(cls, value: str) -> str:
        if not value.startswith("/"):
            raise ValueError(f"page pattern {value!r} must start with '/', e.g. '/pricing*'")
        return value.lower().rstrip("/") or "/"

    @field_validator("event")
    @classmethod
    def _event_is_a_type(cls, value: str) -> str:
        if normalize_event_type(value) != value:
            raise ValueError(f"page event {value!r} must be lower_snake_case, e.g. "
                             f"{normalize_event_type(value)!r}")
        return value


def page(pattern: str, event: str) -> PageRule:
    """A page rule: `page("/customers/*", CASE_STUDY_VIEWED)`."""
    return PageRule(pattern=pattern, event=event)


def page_event_type(path: str, rules: list[PageRule]) -> str:
    """The event type for a visited path: the first matching rule's, else `page_viewed`."""
    cleaned = path.split("?", 1)[0].split("#", 1)[0].lower().rstrip("/") or "/"
    for rule in rules:
        if fnmatchcase(cleaned, rule.pattern):
            return rule.event
    return PAGE_VIEWED
