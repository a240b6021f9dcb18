"""The sales ledger: tasks change only while open, the inbox lists them soonest due first,
timelines lose nothing under concurrency, turns and tokens are shared across processes."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import event, insert
from sqlmodel import Session, select

from engine.leads import LeadProfile
from engine.store import SalesTaskRow, SalesTokenRow, Store, TaskStatus


def _open(store: Store, now: datetime, task_id: str = "t-1", **changes: Any) -> bool:
    fields: dict[str, Any] = {
        "lead_id": "lead-1",
        "kind": "escalation",
        "tier": 1,
        "reason": "Requested a demo after two pricing visits",
        "opener": "Want a walkthrough for your team?",
        "handoff": {"source": "webinar"},
        "due_at": now + timedelta(hours=1),
        "owner": "ann",
        "owner_name": "Ann Lee",
        "route_rule": "territory",
        "follow_up_until": now + timedelta(days=2),
    }
    return store.create_sales_task(id=task_id, now=now, **{**fields, **changes})


def _task(store: Store, task_id: str = "t-1") -> SalesTaskRow:
    task = store.sales_task(task_id)
    assert task is not None
    return task


def _kinds(store: Store, task_id: str = "t-1") -> list[str]:
    return [entry["kind"] for entry in _task(store, task_id).timeline]


# opening

def test_a_task_is_opened_once_with_its_owner_and_clocks(store: Store, now: datetime) -> None:
    assert _open(store, now) is True
    assert _open(store, now + timedelta(minutes=5), owner="bob", owner_name="Bob") is False

    task = _task(store)
    assert (task.status, task.owner, task.owner_name, task.route_rule) == (
        "open", "ann", "Ann Lee", "territory")
    assert (task.created_at, task.due_at, task.follow_up_until) == (
        now, now + timedelta(hours=1), now + timedelta(days=2))
    assert (task.breached_at, task.closed_at, task.closed_by, task.reroutes) == (
        None, None, None, 0)
    assert task.timeline == [{"at": "2026-01-05T09:30:00Z", "kind": "opened", "by": "system",
                              "detail": "assigned to Ann Lee (territory)"}]
    assert store.sales_task("nope") is None


def test_a_task_without_routing_has_no_owner(store: Store, now: datetime) -> None:
    store.create_sales_task(id="t-1", lead_id="lead-1", kind="alert", tier=2, reason="r",
                            opener="o", handoff={}, now=now, due_at=None)

    task = _task(store)
    assert (task.owner, task.owner_name, task.route_rule, task.follow_up_until) == (
        None, None, "", None)
    assert task.timeline[0]["detail"] == "no owner"


# dismissing

def test_an_alert_is_dismissed_once_and_an_escalation_never(store: Store, now: datetime) -> None:
    _open(store, now, "a-1", kind="alert", due_at=None)
    _open(store, now, "e-1")
    later = now + timedelta(minutes=3)

    assert store.dismiss_alert("a-1", at=later, by="ann") is True
    assert store.dismiss_alert("a-1", at=later + timedelta(minutes=1), by="bob") is False
    assert store.dismiss_alert("e-1", at=later, by="ann") is False
    assert store.dismiss_alert("missing", at=later, by="ann") is False

    alert = _task(store, "a-1")
    assert (alert.status, alert.closed_at, alert.closed_by) == ("dismissed", later, "ann")
    assert alert.timeline[-1] == {"at": "2026-01-05T09:33:00Z", "kind": "dismissed",
                                  "by": "ann", "detail": ""}
    assert _task(store, "e-1").status == "open" and _kinds(store, "e-1") == ["opened"]
    assert [t.id for t in store.list_sales_tasks(kind="alert")] == []
    assert [t.id for t in store.list_sales_tasks(kind="alert", status="dismissed")] == ["a-1"]


# closing

def test_a_task_is_closed_once(store: Store, now: datetime) -> None:
    _open(store, now)
    later = now + timedelta(minutes=20)

    assert store.close_task("t-1", status="accepted", at=later, by="ann", note="Booked a call",
                            next_step="discovery call", time_to_sql_seconds=1200.0) is True
    assert store.close_task("t-1", status="rejected", at=later + timedelta(minutes=1),
                            by="bob", reason="poor_fit") is False

    task = _task(store)
    assert (task.status, task.closed_at, task.closed_by) == ("accepted", later, "ann")
    assert (task.outcome_reason, task.outcome_note, task.next_step) == (
        None, "Booked a call", "discovery call")
    assert task.time_to_sql_seconds == 1200.0
    assert task.timeline[-1] == {"at": "2026-01-05T09:50:00Z", "kind": "accepted", "by": "ann",
                                 "detail": "Booked a call"}
    assert _kinds(store) == ["opened", "accepted"]


def test_a_recycled_task_keeps_its_reason_and_date(store: Store, now: datetime) -> None:
    _open(store, now)

    assert store.close_task("t-1", status=TaskStatus.RECYCLED, at=now, by="ann",
                            reason="timing_not_active", note="Budget opens in Q3",
                            recycle_until=date(2026, 7, 1)) is True

    task = _task(store)
    assert (task.status, task.outcome_reason, task.recycle_until) == (
        "recycled", "timing_not_active", date(2026, 7, 1))
    assert task.timeline[-1]["detail"] == (
        "timing_not_active — Budget opens in Q3 — until 2026-07-01")


def test_closing_an_unknown_task_or_as_open_fails_plainly(store: Store, now: datetime) -> None:
    _open(store, now)

    assert store.close_task("missing", status="accepted", at=now, by="ann") is False
    with pytest.raises(ValueError, match="accepted, rejected or recycled"):
        store.close_task("t-1", status="open", at=now, by="ann")
    with pytest.raises(ValueError):
        store.close_task("t-1", status="won", at=now, by="ann")
    assert _task(store).status == "open"


# breaches, reroutes and notes

def test_a_breach_is_recorded_on_an_open_task_once(store: Store, now: datetime) -> None:
    _open(store, now)
    due = now + timedelta(hours=1)

    assert store.breach_task("t-1", at=due, detail="no answer within 1 business hour") is True
    assert store.breach_task("t-1", at=due, detail="no answer within 1 business hour") is True

    task = _task(store)
    assert task.breached_at == due
    assert task.timeline[1:] == [{"at": "2026-01-05T10:30:00Z", "kind": "sla_breached",
                                  "by": "system", "detail": "no answer within 1 business hour"}]


def test_a_reroute_moves_the_task_and_clears_the_breach(store: Store, now: datetime) -> None:
    _open(store, now)
    store.breach_task("t-1", at=now + timedelta(hours=1), detail="late")
    moved_at = now + timedelta(hours=2)

    for _ in range(2):  # a retried call changes nothing more
        assert store.reassign_task("t-1", owner="bob", owner_name="Bob Ray", rule="round_robin",
                                   due_at=moved_at + timedelta(hours=1), at=moved_at) is True

    task = _task(store)
    assert (task.owner, task.owner_name, task.route_rule, task.reroutes) == (
        "bob", "Bob Ray", "round_robin", 1)
    assert (task.due_at, task.breached_at) == (moved_at + timedelta(hours=1), None)
    assert task.timeline[-1] == {"at": "2026-01-05T11:30:00Z", "kind": "rerouted",
                                 "by": "system", "detail": "from Ann Lee to Bob Ray (round_robin)"}

    later = moved_at + timedelta(hours=3)
    assert store.reassign_task("t-1", owner="cy", owner_name="Cy", rule="round_robin",
                               due_at=later, at=later) is True
    assert (_task(store).reroutes, _task(store).timeline[-1]["detail"]) == (
        2, "from Bob Ray to Cy (round_robin)")


def test_a_task_is_made_more_urgent_but_never_less(store: Store, now: datetime) -> None:
    _open(store, now, tier=3, due_at=now + timedelta(days=3))
    store.breach_task("t-1", at=now, detail="late")

    assert store.retier_task("t-1", tier=1, due_at=now + timedelta(minutes=30), at=now,
                             detail="now tier 1: asked for a demo") is True
    assert store.retier_task("t-1", tier=2, due_at=now + timedelta(hours=8), at=now,
                             detail="now tier 2") is True  # nothing to do: already tier 1

    task = _task(store)
    assert (task.tier, task.due_at, task.breached_at) == (1, now + timedelta(minutes=30), None)
    assert _kinds(store) == ["opened", "sla_breached", "retiered"]
    store.close_task("t-1", status="accepted", at=now, by="ann")
    assert store.retier_task("t-1", tier=1, due_at=now, at=now, detail="x") is False


def test_a_re_tier_after_the_deadline_passed_counts_from_the_hand_raise(
        store: Store, now: datetime) -> None:
    _open(store, now - timedelta(days=4), tier=3, due_at=now - timedelta(days=1))
    store.breach_task("t-1", at=now - timedelta(days=1), detail="late")

    fresh = now + timedelta(minutes=30)
    assert store.retier_task("t-1", tier=1, due_at=fresh, at=now,
                             detail="now tier 1: requested a demo") is True

    task = _task(store)
    assert (task.tier, task.due_at, task.breached_at) == (1, fresh, None)


def test_a_re_tier_keeps_a_sooner_deadline_that_is_still_ahead(store: Store,
                                                                now: datetime) -> None:
    _open(store, now - timedelta(days=3), tier=3, due_at=now + timedelta(minutes=10))

    assert store.retier_task("t-1", tier=1, due_at=now + timedelta(minutes=30), at=now,
                             detail="now tier 1: requested a demo") is True

    assert _task(store).due_at == now + timedelta(minutes=10)


def test_a_closed_task_is_neither_breached_nor_rerouted(store: Store, now: datetime) -> None:
    _open(store, now)
    store.close_task("t-1", status="rejected", at=now, by="ann", reason="no_business_need")
    later = now + timedelta(hours=1)

    assert store.breach_task("t-1", at=later, detail="late") is False
    assert store.reassign_task("t-1", owner="bob", owner_name="Bob", rule="round_robin",
                               due_at=later, at=later) is False
    assert store.breach_task("missing", at=later, detail="late") is False
    assert store.reassign_task("missing", owner="bob", owner_name="Bob", rule="r",
                               due_at=later, at=later) is False

    task = _task(store)
    assert (task.status, task.owner, task.breached_at, task.reroutes) == (
        "rejected", "ann", None, 0)
    assert _kinds(store) == ["opened", "rejected"]


def test_notes_are_kept_in_order_on_any_task(store: Store, now: datetime) -> None:
    _open(store, now)
    zurich = timezone(timedelta(hours=1))

    assert store.note_task("t-1", kind="notified", detail="email to ann", at=now) is True
    store.close_task("t-1", status="accepted", at=now + timedelta(minutes=1), by="ann")
    assert store.note_task("t-1", kind="comment", detail="call went well", by="ann",
                           at=datetime(2026, 1, 5, 11, 0, tzinfo=zurich)) is True
    assert store.note_task("t-1", kind="comment", detail="call went well", by="ann",
                           at=datetime(2026, 1, 5, 10, 0, tzinfo=UTC)) is True  # the same note
    assert store.note_task("missing", kind="comment", detail="x", at=now) is False

    assert _task(store).timeline == [
        {"at": "2026-01-05T09:30:00Z", "kind": "opened", "by": "system",
         "detail": "assigned to Ann Lee (territory)"},
        {"at": "2026-01-05T09:30:00Z", "kind": "notified", "by": "system",
         "detail": "email to ann"},
        {"at": "2026-01-05T09:31:00Z", "kind": "accepted", "by": "ann", "detail": ""},
        {"at": "2026-01-05T10:00:00Z", "kind": "comment", "by": "ann",
         "detail": "call went well"},
    ]


def test_notes_from_many_threads_are_all_kept(store: Store, now: datetime) -> None:
    _open(store, now)
    writers, notes = 8, 15

    def write(writer: int) -> list[bool]:
        return [store.note_task("t-1", kind="comment", detail=f"{writer}:{n}", by=f"w{writer}",
                                at=now + timedelta(seconds=n)) for n in range(notes)]

    with ThreadPoolExecutor(max_workers=writers) as pool:
        results = [ok for done in pool.map(write, range(writers)) for ok in done]

    assert all(results)
    details = [entry["detail"] for entry in _task(store).timeline[1:]]
    assert len(details) == writers * notes
    for writer in range(writers):  # each writer's notes in the order it wrote them
        assert [d for d in details if d.startswith(f"{writer}:")] == [
            f"{writer}:{n}" for n in range(notes)]


# the inbox

def test_the_inbox_lists_soonest_due_first_and_undated_last(store: Store, now: datetime) -> None:
    _open(store, now, "undated", due_at=None)
    _open(store, now + timedelta(minutes=2), "later-b", due_at=now + timedelta(hours=3))
    _open(store, now + timedelta(minutes=1), "later-a", due_at=now + timedelta(hours=3))
    _open(store, now + timedelta(minutes=1), "later-0", due_at=now + timedelta(hours=3))
    _open(store, now + timedelta(minutes=9), "soon", due_at=now + timedelta(minutes=30))

    assert [t.id for t in store.list_sales_tasks()] == [
        "soon", "later-0", "later-a", "later-b", "undated"]
    assert [t.id for t in store.list_sales_tasks(limit=2, offset=1)] == ["later-0", "later-a"]
    assert store.list_sales_tasks(offset=10) == []
    with pytest.raises(ValueError):
        store.list_sales_tasks(limit=-1)


def test_the_inbox_shows_who_each_lead_is(store: Store, now: datetime) -> None:
    store.upsert_lead(LeadProfile(id="lead-1", email="ada@acme.io", first_name="Ada",
                                  last_name="Byron", title="CTO", company="Acme"), now=now)
    store.upsert_lead(LeadProfile(id="lead-2", email="max@initech.io"), now=now)
    _open(store, now, "named", due_at=now + timedelta(minutes=1))
    _open(store, now, "email-only", lead_id="lead-2", due_at=now + timedelta(minutes=2))
    _open(store, now, "unknown", lead_id="lead-9", due_at=now + timedelta(minutes=3))
    store.breach_task("named", at=now + timedelta(minutes=1), detail="late")

    named, email_only, unknown = store.list_sales_tasks()
    assert (named.lead_name, named.lead_email, named.lead_title, named.lead_company) == (
        "Ada Byron", "ada@acme.io", "CTO", "Acme")
    assert (named.owner, named.owner_name, named.reason, named.tier, named.reroutes) == (
        "ann", "Ann Lee", "Requested a demo after two pricing visits", 1, 0)
    assert (named.created_at, named.due_at, named.breached_at, named.follow_up_until) == (
        now, now + timedelta(minutes=1), now + timedelta(minutes=1), now + timedelta(days=2))
    assert all(value.tzinfo is UTC for value in (named.created_at, named.due_at))
    assert (email_only.lead_name, email_only.lead_title) == ("max@initech.io", None)
    assert (unknown.lead_name, unknown.lead_email) == (None, None)


def test_the_inbox_filters_by_owner_status_tier_and_kind(store: Store, now: datetime) -> None:
    _open(store, now, "ann-1")
    _open(store, now, "ann-2", tier=2)
    _open(store, now, "bob-1", owner="bob", owner_name="Bob")
    _open(store, now, "bob-done", owner="bob", owner_name="Bob")
    _open(store, now, "alert", kind="alert", owner=None, owner_name=None)
    store.close_task("bob-done", status="accepted", at=now, by="bob")

    def ids(**filters: Any) -> list[str]:
        found = sorted(t.id for t in store.list_sales_tasks(**filters))
        assert store.count_sales_tasks(**filters) == len(found)
        return found

    assert ids() == ["ann-1", "ann-2", "bob-1"]
    assert ids(owner="ann") == ["ann-1", "ann-2"]
    assert ids(owner="bob") == ["bob-1"]
    assert ids(owner="bob", status=None) == ["bob-1", "bob-done"]
    assert ids(status="accepted") == ["bob-done"]
    assert ids(tier=2) == ["ann-2"]
    assert ids(kind="alert") == ["alert"]
    assert ids(kind=None) == ["alert", "ann-1", "ann-2", "bob-1"]
    assert ids(status=None, kind=None) == ["alert", "ann-1", "ann-2", "bob-1", "bob-done"]
    assert ids(owner="nobody") == []
    with pytest.raises(ValueError):
        store.list_sales_tasks(status="lost")


def test_open_escalations_are_counted_per_owner(store: Store, now: datetime) -> None:
    assert store.open_task_counts() == {}
    for task_id in ("a-1", "a-2", "a-3"):
        _open(store, now, task_id)
    _open(store, now, "b-1", owner="bob", owner_name="Bob")
    _open(store, now, "b-alert", kind="alert", owner="bob", owner_name="Bob")
    _open(store, now, "nobody", owner=None, owner_name=None)
    store.close_task("a-3", status="rejected", at=now, by="ann", reason="poor_fit")
    store.reassign_task("a-2", owner="bob", owner_name="Bob", rule="round_robin",
                        due_at=now + timedelta(hours=2), at=now)

    assert store.open_task_counts() == {"ann": 1, "bob": 2}


@pytest.fixture(name="statements")
def statements_fixture(store: Store) -> Iterator[list[str]]:
    """Every SQL statement the store runs while the test does."""
    seen: list[str] = []

    def record(*args: Any) -> None:
        seen.append(args[2])

    event.listen(store.engine, "before_cursor_execute", record)
    yield seen
    event.remove(store.engine, "before_cursor_execute", record)


def test_a_page_of_a_large_inbox_is_one_query(
    store: Store, now: datetime, statements: list[str]
) -> None:
    store.upsert_lead(LeadProfile(id="lead-1", email="ada@acme.io", first_name="Ada"), now=now)
    rows = [{"id": f"t-{n:05d}", "lead_id": "lead-1", "kind": "escalation", "tier": 1 + n % 3,
             "reason": "r", "opener": "o", "handoff": {}, "status": "open", "created_at": now,
             "due_at": None if n % 10 == 0 else now + timedelta(minutes=n % 997),
             "owner": f"rep-{n % 7}", "owner_name": None, "route_rule": "", "reroutes": 0,
             "timeline": [], "outcome_note": "", "next_step": ""} for n in range(10_500)]
    with store.engine.begin() as connection:
        connection.execute(insert(SalesTaskRow), rows)
    statements.clear()

    page = store.list_sales_tasks(owner="rep-3", tier=2, limit=25)

    assert len(statements) == 1
    assert len(page) == 25 and all(t.lead_name == "Ada" for t in page)
    dues = [t.due_at for t in page if t.due_at is not None]
    assert dues == sorted(dues) and dues[0] == now
    assert store.count_sales_tasks(owner="rep-3", tier=2) == 500


# the round-robin turn

def test_turns_count_up_from_zero_per_name(store: Store) -> None:
    assert [store.next_turn() for _ in range(3)] == [0, 1, 2]
    assert store.next_turn("tier-2") == 0
    assert store.next_turn() == 3


def test_concurrent_turns_are_never_handed_out_twice(store: Store) -> None:
    with ThreadPoolExecutor(max_workers=8) as pool:
        turns = list(pool.map(lambda _: store.next_turn("busy"), range(80)))

    assert sorted(turns) == list(range(80))


# sign-in tokens

def test_a_token_names_its_user_until_revoked(store: Store, now: datetime) -> None:
    token = store.issue_token("ann", now=now)
    other = store.issue_token("ann", now=now)
    boss = store.issue_token("meg", role="manager", now=now)

    assert token.startswith("nt_") and len(token) > 30 and token != other
    assert store.token_user(token) == ("ann", "rep")
    assert store.token_user(boss) == ("meg", "manager")
    assert store.token_user("nt_not-a-token") is None
    assert store.token_user("") is None

    assert store.revoke_tokens("ann", now=now + timedelta(hours=1)) == 2
    assert store.revoke_tokens("ann", now=now + timedelta(hours=2)) == 0
    assert store.token_user(token) is None and store.token_user(other) is None
    assert store.token_user(boss) == ("meg", "manager")


def test_only_the_tokens_hash_is_stored(store: Store, now: datetime) -> None:
    token = store.issue_token("ann", now=now)

    with Session(store.engine) as session:
        (row,) = session.exec(select(SalesTokenRow)).all()
    assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in row.model_dump_json()
    assert (row.user_id, row.role, row.created_at, row.revoked_at) == ("ann", "rep", now, None)


def test_a_token_role_must_be_rep_or_manager(store: Store, now: datetime) -> None:
    with pytest.raises(ValueError, match="rep' or 'manager"):
        store.issue_token("ann", role="admin", now=now)
