"""Leads: profiles, their position in the nurture, and their colleagues at the same account."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlmodel import Session

from engine.leads import LeadProfile
from engine.store import LeadRow, RecordNotFoundError, Store


def _lead_row(store: Store, lead_id: str) -> LeadRow:
    with Session(store.engine) as session:
        row = session.get(LeadRow, lead_id)
        assert row is not None
        return row


def test_a_stored_lead_reads_back_with_its_profile(store: Store, now: datetime) -> None:
    profile = LeadProfile(
        id="lead-1",
        email="ada@acme.io",
        first_name="Ada",
        title="VP Engineering",
        company="Acme",
        company_domain="acme.io",
        company_size=250,
        country="DE",
        timezone="Europe/Berlin",
        source="webinar",
    )
    store.upsert_lead(profile, now=now)

    assert store.get_lead("lead-1") == profile


def test_an_unknown_lead_reads_as_none(store: Store) -> None:
    assert store.get_lead("nobody") is None


def test_updating_a_profile_keeps_its_creation_time_and_position(
    store: Store, now: datetime
) -> None:
    store.upsert_lead(LeadProfile(id="lead-1", email="ada@acme.io"), now=now)
    store.set_lead_position("lead-1", phase="acceleration", track="pricing", now=now)
    later = now + timedelta(days=3)

    store.upsert_lead(LeadProfile(id="lead-1", email="ada@acme.io", title="CTO"), now=later)

    row = _lead_row(store, "lead-1")
    assert (row.title, row.phase, row.track) == ("CTO", "acceleration", "pricing")
    assert (row.created_at, row.updated_at) == (now, later)


def test_a_new_lead_starts_in_qualification(store: Store, now: datetime) -> None:
    store.upsert_lead(LeadProfile(id="lead-1", email="ada@acme.io"), now=now)

    row = _lead_row(store, "lead-1")
    assert (row.phase, row.track) == ("qualification", None)


def test_moving_a_lead_that_was_never_stored_says_to_store_it_first(
    store: Store, now: datetime
) -> None:
    with pytest.raises(RecordNotFoundError, match="upsert_lead"):
        store.set_lead_position("ghost", phase="conversion", track=None, now=now)


def test_colleagues_are_other_leads_at_the_same_domain_oldest_first(
    store: Store, now: datetime
) -> None:
    people = [
        ("me", "Acme.io"),
        ("newer", "acme.io"),
        ("older", "ACME.IO"),
        ("elsewhere", "other.io"),
    ]
    joined = {"me": 1, "newer": 5, "older": 0, "elsewhere": 2}
    for lead_id, domain in people:
        profile = LeadProfile(id=lead_id, email=f"{lead_id}@x.io", company_domain=domain)
        store.upsert_lead(profile, now=now + timedelta(days=joined[lead_id]))

    assert store.colleagues("me", "acme.io") == ["older", "newer"]
    assert store.colleagues("me", "") == []


def test_registering_a_lead_stores_it_and_answers_its_colleagues_and_suppression(
    store: Store, now: datetime
) -> None:
    store.upsert_lead(LeadProfile(id="first", email="first@acme.io", company_domain="ACME.io"),
                      now=now)
    store.suppress("Second@Acme.io", lead_id=None, reason="unsubscribed", now=now)
    second = LeadProfile(id="second", email="second@acme.io", company_domain="acme.io")

    assert store.register_lead(second, now=now, colleagues_at="acme.io") == (
        ["first"], "unsubscribed")
    assert store.get_lead("second") == second
    assert store.register_lead(second.model_copy(update={"title": "CMO"}), now=now,
                               colleagues_at=None) == ([], "unsubscribed")
    stored = store.get_lead("second")
    assert stored is not None and stored.title == "CMO"
