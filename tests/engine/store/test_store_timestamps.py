"""Every datetime comes back aware and in UTC, on SQLite as on PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from engine.events import Event
from engine.leads import LeadProfile
from engine.store import Store, as_utc

KOLKATA = timezone(timedelta(hours=5, minutes=30))
MOMENT = datetime(2026, 3, 29, 1, 59, 59, 123456, tzinfo=KOLKATA)


def _is_utc(value: datetime | None) -> bool:
    return value is not None and value.tzinfo is UTC


def test_aware_datetimes_round_trip_as_the_same_utc_instant(store: Store) -> None:
    store.upsert_lead(LeadProfile(id="lead-1", email="ada@acme.io"), now=MOMENT)
    store.record_event("lead-1", Event(id="e", type="page_viewed", at=MOMENT), now=MOMENT)
    store.begin_send(
        key="k",
        lead_id="lead-1",
        to_address="ada@acme.io",
        template="t",
        track="q",
        step="s",
        subject="Hi",
        message_id="<m@x>",
        now=MOMENT,
    )
    store.finish_send("k", status="sent", now=MOMENT)
    store.create_sales_task(
        id="t",
        lead_id="lead-1",
        kind="alert",
        tier=2,
        reason="r",
        opener="o",
        handoff={},
        now=MOMENT,
        due_at=MOMENT + timedelta(hours=4),
    )

    (event,) = store.events_for("lead-1")
    (send,) = store.sends_for("lead-1")
    (task,) = store.sales_tasks()
    read_back = [event.at, send.created_at, send.sent_at, task.created_at, task.due_at]
    assert all(_is_utc(value) for value in read_back)
    assert read_back[:4] == [MOMENT] * 4
    assert task.due_at == MOMENT + timedelta(hours=4)
    assert event.at == datetime(2026, 3, 28, 20, 29, 59, 123456, tzinfo=UTC)


def test_a_datetime_without_a_zone_is_refused(store: Store) -> None:
    naive = datetime(2026, 1, 5, 9, 30)

    with pytest.raises(ValueError, match="no time zone"):
        store.upsert_lead(LeadProfile(id="lead-1", email="ada@acme.io"), now=naive)
    assert store.get_lead("lead-1") is None


def test_as_utc_keeps_the_instant() -> None:
    assert as_utc(MOMENT) == MOMENT
    assert as_utc(MOMENT).tzinfo is UTC
