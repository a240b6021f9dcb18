"""A Segment call as sent: the fields the engine reads, checked and normalised.

Ids arrive as strings or numbers and are kept as trimmed text; missing objects are empty;
timestamps become aware UTC. Any other field is ignored.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

_ID_LIMIT = 200


class SegmentCall(BaseModel):
    """Fields every Segment call may carry (camelCase, as sent)."""

    model_config = ConfigDict(extra="ignore")

    type: str | None = None
    userId: str | None = None
    anonymousId: str | None = None
    messageId: str | None = Field(default=None, max_length=_ID_LIMIT)
    timestamp: datetime | None = None
    originalTimestamp: datetime | None = None
    sentAt: datetime | None = None
    context: dict[str, Any] = Field(default_factory=dict)
    event: str | None = None
    name: str | None = None
    properties: dict[str, Any] = Field(default_factory=dict)
    traits: dict[str, Any] = Field(default_factory=dict)
    groupId: str | None = None
    previousId: str | None = None

    @field_validator("userId", "anonymousId", "groupId", "previousId", mode="before")
    @classmethod
    def _id_as_text(cls, value: Any) -> Any:
        if isinstance(value, bool):
            raise ValueError("must be a string or a number")
        if isinstance(value, int | float):
            value = str(value)
        return _text_id(value)

    @field_validator("messageId", mode="before")
    @classmethod
    def _message_id_as_text(cls, value: Any) -> Any:
        return _text_id(value)

    @field_validator("context", "properties", "traits", mode="before")
    @classmethod
    def _none_is_empty(cls, value: Any) -> Any:
        return {} if value is None else value

    @field_validator("timestamp", "originalTimestamp", "sentAt")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        if value is None:
            return None
        try:
            return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        except OverflowError:  # e.g. 0001-01-01T00:00+01:00 is before year 1 in UTC
            raise ValueError("is out of the range of dates") from None


def _text_id(value: Any) -> Any:
    if isinstance(value, str):
        value = value.strip()
        if len(value) > _ID_LIMIT:
            raise ValueError(f"must be at most {_ID_LIMIT} characters")
        if "\x00" in value:  # PostgreSQL cannot store it: refuse rather than fail later
            raise ValueError("must not contain NUL characters")
        return value or None
    return value
