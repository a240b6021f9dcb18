"""The inbound ledger: accepted once, delivered in order, held until a lead can take it."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from engine.store import Inbound, InboundKind, InboundRow, LeadDelivery, Store


def _event(message_id: str, *, lead_id: str | None = "lead-1",
           anonymous_id: str | None = None) -> Inbound:
    return Inbound(message_id=message_id, kind=InboundKind.EVENT, lead_id=lead_id,
                   anonymous_id=anonymous_id,
                   payload={"id": message_id, "type": "blog_viewed", "properties": {"n": 1}})


def _pending_ids(store: Store) -> list[str]:
    return [row.message_id for row in store.pending_inbound()]


def _pending_row(store: Store, message_id: str) -> InboundRow:
    (row,) = [r for r in store.pending_inbound() if r.message_id == message_id]
    return row


def _seq(store: Store, message_id: str) -> int:
    seq = _pending_row(store, message_id).seq
    assert seq is not None
    return seq


def _save_contact(store: Store, lead_id: str, traits: dict[str, object], *, enrolled: bool,
                  now: datetime) -> None:
    store.settle_pass([LeadDelivery(lead_id=lead_id, traits=traits, enrolled=enrolled)],
                      anonymous=[], now=now)


# accepting

def test_accepting_says_how_many_messages_were_new(store: Store, now: datetime) -> None:
    assert store.accept_inbound([_event("m-1"), _event("m-2")], now=now) == 2
    assert store.accept_inbound([_event("m-2"), _event("m-3")], now=now) == 1
    assert store.accept_inbound([_event("m-1")], now=now) == 0

    assert _pending_ids(store) == ["m-1", "m-2", "m-3"]


def test_a_message_repeated_within_one_request_is_kept_once(store: Store, now: datetime) -> None:
    added = store.accept_inbound([_event("m-1"), _event("m-2"), _event("m-1")], now=now)

    assert added == 2
    assert _pending_ids(store) == ["m-1", "m-2"]


def test_a_repeat_keeps_the_first_copy(store: Store, now: datetime) -> None:
    store.accept_inbound([_event("m-1", lead_id="lead-1")], now=now)
    store.accept_inbound([_event("m-1", lead_id="lead-2")], now=now + timedelta(minutes=1))

    (row,) = store.pending_inbound()
    assert (row.lead_id, row.received_at) == ("lead-1", now)


def test_accepting_nothing_adds_nothing(store: Store, now: datetime) -> None:
    assert store.accept_inbound([], now=now) == 0
    assert store.inbound_backlog() == 0


def test_accepted_messages_keep_their_order_and_content(store: Store, now: datetime) -> None:
    ids = [f"m-{n:03d}" for n in range(450)]  # more than one INSERT statement's worth
    assert store.accept_inbound([_event(i) for i in ids], now=now) == 450

    rows = store.pending_inbound(limit=1000)
    assert [r.message_id for r in rows] == ids
    assert [r.seq for r in rows] == sorted(r.seq for r in rows if r.seq is not None)
    first = rows[0]
    assert (first.kind, first.status, first.attempts, first.received_at) == (
        "event", "pending", 0, now)
    assert first.payload == {"id": "m-000", "type": "blog_viewed", "properties": {"n": 1}}


def test_pending_messages_come_oldest_first_up_to_the_limit(store: Store, now: datetime) -> None:
    store.accept_inbound([_event("m-1"), _event("m-2")], now=now)
    store.accept_inbound([_event("m-3")], now=now)

    assert [r.message_id for r in store.pending_inbound(limit=2)] == ["m-1", "m-2"]
    assert store.inbound_backlog() == 3


def test_past_the_limit_the_oldest_rows_of_enrolled_leads_come_too(
        store: Store, now: datetime) -> None:
    _save_contact(store, "running", {"email": "r@acme.io"}, enrolled=True, now=now)
    _save_contact(store, "waiting", {"email": "w@acme.io"}, enrolled=False, now=now)
    store.link_identity("browser-1", "running", now=now)
    store.accept_inbound([_event(f"new-{n}", lead_id=f"new-{n}") for n in range(4)], now=now)
    store.accept_inbound([_event("w-1", lead_id="waiting"), _event("r-1", lead_id="running"),
                          _event("a-1", lead_id=None, anonymous_id="browser-1"),
                          _event("a-2", lead_id=None, anonymous_id="browser-2"),
                          _event("r-2", lead_id="running"), _event("r-3", lead_id="running")],
                         now=now)

    def ids(limit: int, running_too: bool) -> list[str]:
        return [r.message_id for r in store.pending_inbound(limit, running_too=running_too)]

    assert ids(3, False) == ids(3, True)[:3] == ["new-0", "new-1", "new-2"]
    assert ids(3, True) == ["new-0", "new-1", "new-2", "r-1", "a-1", "r-2"]
    assert ids(5, True) == ["new-0", "new-1", "new-2", "new-3", "w-1", "r-1", "a-1", "r-2",
                            "r-3"]
    assert ids(20, True) == ids(20, False)  # all of them fit: the oldest are everything


# settling

def test_delivered_messages_leave_the_backlog(store: Store, now: datetime) -> None:
    store.accept_inbound([_event("m-1"), _event("m-2"), _event("m-3")], now=now)
    later = now + timedelta(seconds=5)

    store.settle_pass([LeadDelivery(lead_id="lead-1",
                                    delivered=[_seq(store, "m-1"), _seq(store, "m-3")])],
                      anonymous=[], now=later)

    assert _pending_ids(store) == ["m-2"]
    assert store.inbound_backlog() == 1
    assert store.inbound_counts("lead-1") == {"delivered": 2, "pending": 1}


def test_settling_can_give_a_message_its_lead(store: Store, now: datetime) -> None:
    store.accept_inbound([_event("m-1", lead_id=None, anonymous_id="browser-1")], now=now)

    seq = _seq(store, "m-1")
    store.settle_pass([LeadDelivery(lead_id="lead-2", waiting=[seq], adopted=[seq])],
                      anonymous=[], now=now)

    (row,) = store.held_inbound(lead_ids=["lead-2"])
    assert (row.message_id, row.lead_id, row.status) == ("m-1", "lead-2", "waiting")
    assert row.delivered_at is None
    assert store.inbound_backlog() == 0


def test_settling_records_the_delivery_time(store: Store, now: datetime) -> None:
    store.accept_inbound([_event("m-1")], now=now)
    seq = _seq(store, "m-1")
    store.settle_pass([LeadDelivery(lead_id="lead-1", waiting=[seq])], anonymous=[], now=now)

    store.settle_pass([LeadDelivery(lead_id="lead-1", delivered=[seq])], anonymous=[],
                      now=now + timedelta(seconds=3))

    assert store.inbound_counts("lead-1") == {"delivered": 1}
    assert store.pending_inbound() == []
    assert store.held_inbound(lead_ids=["lead-1"]) == []


def test_settling_no_messages_changes_nothing(store: Store, now: datetime) -> None:
    store.accept_inbound([_event("m-1")], now=now)

    store.settle_pass([], anonymous=[], now=now)

    assert _pending_ids(store) == ["m-1"]


# held messages

def test_held_messages_are_found_by_lead_and_by_anonymous_id(store: Store, now: datetime) -> None:
    store.accept_inbound([
        _event("w-1", lead_id="lead-1"),
        _event("a-1", lead_id=None, anonymous_id="browser-1"),
        _event("w-2", lead_id="lead-2"),
        _event("a-2", lead_id=None, anonymous_id="browser-2"),
        _event("w-3", lead_id="lead-1"),
    ], now=now)
    seqs = {r.message_id: r.seq for r in store.pending_inbound() if r.seq is not None}
    store.settle_pass([LeadDelivery(lead_id="lead-1", waiting=[seqs["w-1"], seqs["w-3"]]),
                       LeadDelivery(lead_id="lead-2", waiting=[seqs["w-2"]])],
                      anonymous=[seqs["a-1"], seqs["a-2"]], now=now)

    found = store.held_inbound(lead_ids=["lead-1"], anonymous_ids=["browser-1"])

    assert [r.message_id for r in found] == ["w-1", "a-1", "w-3"]
    assert store.held_inbound() == []
    assert store.held_inbound(lead_ids=["nobody"], anonymous_ids=["no-browser"]) == []


def test_only_held_messages_are_returned_as_held(store: Store, now: datetime) -> None:
    store.accept_inbound([_event("p-1", lead_id="lead-1", anonymous_id="browser-1")], now=now)

    assert store.held_inbound(lead_ids=["lead-1"], anonymous_ids=["browser-1"]) == []


def test_a_held_anonymous_message_with_a_lead_is_not_held_for_the_browser(
        store: Store, now: datetime) -> None:
    store.accept_inbound([_event("a-1", lead_id="lead-1", anonymous_id="browser-1")], now=now)
    store.settle_pass([], anonymous=[_seq(store, "a-1")], now=now)

    assert store.held_inbound(anonymous_ids=["browser-1"]) == []


# retries

def test_a_failed_delivery_is_retried_then_given_up(store: Store, now: datetime) -> None:
    store.accept_inbound([_event("m-1"), _event("m-2")], now=now)
    seq = _seq(store, "m-1")

    for attempt in range(1, 3):
        store.retry_inbound([seq], error=f"boom {attempt}", give_up_after=3, now=now)
        row = _pending_row(store, "m-1")
        assert (row.attempts, row.error, row.status) == (attempt, f"boom {attempt}", "pending")

    store.retry_inbound([seq], error="x" * 2000, give_up_after=3, now=now)

    assert _pending_ids(store) == ["m-2"]
    assert store.inbound_counts("lead-1") == {"failed": 1, "pending": 1}


def test_a_long_error_is_cut_short(store: Store, now: datetime) -> None:
    store.accept_inbound([_event("m-1")], now=now)

    store.retry_inbound([_seq(store, "m-1")], error="x" * 2000, give_up_after=5, now=now)

    assert _pending_row(store, "m-1").error == "x" * 500


# identities and contacts

def test_the_first_link_of_an_anonymous_id_wins(store: Store, now: datetime) -> None:
    assert store.link_identity("browser-1", "lead-1", now=now) == "lead-1"
    assert store.link_identity("browser-1", "lead-2", now=now) == "lead-1"
    assert store.link_identity("browser-2", "lead-2", now=now) == "lead-2"

    assert store.identity(["browser-1", "browser-2", "browser-3"]) == {
        "browser-1": "lead-1", "browser-2": "lead-2"}
    assert store.identity([]) == {}


def test_a_contact_is_saved_then_overwritten(store: Store, now: datetime) -> None:
    _save_contact(store, "lead-1", {"email": "ana@acme.io"}, enrolled=False, now=now)
    _save_contact(store, "lead-1", {"email": "ana@acme.io", "title": "CTO"}, enrolled=True,
                  now=now + timedelta(minutes=1))

    contacts = store.contacts(["lead-1", "lead-2"])

    assert list(contacts) == ["lead-1"]
    contact = contacts["lead-1"]
    assert contact.traits == {"email": "ana@acme.io", "title": "CTO"}
    assert contact.enrolled is True
    assert contact.updated_at == now + timedelta(minutes=1)
    assert store.contacts([]) == {}


# leases

def test_a_lease_is_held_by_one_holder_until_it_expires(store: Store, now: datetime) -> None:
    ttl = timedelta(seconds=15)
    assert store.hold_lease("relay", "a", ttl=ttl, now=now)
    assert not store.hold_lease("relay", "b", ttl=ttl, now=now + timedelta(seconds=5))
    assert store.hold_lease("relay", "a", ttl=ttl, now=now + timedelta(seconds=10))  # renewed
    assert not store.hold_lease("relay", "b", ttl=ttl, now=now + timedelta(seconds=20))

    assert store.hold_lease("relay", "b", ttl=ttl, now=now + timedelta(seconds=26))
    assert not store.hold_lease("relay", "a", ttl=ttl, now=now + timedelta(seconds=27))


def test_a_released_lease_can_be_taken_at_once(store: Store, now: datetime) -> None:
    ttl = timedelta(minutes=5)
    assert store.hold_lease("relay", "a", ttl=ttl, now=now)

    store.release_lease("relay", "b")  # not the holder: nothing happens
    assert not store.hold_lease("relay", "b", ttl=ttl, now=now)
    store.release_lease("relay", "a")

    assert store.hold_lease("relay", "b", ttl=ttl, now=now + timedelta(seconds=1))


def test_a_lease_of_a_holder_known_to_be_gone_is_taken_at_once(
    store: Store, now: datetime
) -> None:
    ttl = timedelta(minutes=5)
    assert store.hold_lease("relay", "dead", ttl=ttl, now=now)
    asked: list[str] = []

    def gone(holder: str) -> bool:
        asked.append(holder)
        return holder == "dead"

    assert not store.hold_lease("relay", "b", ttl=ttl, now=now, gone=lambda holder: False)
    assert store.hold_lease("relay", "b", ttl=ttl, now=now, gone=gone)
    assert asked == ["dead"]
    assert not store.hold_lease("relay", "c", ttl=ttl, now=now, gone=gone)  # b lives


def test_leases_of_different_names_are_independent(store: Store, now: datetime) -> None:
    ttl = timedelta(minutes=5)

    assert store.hold_lease("relay", "a", ttl=ttl, now=now)
    assert store.hold_lease("cleanup", "b", ttl=ttl, now=now)


# clicks

SCANNER_WINDOW = timedelta(seconds=10)
BURST = timedelta(seconds=2)


def _sent(store: Store, now: datetime, key: str = "lead-1/welcome/1") -> str:
    assert store.begin_send(key=key, lead_id="lead-1", to_address="ana@acme.io",
                            template="welcome", track="qualification", step="welcome",
                            subject="Welcome", message_id="<m1@nurture.test>", now=now,
                            links=["https://a.example", "https://b.example"]) == "send"
    store.finish_send(key, status="sent", now=now)
    return key


def _click(store: Store, key: str, link: int, at: datetime) -> bool:
    return store.record_click(key, link, now=at, scanner_after_send=SCANNER_WINDOW,
                              burst=BURST).scanner


def test_a_click_right_after_delivery_is_a_scanner(store: Store, now: datetime) -> None:
    key = _sent(store, now)

    assert _click(store, key, 0, now + timedelta(seconds=3)) is True


def test_a_click_a_while_after_delivery_is_a_person(store: Store, now: datetime) -> None:
    key = _sent(store, now)

    row = store.record_click(key, 1, now=now + timedelta(minutes=5),
                             scanner_after_send=SCANNER_WINDOW, burst=BURST)

    assert (row.send_key, row.link, row.scanner, row.at) == (
        key, 1, False, now + timedelta(minutes=5))
    assert row.id is not None


def test_different_links_clicked_in_one_burst_are_a_scanner(store: Store, now: datetime) -> None:
    key = _sent(store, now)
    later = now + timedelta(hours=1)

    assert _click(store, key, 0, later) is False
    assert _click(store, key, 1, later + timedelta(seconds=1)) is True
    assert _click(store, key, 0, later + timedelta(seconds=30)) is False


def test_the_same_link_clicked_twice_quickly_is_still_a_person(
        store: Store, now: datetime) -> None:
    key = _sent(store, now)
    later = now + timedelta(hours=1)

    assert _click(store, key, 0, later) is False
    assert _click(store, key, 0, later + timedelta(seconds=1)) is False


def test_clicks_on_other_emails_do_not_make_a_burst(store: Store, now: datetime) -> None:
    first, second = _sent(store, now, "lead-1/welcome/1"), _sent(store, now, "lead-1/case/2")
    later = now + timedelta(hours=1)

    assert _click(store, first, 0, later) is False
    assert _click(store, second, 1, later) is False


@pytest.mark.parametrize("window", [timedelta(0), timedelta(seconds=10)])
def test_a_click_on_an_unknown_send_is_judged_by_bursts_only(
        store: Store, now: datetime, window: timedelta) -> None:
    row = store.record_click("never-sent", 0, now=now, scanner_after_send=window, burst=BURST)

    assert row.scanner is False


# a relay pass

def test_a_relay_pass_is_recorded_in_one_go(store: Store, now: datetime) -> None:
    store.accept_inbound([_event("m-1"), _event("m-2", lead_id=None, anonymous_id="b-1"),
                          _event("m-3", lead_id="lead-2"), _event("m-4", lead_id=None,
                                                                  anonymous_id="b-9")], now=now)
    seq = {m: _seq(store, m) for m in ("m-1", "m-2", "m-3", "m-4")}
    _save_contact(store, "lead-1", {"email": "old@acme.io"}, enrolled=False, now=now)

    store.settle_pass([
        LeadDelivery(lead_id="lead-1", delivered=[seq["m-1"], seq["m-2"]], adopted=[seq["m-2"]],
                     traits={"email": "ana@acme.io"}, enrolled=True),
        LeadDelivery(lead_id="lead-2", waiting=[seq["m-3"]], traits={"title": "CFO"}),
    ], anonymous=[seq["m-4"]], now=now)

    assert store.pending_inbound() == []
    assert store.inbound_counts("lead-1") == {"delivered": 2}
    assert store.inbound_counts("lead-2") == {"waiting": 1}
    assert [r.message_id for r in store.held_inbound(anonymous_ids=["b-9"])] == ["m-4"]
    contacts = store.contacts(["lead-1", "lead-2"])
    assert (contacts["lead-1"].traits, contacts["lead-1"].enrolled) == (
        {"email": "ana@acme.io"}, True)
    assert (contacts["lead-2"].traits, contacts["lead-2"].enrolled) == ({"title": "CFO"}, False)


def test_a_pass_that_changed_no_traits_leaves_the_contact_alone(store: Store,
                                                               now: datetime) -> None:
    store.accept_inbound([_event("m-1")], now=now)
    _save_contact(store, "lead-1", {"email": "ana@acme.io"}, enrolled=True, now=now)

    store.settle_pass([LeadDelivery(lead_id="lead-1", delivered=[_seq(store, "m-1")])],
                      anonymous=[], now=now + timedelta(hours=1))

    contact = store.contacts(["lead-1"])["lead-1"]
    assert (contact.traits, contact.enrolled, contact.updated_at) == (
        {"email": "ana@acme.io"}, True, now)
