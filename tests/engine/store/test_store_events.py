"""Inbound events: recorded once per id, read back newest first."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from threading import Barrier

from engine.events import Event
from engine.store import Store


def _event(event_id: str, at: datetime, **properties: object) -> Event:
    return Event(id=event_id, type="pricing_page_viewed", at=at, properties=properties)


def test_an_event_delivered_twice_is_recorded_once(store: Store, now: datetime) -> None:
    first = _event("evt-1", now, path="/pricing")
    again = _event("evt-1", now + timedelta(minutes=5), path="/changed")

    assert store.record_event("lead-1", first, now=now) is True
    assert store.record_event("lead-1", again, now=now) is False

    assert store.events_for("lead-1") == [first]


def test_events_read_newest_first_up_to_the_limit(store: Store, now: datetime) -> None:
    for minutes in (0, 20, 10):
        store.record_event(
            "lead-1", _event(f"evt-{minutes}", now + timedelta(minutes=minutes)), now=now
        )
    store.record_event("lead-2", _event("evt-other", now), now=now)

    assert [e.id for e in store.events_for("lead-1")] == ["evt-20", "evt-10", "evt-0"]
    assert [e.id for e in store.events_for("lead-1", limit=2)] == ["evt-20", "evt-10"]


def test_event_properties_are_kept_as_json(store: Store, now: datetime) -> None:
    event = _event("evt-1", now, seen=now, tags=["a", "b"], depth={"scroll": 0.8})

    store.record_event("lead-1", event, now=now)

    (stored,) = store.events_for("lead-1")
    assert stored.properties == {
        "seen": "2026-01-05T09:30:00Z",
        "tags": ["a", "b"],
        "depth": {"scroll": 0.8},
    }


def test_the_same_event_from_many_threads_is_recorded_once(store: Store, now: datetime) -> None:
    start = Barrier(6)

    def deliver(_: int) -> bool:
        start.wait()
        return store.record_event("lead-1", _event("evt-1", now), now=now)

    with ThreadPoolExecutor(max_workers=6) as pool:
        outcomes = list(pool.map(deliver, range(6)))

    assert outcomes.count(True) == 1
    assert len(store.events_for("lead-1")) == 1
