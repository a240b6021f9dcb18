"""Segment calls read into the engine's terms: events, profile patches and aliases."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from engine.api import read_calls
from engine.errors import PayloadError
from engine.store import Inbound, InboundKind
from workflows import PLAYBOOK

RECEIVED = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)


def _read(kind: str | None, body: dict[str, Any]) -> list[Inbound]:
    return read_calls(body, kind=kind, received_at=RECEIVED, pages=PLAYBOOK.pages)


def _one(kind: str, **call: Any) -> Inbound:
    (message,) = _read(kind, call)
    return message


def _refusal(kind: str | None, body: Any) -> PayloadError:
    with pytest.raises(PayloadError) as caught:
        read_calls(body, kind=kind, received_at=RECEIVED, pages=PLAYBOOK.pages)
    return caught.value


def _traits(**traits: Any) -> dict[str, Any]:
    return dict(_one("identify", userId="ana", traits=traits).payload["traits"])


def _at(message: Inbound) -> datetime:
    return datetime.fromisoformat(message.payload["at"])


# track

@pytest.mark.parametrize(("name", "expected"), [
    ("Pricing Page Viewed", "pricing_page_viewed"),
    ("  Demo   Requested! ", "demo_requested"),
    ("webinar-registered", "webinar_registered"),
    ("case_study_downloaded", "case_study_downloaded"),
])
def test_track_event_names_become_snake_case_types(name: str, expected: str) -> None:
    message = _one("track", userId="ana", event=name, properties={"plan": "pro"})

    assert message.kind == InboundKind.EVENT
    assert message.lead_id == "ana"
    assert message.payload["type"] == expected
    assert message.payload["properties"] == {"plan": "pro"}
    assert message.payload["id"] == message.message_id


def test_track_without_an_event_name_is_refused() -> None:
    error = _refusal("track", {"userId": "ana", "properties": {}})

    assert error.field == "event"
    assert "Pricing Page Viewed" in str(error)


def test_an_event_name_without_a_letter_first_is_refused() -> None:
    error = _refusal("track", {"userId": "ana", "event": "123 go"})

    assert error.field == "event"
    assert "must start with a letter" in str(error)


# page and screen

@pytest.mark.parametrize(("path", "expected"), [
    ("/pricing", "pricing_page_viewed"),
    ("/pricing/enterprise", "pricing_page_viewed"),
    ("/PRICING/", "pricing_page_viewed"),
    ("/plans?billing=annual", "pricing_page_viewed"),
    ("/customers/acme", "case_study_viewed"),
    ("/book-a-demo", "demo_page_viewed"),
    ("/vs/hubspot", "comparison_viewed"),
    ("/blog/pipeline-math", "blog_viewed"),
    ("/about", "page_viewed"),
    ("/customers", "page_viewed"),
    ("/", "page_viewed"),
])
def test_page_paths_become_the_playbooks_event_types(path: str, expected: str) -> None:
    message = _one("page", userId="ana", properties={"path": path})

    assert message.payload["type"] == expected
    assert message.payload["properties"]["path"] == path


def test_the_path_can_come_from_the_page_context() -> None:
    message = _one("page", anonymousId="browser-1",
                   context={"page": {"path": "/customers/acme",
                                     "url": "https://northwind.example/customers/acme"}})

    assert message.payload["type"] == "case_study_viewed"
    assert message.payload["properties"] == {
        "path": "/customers/acme", "url": "https://northwind.example/customers/acme"}
    assert (message.lead_id, message.anonymous_id) == (None, "browser-1")


def test_the_path_can_come_from_the_url() -> None:
    message = _one("page", userId="ana",
                   properties={"url": "https://northwind.example/pricing?plan=pro#faq"})

    assert message.payload["type"] == "pricing_page_viewed"
    assert message.payload["properties"]["path"] == "/pricing"


def test_the_properties_path_wins_over_the_context() -> None:
    message = _one("page", userId="ana", properties={"path": "/pricing"},
                   context={"page": {"path": "/about"}})

    assert message.payload["type"] == "pricing_page_viewed"


def test_a_page_without_any_path_is_a_plain_page_view() -> None:
    message = _one("page", userId="ana", name="Home")

    assert message.payload["type"] == "page_viewed"
    assert message.payload["properties"] == {"name": "Home"}


def test_a_page_whose_url_cannot_be_parsed_is_a_plain_page_view() -> None:
    message = _one("page", userId="ana", properties={"url": "http://[not-an-address/pricing"})

    assert message.payload["type"] == "page_viewed"
    assert message.payload["properties"]["url"] == "http://[not-an-address/pricing"


def test_a_screen_is_a_screen_view_with_its_name() -> None:
    message = _one("screen", userId="ana", name="Dashboard", properties={"path": "/pricing"})

    assert message.payload["type"] == "screen_viewed"
    assert message.payload["properties"]["name"] == "Dashboard"


# identify

def test_identify_traits_fill_the_profile() -> None:
    message = _one("identify", userId="ana", anonymousId="browser-1", traits={
        "email": "Ana@Acme.io", "firstName": "Ana", "lastName": "Ruiz", "title": "VP Marketing",
        "company": "Acme Analytics", "employees": 500, "industry": "saas", "country": "ES",
        "plan": "ignored"})

    assert message.kind == InboundKind.PROFILE
    assert (message.lead_id, message.anonymous_id) == ("ana", "browser-1")
    assert message.payload == {"call": "identify", "traits": {
        "email": "Ana@Acme.io", "first_name": "Ana", "last_name": "Ruiz",
        "title": "VP Marketing", "company": "Acme Analytics", "company_size": 500,
        "industry": "saas", "country": "ES"}}


@pytest.mark.parametrize(("traits", "first", "last"), [
    ({"name": "Ana Maria Ruiz"}, "Ana", "Maria Ruiz"),
    ({"name": "  Cher  "}, "Cher", None),
    ({"name": "Ana Ruiz", "firstName": "Anita"}, "Anita", None),
    ({"name": "Ana Ruiz", "lastName": "García"}, "Ana", "García"),
    ({"first_name": "Ana", "last_name": "Ruiz"}, "Ana", "Ruiz"),
])
def test_a_full_name_is_split_when_first_and_last_are_missing(
        traits: dict[str, Any], first: str, last: str | None) -> None:
    found = _traits(**traits)

    assert found.get("first_name") == first
    assert found.get("last_name") == last


def test_a_company_object_gives_the_account_fields() -> None:
    found = _traits(company={"name": "Acme Analytics", "industry": "fintech",
                             "employee_count": "1,200", "domain": "https://www.acme.io"})

    assert found == {"company": "Acme Analytics", "industry": "fintech", "company_size": 1200,
                     "company_domain": "acme.io"}


def test_top_level_traits_win_over_the_company_object() -> None:
    found = _traits(company={"name": "Acme", "industry": "fintech", "employee_count": 10},
                    industry="saas", employees=20)

    assert (found["company"], found["industry"], found["company_size"]) == ("Acme", "saas", 20)


@pytest.mark.parametrize(("employees", "size"), [
    (500, 500), (42.7, 42), ("1,000", 1000), ("51-200", 51), ("about 300 people", 300), (0, 0),
])
def test_company_size_is_read_from_numbers_and_text(employees: Any, size: int) -> None:
    assert _traits(employees=employees)["company_size"] == size


@pytest.mark.parametrize("employees", ["lots", True, -5, [10], {"n": 10}, "9" * 5000])
def test_a_company_size_that_is_not_a_number_is_refused(employees: Any) -> None:
    error = _refusal("identify", {"userId": "ana", "traits": {"employees": employees}})

    assert error.field == "traits.employees"


@pytest.mark.parametrize("employees", [float("inf"), float("nan")])
def test_a_company_size_that_is_not_finite_is_refused(employees: float) -> None:
    error = _refusal("identify", {"userId": "ana", "traits": {"employees": employees}})

    assert error.field == "traits.employees"


@pytest.mark.parametrize("website", [
    "https://www.acme.io/about", "http://acme.io", "www.acme.io", "acme.io", "ACME.io ",
    "https://acme.io:8443/x?y=1",
])
def test_a_website_becomes_the_bare_company_domain(website: str) -> None:
    assert _traits(website=website)["company_domain"] == "acme.io"


def test_a_website_that_cannot_be_parsed_is_refused() -> None:
    error = _refusal("identify", {"userId": "ana", "traits": {"website": "http://[acme.io"}})

    assert error.field == "traits.website"


def test_country_timezone_and_source_come_from_address_and_context() -> None:
    message = _one("identify", userId="ana", traits={"address": {"country": "DE"}},
                   context={"timezone": "Europe/Berlin", "campaign": {"source": "linkedin"}})

    assert message.payload["traits"] == {"country": "DE", "timezone": "Europe/Berlin",
                                         "source": "linkedin"}


def test_the_campaign_comes_from_traits_or_the_context_campaign_name() -> None:
    from_context = _one("identify", userId="ana", traits={},
                        context={"campaign": {"name": "Q4 pipeline webinar", "source": "li"}})
    from_traits = _one("identify", userId="ana", traits={"utm_campaign": "spring-ebook"},
                       context={"campaign": {"name": "ignored"}})

    assert from_context.payload["traits"]["campaign"] == "Q4 pipeline webinar"
    assert from_traits.payload["traits"]["campaign"] == "spring-ebook"


def test_traits_win_over_the_context() -> None:
    found = _one("identify", userId="ana",
                 traits={"country": "FR", "timezone": "Europe/Paris", "source": "webinar",
                         "address": {"country": "DE"}},
                 context={"timezone": "Europe/Berlin", "campaign": {"source": "linkedin"}}
                 ).payload["traits"]

    assert (found["country"], found["timezone"], found["source"]) == (
        "FR", "Europe/Paris", "webinar")


def test_traits_sent_only_under_the_context_fill_the_profile() -> None:
    # What the RudderStack Python SDK sends for identify(user_id, traits): no top-level
    # traits, the traits under context.traits.
    found = _one("identify", userId="ana", context={"traits": {
        "email": "ana@acme-analytics.io", "firstName": "Ana", "company": "Acme Analytics",
        "employees": 500}, "library": {"name": "analytics-python"}}).payload["traits"]

    assert found == {"email": "ana@acme-analytics.io", "first_name": "Ana",
                     "company": "Acme Analytics", "company_size": 500}


def test_top_level_traits_win_over_the_context_traits_field_by_field() -> None:
    found = _one("identify", userId="ana", traits={"email": "ana@new.io", "name": "Ana Ruiz"},
                 context={"traits": {"email": "ana@old.io", "firstName": "Anita",
                                     "title": "CMO"}}).payload["traits"]

    assert found == {"email": "ana@new.io", "first_name": "Ana", "last_name": "Ruiz",
                     "title": "CMO"}


def test_a_bad_context_trait_is_refused_naming_where_it_was() -> None:
    error = _refusal(None, {"batch": [{"type": "identify", "userId": "ana",
                                       "context": {"traits": {"email": "nope"}}}]})

    assert error.field == "batch[0].context.traits.email"


@pytest.mark.parametrize("email", ["not-an-email", "ana@localhost", "@acme.io"])
def test_an_invalid_email_is_refused_naming_the_trait(email: str) -> None:
    error = _refusal("identify", {"userId": "ana", "traits": {"email": email}})

    assert error.field == "traits.email"
    assert repr(email) in str(error)


def test_a_trait_of_the_wrong_shape_is_refused() -> None:
    error = _refusal("identify", {"userId": "ana", "traits": {"title": {"nested": True}}})

    assert error.field == "traits.title"
    assert "must be a string" in str(error)


def test_traits_that_are_not_an_object_are_refused() -> None:
    error = _refusal("identify", {"userId": "ana", "traits": ["email"]})

    assert error.field == "traits"


# group

def test_group_traits_become_the_leads_account() -> None:
    message = _one("group", userId="ana", groupId="acct-9", traits={
        "name": "Acme Analytics", "website": "https://www.acme.io", "industry": "saas",
        "employees": "51-200"})

    assert message.kind == InboundKind.PROFILE
    assert message.payload == {"call": "group", "traits": {
        "account_id": "acct-9", "company": "Acme Analytics", "company_domain": "acme.io",
        "industry": "saas", "company_size": 51}}


def test_group_without_a_group_id_is_refused() -> None:
    error = _refusal("group", {"userId": "ana", "traits": {"name": "Acme"}})

    assert error.field == "groupId"


# alias

def test_alias_links_the_previous_id_to_the_user() -> None:
    message = _one("alias", userId="ana", previousId="browser-1", messageId="a-1")

    assert message.kind == InboundKind.ALIAS
    assert (message.lead_id, message.anonymous_id, message.message_id) == (
        "ana", "browser-1", "a-1")
    assert message.payload == {"call": "alias", "previous_id": "browser-1"}


@pytest.mark.parametrize(("call", "field"), [
    ({"userId": "ana"}, "previousId"),
    ({"previousId": "browser-1"}, "userId"),
    ({"previousId": "browser-1", "anonymousId": "browser-2"}, "userId"),
])
def test_alias_needs_both_ids(call: dict[str, Any], field: str) -> None:
    assert _refusal("alias", call).field == field


# ids

def test_a_call_needs_a_user_id_or_an_anonymous_id() -> None:
    error = _refusal("track", {"event": "Blog Viewed", "userId": "  "})

    assert error.field == "userId"
    assert "anonymousId" in str(error)


def test_numeric_ids_are_read_as_text() -> None:
    message = _one("track", userId=42, anonymousId=7.5, event="Blog Viewed")

    assert (message.lead_id, message.anonymous_id) == ("42", "7.5")


@pytest.mark.parametrize(("value", "problem"), [
    (True, "must be a string or a number"), ("x" * 201, "at most 200"),
    ({"id": 1}, "valid string"), ("ana\x00", "NUL"),
])
def test_an_unusable_user_id_is_refused(value: Any, problem: str) -> None:
    error = _refusal("track", {"userId": value, "event": "Blog Viewed"})

    assert error.field == "userId"
    assert problem in str(error)


# time

def test_the_senders_clock_skew_is_corrected() -> None:
    # The sender's clock runs five minutes fast: it says it sent at 15:05 what we got at 15:00.
    message = _one("track", userId="ana", event="Blog Viewed",
                   originalTimestamp="2026-03-02T15:04:00Z", sentAt="2026-03-02T15:05:00Z")

    assert _at(message) == datetime(2026, 3, 2, 14, 59, tzinfo=UTC)


def test_a_batchs_sent_at_applies_to_calls_without_their_own() -> None:
    messages = _read(None, {"sentAt": "2026-03-02T14:50:00Z", "batch": [
        {"type": "track", "userId": "ana", "event": "A",
         "originalTimestamp": "2026-03-02T14:49:00Z"},
        {"type": "track", "userId": "ana", "event": "B",
         "originalTimestamp": "2026-03-02T14:49:00Z", "sentAt": "2026-03-02T14:49:30Z"},
    ]})

    assert [_at(m) for m in messages] == [datetime(2026, 3, 2, 14, 59, tzinfo=UTC),
                                          datetime(2026, 3, 2, 14, 59, 30, tzinfo=UTC)]


def test_the_timestamp_is_used_when_the_sending_time_is_unknown() -> None:
    message = _one("page", userId="ana", timestamp="2026-03-02T10:00:00+02:00")

    assert _at(message) == datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


def test_a_timestamp_without_a_zone_is_utc() -> None:
    message = _one("track", userId="ana", event="A", timestamp="2026-03-02T09:00:00")

    assert _at(message) == datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def test_an_event_without_a_time_happened_when_it_was_received() -> None:
    assert _at(_one("track", userId="ana", event="A")) == RECEIVED


@pytest.mark.parametrize("call", [
    {"timestamp": "2026-03-02T18:00:00Z"},
    {"originalTimestamp": "2026-03-02T15:10:00Z", "sentAt": "2026-03-02T14:00:00Z"},
    {"timestamp": "2999-01-01T00:00:00Z"},
])
def test_an_event_never_happens_in_the_future(call: dict[str, Any]) -> None:
    assert _at(_one("track", userId="ana", event="A", **call)) == RECEIVED


@pytest.mark.parametrize(("call", "field"), [
    ({"timestamp": "yesterday"}, "timestamp"),
    ({"timestamp": "0001-01-01T00:00:00+01:00"}, "timestamp"),
    ({"originalTimestamp": "0001-01-01T00:30:00Z", "sentAt": "9999-12-31T00:00:00Z"}, "sentAt"),
    ({"originalTimestamp": "9999-12-31T00:00:00Z", "sentAt": "0001-01-02T00:00:00Z"}, "sentAt"),
])
def test_a_time_that_cannot_be_used_is_refused(call: dict[str, Any], field: str) -> None:
    error = _refusal("track", {"userId": "ana", "event": "A", **call})

    assert error.field == field


# message ids

def test_the_senders_message_id_is_kept() -> None:
    assert _one("track", userId="ana", event="A", messageId=" m-1 ").message_id == "m-1"


def test_identical_calls_without_a_message_id_get_the_same_id() -> None:
    call = {"userId": "ana", "event": "Blog Viewed", "timestamp": "2026-03-02T09:00:00Z"}

    first, second = _one("track", **call), _one("track", **call)
    other = _one("track", **{**call, "event": "Pricing Page Viewed"})
    as_page = _one("page", **call)

    assert first.message_id == second.message_id
    assert first.message_id.startswith("auto-")
    assert len({first.message_id, other.message_id, as_page.message_id}) == 3


def test_a_blank_message_id_counts_as_none() -> None:
    message = _one("track", userId="ana", event="A", messageId="   ")

    assert message.message_id.startswith("auto-")


def test_a_message_id_over_200_characters_is_refused() -> None:
    assert _refusal("track", {"userId": "ana", "event": "A", "messageId": "m" * 201}).field == (
        "messageId")


# batches

def test_a_batch_reads_every_kind_of_call_in_order() -> None:
    messages = _read(None, {"batch": [
        {"type": "identify", "userId": "ana", "traits": {"email": "ana@acme.io"}},
        {"type": "track", "userId": "ana", "event": "Demo Requested"},
        {"type": "page", "userId": "ana", "properties": {"path": "/pricing"}},
        {"type": "screen", "userId": "ana", "name": "Home"},
        {"type": "group", "userId": "ana", "groupId": "acct-1"},
        {"type": "alias", "userId": "ana", "previousId": "browser-1"},
    ]})

    assert [m.kind for m in messages] == [InboundKind.PROFILE, InboundKind.EVENT,
                                          InboundKind.EVENT, InboundKind.EVENT,
                                          InboundKind.PROFILE, InboundKind.ALIAS]
    assert [m.payload.get("type") for m in messages[1:4]] == [
        "demo_requested", "pricing_page_viewed", "screen_viewed"]


def test_a_batchs_context_is_shared_by_its_calls() -> None:
    (message,) = _read(None, {"context": {"timezone": "Asia/Tokyo"}, "batch": [
        {"type": "identify", "userId": "ana", "traits": {}}]})

    assert message.payload["traits"] == {"timezone": "Asia/Tokyo"}


def test_one_bad_call_rejects_the_whole_batch_naming_it() -> None:
    error = _refusal(None, {"batch": [
        {"type": "track", "userId": "ana", "event": "A"},
        {"type": "track", "userId": "ana", "event": "B"},
        {"type": "track", "userId": "ana"},
    ]})

    assert error.field == "batch[2].event"
    assert str(error).startswith("batch[2].event: track needs the event name")


def test_errors_deep_in_a_batch_name_the_call_and_the_field() -> None:
    error = _refusal(None, {"batch": [
        {"type": "identify", "userId": "ana", "traits": {"email": "ana@acme.io"}},
        {"type": "identify", "userId": "ben", "traits": {"email": "ben-at-acme"}},
    ]})

    assert error.field == "batch[1].traits.email"


@pytest.mark.parametrize(("body", "field", "problem"), [
    ([], "", "JSON object"),
    ({"calls": []}, "batch", "must be a list"),
    ({"batch": {"type": "track"}}, "batch", "must be a list"),
    ({"batch": ["track"]}, "batch[0]", "JSON object"),
    ({"batch": [{"type": "purchase", "userId": "ana"}]}, "batch[0].type", "must be one of"),
    ({"batch": [{"userId": "ana", "event": "A"}]}, "batch[0].type", "must be one of"),
    ({"batch": [{"type": "track", "userId": "ana", "event": "A", "properties": [1]}]},
     "batch[0].properties", "valid dictionary"),
])
def test_malformed_batches_say_what_is_wrong(body: Any, field: str, problem: str) -> None:
    error = _refusal(None, body)

    assert error.field == field
    assert problem in str(error)


def test_a_call_in_a_batch_may_be_at_most_32_kb() -> None:
    fits = {"type": "track", "userId": "ana", "event": "A", "properties": {"x": "a" * 31_000}}
    too_big = {**fits, "properties": {"x": "a" * 33_000}}

    assert len(_read(None, {"batch": [fits, fits]})) == 2
    error = _refusal(None, {"batch": [fits, too_big]})
    assert error.field == "batch[1]"
    assert "32 KB" in str(error)


def test_a_call_is_measured_in_bytes_not_in_escaped_characters() -> None:
    # 12,000 "é" are 24 KB of UTF-8 (but 72,000 characters as \u escapes).
    call = {"type": "track", "userId": "ana", "event": "A", "properties": {"x": "é" * 12_000}}

    (message,) = _read(None, {"batch": [call]})

    assert message.payload["properties"]["x"] == "é" * 12_000


def test_an_empty_batch_is_nothing() -> None:
    assert _read(None, {"batch": []}) == []


def test_a_time_in_a_batch_is_checked_for_the_item() -> None:
    error = _refusal(None, {"sentAt": "later", "batch": [
        {"type": "track", "userId": "ana", "event": "A"}]})

    assert error.field == "batch[0].sentAt"

