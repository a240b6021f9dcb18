"""Which events a lead has applied: a set of ids bounded by time, not by count.

A redelivered event carries the id it had (the API's inbound ledger keeps producers'
message ids unique, and the relay re-signals only what it cannot prove was delivered), so
a lead need only remember the ids that arrived in the last `WINDOW`: longer than any
window in which the relay or a producer redelivers (the relay retries within seconds of a
failed pass, or when the database or Temporal come back; seven days covers an outage of a
week). Ids are kept as 64-bit digests by day of arrival, so an id costs 11 characters
whatever its length. `MAX_IDS` bounds what a flood can make a lead carry: past it, the
oldest digests go first (a lead sent more than `MAX_IDS` events within the window by a bot
is protected for its newest `MAX_IDS`).
"""

from __future__ import annotations

import base64
import hashlib
from datetime import datetime, timedelta

from engine.journey.state import SeenIds

WINDOW = timedelta(days=7)
MAX_IDS = 20_000


def digest(event_id: str) -> str:
    """The short, fixed-size form of an event id that a lead remembers."""
    raw = hashlib.blake2b(event_id.encode(), digest_size=8).digest()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _index(seen: SeenIds) -> set[str]:
    if seen.index is None:
        seen.index = {d for day in seen.days.values() for d in day}
    return seen.index


def first_time(seen: SeenIds, event_id: str, now: datetime) -> bool:
    """Record that `event_id` arrived at `now`; False when it arrived before (within the
    window), so the event must not be applied again."""
    index, key = _index(seen), digest(event_id)
    if key in index:
        return False
    day = now.date().isoformat()
    if day not in seen.days:
        _forget_before(seen, (now - WINDOW).date().isoformat())
        seen.days[day] = []
    seen.days[day].append(key)
    index.add(key)
    if len(index) > MAX_IDS:
        _forget_oldest(seen, len(index) - MAX_IDS)
    return True


def _forget_before(seen: SeenIds, first_day: str) -> None:
    index = _index(seen)
    for day in [d for d in seen.days if d < first_day]:
        index.difference_update(seen.days.pop(day))


def _forget_oldest(seen: SeenIds, count: int) -> None:
    index = _index(seen)
    for day in sorted(seen.days):
        keys = seen.days[day]
        gone, seen.days[day] = keys[:count], keys[count:]
        index.difference_update(gone)
        count -= len(gone)
        if not seen.days[day]:
            del seen.days[day]
        if count <= 0:
            return
