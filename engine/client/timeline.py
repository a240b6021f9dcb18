"""A lead's timeline as a rep reads it: what the person did, and what nurture did with them.

The workflow's journal is the engine's record (profile fields that changed, score sums, the
playbook version); a rep needs behaviour ("viewed the pricing page", "downloaded the case
study “Lakeside Health: one source of truth”") and the moments that matter to a
conversation (an email they got, a move to another phase, the hand-over to sales). So
behaviour comes from the events accepted for the lead, journal lines are translated, and
bookkeeping lines are left out. Every line keeps its UTC time; pages show it in the
viewer's zone.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from engine.client.wording import TimelineEntry
from engine.events import (
    EMAIL_BOUNCED,
    EMAIL_CLICKED,
    EMAIL_OPENED,
    PAGE_VIEWED,
    UNSUBSCRIBED,
    Event,
)
from engine.handoff import MEANINGFUL
from engine.journey.state import JournalEntry

HIDDEN = frozenset({"profile", "score", "migrated", "retiered", "rerouted", "sla_breached"})
"""Journal kinds a rep does not read here: engine bookkeeping, and the task's own moments
(re-tiered, re-routed, breached), which the task's timeline shows."""

_MORE: dict[str, str] = {
    EMAIL_OPENED: "opened an email",
    EMAIL_CLICKED: "clicked a link in an email",
    UNSUBSCRIBED: "unsubscribed",
    EMAIL_BOUNCED: "had an email bounce",
    "careers_page_viewed": "looked at the careers page",
}
_NAMED_BY = ("title", "topic", "name")  # the property that names what was read or attended


def behaviour(events: Iterable[Event]) -> list[TimelineEntry]:
    """What the lead did, one line an event, in a rep's words; link scanners left out."""
    return [TimelineEntry(at=e.at, kind="lead", detail=did(e)) for e in events
            if e.properties.get("bot") is not True]


def did(event: Event) -> str:
    """One event in a rep's words: "downloaded a case study “Precision Parts …”"."""
    props = event.properties
    if event.type == "buying_committee_signal":
        who = props.get("contact") or "someone"
        title = f" ({props['title']})" if props.get("title") else ""
        return f"a colleague from the same account engaged: {who}{title}"
    if event.type == PAGE_VIEWED:
        return f"visited {props.get('path') or props.get('url') or 'a page'}"
    action = MEANINGFUL.get(event.type) or _MORE.get(event.type) \
        or event.type.replace("_", " ")
    name = next((str(props[key]) for key in _NAMED_BY if props.get(key)), "")
    if event.type == "webinar_attended" and props.get("minutes"):
        return f"{action} “{name}” for {props['minutes']} minutes" if name \
            else f"{action} for {props['minutes']} minutes"
    return f"{action} “{name}”" if name and event.type != "pricing_page_viewed" else action


def engine_moments(lines: Iterable[JournalEntry]) -> list[TimelineEntry]:
    """What nurture did with the lead, from its journal; bookkeeping left out."""
    entries = []
    for line in lines:
        detail = _moment(line.kind, line.data)
        if detail:
            entries.append(TimelineEntry(at=line.at, kind="nurture", detail=detail))
    return entries


def _moment(kind: str, data: dict[str, Any]) -> str:
    if kind in HIDDEN:
        return ""
    if kind == "enrolled":
        source = str(data.get("source") or "unknown").replace("_", " ")
        return f"became a lead (source: {source})"
    if kind == "email":
        return f"was sent “{data.get('subject') or data.get('template')}”"
    if kind == "phase":
        if not data.get("from"):
            return ""  # the first phase: "became a lead" says it
        reason = f": {data['reason']}" if data.get("reason") else ""
        return f"moved to {str(data.get('to')).replace('_', ' ')}{reason}"
    if kind == "escalation":
        return f"handed to sales, tier {data.get('tier')}"
    if kind == "sales_outcome":
        return f"sales answered: {data.get('status')}"
    if kind == "suppressed":
        return f"no more email: {data.get('reason')}"
    if kind == "exit":
        return f"left nurture: {data.get('reason')}"
    return kind.replace("_", " ")  # a moment added later: its name beats silence
