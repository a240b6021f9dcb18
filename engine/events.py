"""Behavioral events: the canonical types and the event model."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

PAGE_VIEWED = "page_viewed"
BLOG_VIEWED = "blog_viewed"
PRICING_PAGE_VIEWED = "pricing_page_viewed"
DEMO_PAGE_VIEWED = "demo_page_viewed"
CASE_STUDY_VIEWED = "case_study_viewed"
CASE_STUDY_DOWNLOADED = "case_study_downloaded"
ROI_CALCULATOR_USED = "roi_calculator_used"
COMPARISON_VIEWED = "comparison_viewed"
CONTENT_DOWNLOADED = "content_downloaded"
WEBINAR_REGISTERED = "webinar_registered"
WEBINAR_ATTENDED = "webinar_attended"
FORM_SUBMITTED = "form_submitted"
DEMO_REQUESTED = "demo_requested"
CONTACT_REQUESTED = "contact_requested"
EMAIL_OPENED = "email_opened"
EMAIL_CLICKED = "email_clicked"
EMAIL_REPLIED = "email_replied"
UNSUBSCRIBED = "unsubscribed"
EMAIL_BOUNCED = "email_bounced"
BUYING_COMMITTEE_SIGNAL = "buying_committee_signal"

CANONICAL_TYPES: frozenset[str] = frozenset(
    {
        PAGE_VIEWED, BLOG_VIEWED, PRICING_PAGE_VIEWED, DEMO_PAGE_VIEWED, CASE_STUDY_VIEWED,
        CASE_STUDY_DOWNLOADED, ROI_CALCULATOR_USED, COMPARISON_VIEWED, CONTENT_DOWNLOADED,
        WEBINAR_REGISTERED, WEBINAR_ATTENDED, FORM_SUBMITTED, DEMO_REQUESTED, CONTACT_REQUESTED,
        EMAIL_OPENED, EMAIL_CLICKED, EMAIL_REPLIED, UNSUBSCRIBED, EMAIL_BOUNCED,
        BUYING_COMMITTEE_SIGNAL,
    }
)

_TYPE_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


def normalize_event_type(name: str) -> str:
    """Turn a producer's event name ("Pricing Page Viewed") into a canonical type."""
    cleaned = re.sub(r"[^a-z0-9]+", "_", name.strip().lower()).strip("_")
    if not cleaned or not cleaned[0].isalpha():
        raise ValueError(f"event type {name!r} must start with a letter")
    return cleaned[:64]


class Event(BaseModel):
    """One behavioral event about one lead. `id` makes delivery idempotent."""

    model_config = ConfigDict(frozen=True)

    id: str = Field(min_length=1, max_length=200)
    type: str
    at: datetime
    properties: dict[str, Any] = Field(default_factory=dict)

    @field_validator("type")
    @classmethod
    def _type_is_identifier(cls, value: str) -> str:
        if not _TYPE_PATTERN.match(value):
            raise ValueError(
                f"event type {value!r} must be lower_snake_case, e.g. 'pricing_page_viewed'"
            )
        return value

    @field_validator("at")
    @classmethod
    def _at_is_aware(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("event time must carry a time zone (e.g. '2026-01-05T10:00:00Z')")
        return value
