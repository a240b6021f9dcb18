"""Segment's HTTP Tracking API, read into the engine's terms.

Segment, RudderStack and Jitsu clients send `track`, `identify`, `page`, `screen`, `group`
and `alias` calls (alone or in a `batch`) with Segment's field names. `read_calls` checks
them and turns each into an `Inbound` message for the store: behavior becomes an event,
traits become a profile patch, an alias links two ids. Anything malformed raises
`PayloadError` naming the field (`batch[3].userId`), and nothing from that request is kept.

A call as sent is modelled in `payload`, read into messages in `calls`, and its traits read
as profile fields in `traits`.
"""

from engine.api.segment.calls import CALL_TYPES, MAX_EVENT_BYTES, event_time, read_calls
from engine.api.segment.payload import SegmentCall
from engine.api.segment.traits import account_traits, profile_traits

__all__ = ["CALL_TYPES", "MAX_EVENT_BYTES", "SegmentCall", "account_traits", "event_time",
           "profile_traits", "read_calls"]
