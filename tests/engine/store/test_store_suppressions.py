"""Suppressions: an address is suppressed once, whatever its letter case."""

from __future__ import annotations

from datetime import datetime

from engine.store import Store


def test_suppression_ignores_letter_case(store: Store, now: datetime) -> None:
    assert store.suppress(" Ada@ACME.io", lead_id="lead-1", reason="unsubscribed", now=now)

    assert store.suppression("ada@acme.io") == "unsubscribed"
    assert store.suppression("ADA@Acme.IO") == "unsubscribed"


def test_suppressing_twice_keeps_the_first_reason(store: Store, now: datetime) -> None:
    store.suppress("ada@acme.io", lead_id="lead-1", reason="unsubscribed", now=now)

    assert store.suppress("ADA@acme.io", lead_id=None, reason="hard_bounce", now=now) is False
    assert store.suppression("ada@acme.io") == "unsubscribed"


def test_an_address_never_suppressed_may_be_mailed(store: Store) -> None:
    assert store.suppression("grace@acme.io") is None
