"""Email sends: claimed before SMTP, sent at most once, never resent after a crash."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from threading import Barrier

import pytest

from engine.store import OUTCOME_UNKNOWN, RecordNotFoundError, SendClaim, Store


def _claim(store: Store, now: datetime, key: str = "lead-1/welcome/1", *,
           message: bytes | None = None, **changes: str) -> SendClaim:
    fields = {
        "lead_id": "lead-1",
        "to_address": "ada@acme.io",
        "template": "welcome",
        "track": "qualification",
        "step": "welcome",
        "subject": "Welcome, Ada",
        "message_id": "<m1@nurture.test>",
    }
    return store.begin_send(key=key, now=now, message=message, **{**fields, **changes})


def test_a_new_send_is_claimed_as_queued_and_keeps_its_message(
    store: Store, now: datetime
) -> None:
    assert _claim(store, now, message=b"raw") == "send"

    (row,) = store.sends_for("lead-1")
    assert (row.status, row.attempts, row.sent_at, row.error) == ("queued", 1, None, None)
    assert (row.to_address, row.template, row.subject) == ("ada@acme.io", "welcome", "Welcome, Ada")
    assert row.message == b"raw"


def test_a_send_is_committed_once_and_its_message_dropped_when_finished(
    store: Store, now: datetime
) -> None:
    _claim(store, now, message=b"raw")

    assert store.commit_send("lead-1/welcome/1") is True
    assert store.commit_send("lead-1/welcome/1") is False  # it is going out already
    assert store.sends_for("lead-1")[0].status == "sending"

    store.finish_send("lead-1/welcome/1", status="sent", now=now)
    (row,) = store.sends_for("lead-1")
    assert (row.status, row.message) == ("sent", None)


def test_a_sent_email_is_not_sent_again(store: Store, now: datetime) -> None:
    assert _claim(store, now) == "send"
    store.finish_send("lead-1/welcome/1", status="sent", now=now + timedelta(seconds=2))

    assert _claim(store, now + timedelta(minutes=1)) == "done"

    (row,) = store.sends_for("lead-1")
    assert (row.status, row.attempts, row.sent_at) == ("sent", 1, now + timedelta(seconds=2))


@pytest.mark.parametrize("outcome", ["failed", "skipped"])
def test_a_failed_or_skipped_send_is_done(store: Store, now: datetime, outcome: str) -> None:
    _claim(store, now)
    store.finish_send("lead-1/welcome/1", status=outcome, now=now, error="why")

    assert _claim(store, now) == "done"
    assert store.sends_for("lead-1")[0].status == outcome


def test_a_crash_before_the_message_went_out_sends_on_the_next_attempt(
    store: Store, now: datetime
) -> None:
    assert _claim(store, now) == "send"
    # The worker dies here: claimed, but the message was never handed to the server.

    assert _claim(store, now + timedelta(minutes=1)) == "send"
    (row,) = store.sends_for("lead-1")
    assert (row.status, row.attempts) == ("queued", 2)


def test_a_crash_while_the_message_went_out_is_unknown_and_never_sent_again(
    store: Store, now: datetime
) -> None:
    assert _claim(store, now, message=b"raw") == "send"
    assert store.commit_send("lead-1/welcome/1")
    # The worker dies here, between handing the message over and hearing back.

    assert _claim(store, now + timedelta(minutes=1)) == "unknown"
    assert _claim(store, now + timedelta(minutes=2)) == "done"

    (row,) = store.sends_for("lead-1")
    assert (row.status, row.error, row.attempts) == ("failed", OUTCOME_UNKNOWN, 1)
    assert row.message == b"raw"  # kept for an operator's re-send
    assert [r.key for r in store.unknown_sends()] == ["lead-1/welcome/1"]
    assert store.count_unknown_sends() == 1


def test_an_operator_reclaims_an_unknown_send_once(store: Store, now: datetime) -> None:
    _claim(store, now, message=b"raw")
    store.commit_send("lead-1/welcome/1")
    _claim(store, now)  # marks it unknown
    _claim(store, now, key="fine")

    assert store.reclaim_unknown("fine") is None  # not unknown: nothing to re-send
    row = store.reclaim_unknown("lead-1/welcome/1")
    assert row is not None and (row.status, row.message) == ("sending", b"raw")
    assert store.reclaim_unknown("lead-1/welcome/1") is None  # taken already
    assert store.count_unknown_sends() == 0

    store.finish_send("lead-1/welcome/1", status="sent", now=now)
    assert store.get_send("lead-1/welcome/1").status == "sent"  # type: ignore[union-attr]


def test_a_transient_failure_is_sent_again_as_a_second_attempt(store: Store, now: datetime) -> None:
    _claim(store, now)
    store.finish_send("lead-1/welcome/1", status="retry", now=now, error="421 try later")

    assert _claim(store, now, message_id="<m2@nurture.test>") == "send"

    (row,) = store.sends_for("lead-1")
    assert (row.status, row.attempts, row.error) == ("queued", 2, None)
    assert row.message_id == "<m2@nurture.test>"


def test_concurrent_attempts_of_one_send_let_exactly_one_message_out(
    store: Store, now: datetime
) -> None:
    start = Barrier(8)

    def attempt(_: int) -> bool:
        start.wait()
        return _claim(store, now) == "send" and store.commit_send("lead-1/welcome/1")

    with ThreadPoolExecutor(max_workers=8) as pool:
        went_out = list(pool.map(attempt, range(8)))

    assert went_out.count(True) == 1


def test_the_senders_outcome_overrides_an_unknown_mark(store: Store, now: datetime) -> None:
    _claim(store, now)
    store.commit_send("lead-1/welcome/1")
    assert _claim(store, now) == "unknown"  # a duplicate attempt while the first still runs

    store.finish_send("lead-1/welcome/1", status="sent", now=now)

    (row,) = store.sends_for("lead-1")
    assert (row.status, row.error, row.sent_at) == ("sent", None, now)
    assert store.count_unknown_sends() == 0


def test_sends_are_listed_oldest_first_per_lead(store: Store, now: datetime) -> None:
    _claim(store, now + timedelta(days=2), key="b")
    _claim(store, now, key="a")
    _claim(store, now, key="other", lead_id="lead-2")

    assert [row.key for row in store.sends_for("lead-1")] == ["a", "b"]


def test_finishing_a_send_that_was_never_claimed_is_an_error(store: Store, now: datetime) -> None:
    with pytest.raises(RecordNotFoundError, match="begin_send"):
        store.finish_send("nope", status="sent", now=now)


@pytest.mark.parametrize("status", ["sending", "queued", "delivered"])
def test_finishing_with_a_status_that_is_not_an_outcome_is_refused(
    store: Store, now: datetime, status: str
) -> None:
    _claim(store, now)

    with pytest.raises(ValueError):
        store.finish_send("lead-1/welcome/1", status=status, now=now)
