"""Segment's HTTP Tracking API, read into the engine's terms."""

from engine.api.segment.calls import (
    CALL_TYPES,
    MAX_EVENT_BYTES,
    account_traits,
    event_time,
    profile_traits,
    read_calls,
)

__all__ = ["CALL_TYPES", "MAX_EVENT_BYTES", "account_traits", "event_time", "profile_traits",
           "read_calls"]
