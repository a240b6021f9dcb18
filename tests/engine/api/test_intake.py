"""Ingestion over real HTTP: write keys, gzip, size limits, back-pressure and durable
acceptance. Temporal is unreachable throughout: the API persists, the relay waits."""

from __future__ import annotations

import asyncio
import base64
import gzip
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, func
from sqlmodel import Session, col, select
from temporalio.client import Client

from engine.api import create_app
from engine.mail import sign_token
from engine.settings import Settings
from engine.store import InboundRow, Store
from tests.engine.store.conftest import store_fixture  # noqa: F401 - `store` on every backend
from tests.stack import WRITE_KEY, Stack, identify, running_stack
from workflows import PLAYBOOK

KEY_HEADER = {"X-Write-Key": WRITE_KEY}
JSON = {"Content-Type": "application/json"}


async def _unreachable() -> Client:
    raise ConnectionError("Temporal is down in these tests")


@pytest.fixture(name="api", scope="module")
async def _api(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    """One API for the tests that change no setting."""
    async with running_stack(_unreachable, tmp_path_factory.mktemp("intake")) as stack:
        yield stack


def _rows(stack: Stack) -> list[InboundRow]:
    with Session(stack.store.engine) as session:
        return list(session.exec(select(InboundRow).order_by(col(InboundRow.seq))))


def _count(stack: Stack) -> int:
    with Session(stack.store.engine) as session:
        return int(session.exec(select(func.count()).select_from(InboundRow)).one())


def _ids(stack: Stack) -> set[str]:
    return {row.message_id for row in _rows(stack)}


async def _post(stack: Stack, path: str, content: bytes, **headers: str) -> httpx.Response:
    return await stack.http.post(path, content=content, headers={**JSON, **headers})


def _track(message_id: str, **fields: Any) -> dict[str, Any]:
    return {"userId": "ana", "event": "Blog Viewed", "messageId": message_id, **fields}


def _refused(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = dict(response.json())
    assert body["success"] is False and body["error"]
    return body


# write keys

async def test_a_key_sent_as_the_basic_user_is_accepted_and_the_call_persisted(
        api: Stack) -> None:
    response = await api.http.post("/v1/track", json=_track("basic-1"), auth=(WRITE_KEY, ""))

    assert response.status_code == 200
    assert response.json() == {"success": True}
    (row,) = [r for r in _rows(api) if r.message_id == "basic-1"]
    assert (row.kind, row.lead_id, row.status) == ("event", "ana", "pending")
    assert row.payload["type"] == "blog_viewed"


async def test_a_key_in_the_x_write_key_header_is_accepted(api: Stack) -> None:
    response = await api.http.post("/v1/track", json=_track("header-1"), headers=KEY_HEADER)

    assert response.status_code == 200
    assert "header-1" in _ids(api)


async def test_a_key_in_the_body_is_accepted(api: Stack) -> None:
    response = await api.http.post("/v1/batch", json={"writeKey": WRITE_KEY, "batch": [
        {"type": "track", **_track("body-1")}]})

    assert response.status_code == 200
    assert "body-1" in _ids(api)


def _basic(text: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(text.encode()).decode()}


@pytest.mark.parametrize(("headers", "body_key"), [
    ({}, None),
    ({"X-Write-Key": "wrong"}, None),
    (_basic("wrong:"), None),
    (_basic(":" + WRITE_KEY), None),  # the key belongs in the user name
    ({"Authorization": "Basic !!!not-base64"}, None),
    ({"Authorization": "Bearer " + WRITE_KEY}, None),
    ({}, "wrong"),
    ({}, 12345),
    ({}, [WRITE_KEY]),
    ({}, {"key": WRITE_KEY}),
])
async def test_a_missing_or_unknown_key_is_401_and_nothing_is_stored(
        api: Stack, headers: dict[str, str], body_key: Any) -> None:
    before = _count(api)
    body: dict[str, Any] = {"batch": [{"type": "track", **_track("refused-key")}]}
    if body_key is not None:
        body["writeKey"] = body_key

    response = await api.http.post("/v1/batch", json=body, headers=headers)

    _refused(response, 401)
    assert response.headers["WWW-Authenticate"] == 'Basic realm="nurture"'
    assert _count(api) == before


async def test_a_caller_without_a_key_learns_nothing_about_its_body(api: Stack) -> None:
    response = await _post(api, "/v1/track", b"{not json")

    _refused(response, 401)


# bodies

async def test_a_gzipped_body_is_accepted(api: Stack) -> None:
    calls = [{"type": "track", **_track(f"gzip-{n}")} for n in range(3)]
    content = gzip.compress(json.dumps({"batch": calls}).encode())

    response = await _post(api, "/v1/batch", content, **KEY_HEADER, **{"Content-Encoding": "gzip"})

    assert response.status_code == 200
    assert {"gzip-0", "gzip-1", "gzip-2"} <= _ids(api)


@pytest.mark.parametrize(("content", "problem"), [
    (b"\x1f\x8b\x08\x00garbage-that-is-not-deflate", "not valid gzip"),
    (gzip.compress(b'{"userId": "ana", "event": "A"}')[:-12], "truncated"),
    (b'{"userId": "ana", "event": "A"}', "not valid gzip"),
    (b"", "truncated"),
])
async def test_a_corrupt_gzip_body_is_400(api: Stack, content: bytes, problem: str) -> None:
    before = _count(api)

    response = await _post(api, "/v1/track", content, **KEY_HEADER,
                           **{"Content-Encoding": "gzip"})

    assert problem in _refused(response, 400)["error"]
    assert _count(api) == before


async def test_a_gzip_bomb_is_413(api: Stack) -> None:
    inflated = b'{"batch": [], "padding": "' + b" " * (5 * 1024 * 1024) + b'"}'
    content = gzip.compress(inflated, compresslevel=9)
    assert len(content) < 32 * 1024

    response = await _post(api, "/v1/batch", content, **KEY_HEADER,
                           **{"Content-Encoding": "gzip"})

    assert "once unzipped" in _refused(response, 413)["error"]


async def test_a_single_call_that_unzips_past_32_kb_is_413(api: Stack) -> None:
    content = gzip.compress(json.dumps(_track("zipped-big", properties={
        "x": "a" * 40_000})).encode())

    response = await _post(api, "/v1/track", content, **KEY_HEADER,
                           **{"Content-Encoding": "gzip"})

    _refused(response, 413)
    assert "zipped-big" not in _ids(api)


async def test_a_single_call_over_32_kb_is_413(api: Stack) -> None:
    call = _track("big-call", properties={"x": "a" * 33_000})

    response = await api.http.post("/v1/track", json=call, headers=KEY_HEADER)

    assert "32 KB" in _refused(response, 413)["error"]
    assert "big-call" not in _ids(api)


async def test_a_call_just_under_32_kb_is_accepted(api: Stack) -> None:
    call = _track("almost-big", properties={"x": "a" * 32_000})

    response = await api.http.post("/v1/track", json=call, headers=KEY_HEADER)

    assert response.status_code == 200
    assert "almost-big" in _ids(api)


async def test_a_batch_over_4_mb_is_413(api: Stack) -> None:
    calls = [{"type": "track", **_track(f"huge-{n}", properties={"x": "a" * 30_000})}
             for n in range(150)]
    before = _count(api)

    response = await api.http.post("/v1/batch", json={"batch": calls}, headers=KEY_HEADER)

    assert "4096 KB" in _refused(response, 413)["error"]
    assert _count(api) == before


async def test_a_streamed_body_over_the_limit_is_413(api: Stack) -> None:
    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: counted as it arrives
        yield b'{"userId": "ana", "event": "A", "properties": {"x": "'
        for _ in range(5):
            yield b"a" * 10_000
        yield b'"}}'

    response = await api.http.post("/v1/track", content=chunks(), headers={**JSON,
                                                                           **KEY_HEADER})

    _refused(response, 413)


@pytest.mark.parametrize("content", [b"{not json", b"", b"   ", b'{"userId": "ana",',
                                     b"\xff\xfe\x00garbage", b'{"userId": NaN, "event": "A"}',
                                     b'{"userId": "ana", "event": "A", "properties": '
                                     b'{"x": Infinity}}',
                                     b'{"userId": "ana", "event": "A", "properties": '
                                     b'{"x": 1e400}}',
                                     b"[" * 30_000])
async def test_a_body_that_is_not_json_is_400(api: Stack, content: bytes) -> None:
    before = _count(api)

    response = await _post(api, "/v1/track", content, **KEY_HEADER)

    _refused(response, 400)
    assert _count(api) == before


@pytest.mark.parametrize(("path", "body", "field"), [
    ("/v1/track", {"userId": "ana", "event": 5}, "event"),
    ("/v1/track", {"userId": "ana", "event": "A", "properties": "x"}, "properties"),
    ("/v1/identify", {"userId": "ana", "traits": {"email": "nope"}}, "traits.email"),
    ("/v1/page", {"userId": ["ana"]}, "userId"),
    ("/v1/alias", {"userId": "ana"}, "previousId"),
    ("/v1/batch", {"batch": [{"type": "track", "userId": "a", "event": "A"},
                             {"type": "track", "userId": "a", "event": "B", "timestamp": "soon"}]},
     "batch[1].timestamp"),
    ("/v1/batch", {"batch": [{"type": "track", "userId": "a", "event": "A", "messageId": "ok"},
                             {"type": "track", "userId": "a"}]}, "batch[1].event"),
    ("/v1/batch", {"batch": "all of them"}, "batch"),
    ("/v1/track", ["not", "an", "object"], None),
])
async def test_a_malformed_call_is_400_naming_the_field(
        api: Stack, path: str, body: Any, field: str | None) -> None:
    before = _count(api)
    content = json.dumps(body).encode()

    response = await _post(api, path, content, **KEY_HEADER)

    assert _refused(response, 400).get("field") == field
    assert _count(api) == before


@pytest.mark.parametrize("encoding", ["br", "deflate", "compress", "gzip, br"])
async def test_an_unsupported_content_encoding_is_400(api: Stack, encoding: str) -> None:
    response = await _post(api, "/v1/track", json.dumps(_track("enc")).encode(), **KEY_HEADER,
                           **{"Content-Encoding": encoding})

    assert "not supported" in _refused(response, 400)["error"]


async def test_a_repeated_message_is_stored_once(api: Stack) -> None:
    for _ in range(3):
        response = await api.http.post("/v1/track", json=_track("again-1"), headers=KEY_HEADER)
        assert response.status_code == 200

    assert [r.message_id for r in _rows(api)].count("again-1") == 1


async def test_every_call_of_a_batch_is_stored_in_order(api: Stack) -> None:
    calls = [{"type": "identify", **identify("ordered"), "messageId": "order-0"},
             {"type": "page", "userId": "ordered", "properties": {"path": "/pricing"},
              "messageId": "order-1"},
             {"type": "track", "userId": "ordered", "event": "Demo Requested",
              "messageId": "order-2"}]

    response = await api.http.post("/v1/batch", json={"batch": calls}, headers=KEY_HEADER)

    assert response.status_code == 200
    rows = [r for r in _rows(api) if r.lead_id == "ordered"]
    assert [(r.message_id, r.kind) for r in rows] == [
        ("order-0", "profile"), ("order-1", "event"), ("order-2", "event")]
    assert rows[1].payload["type"] == "pricing_page_viewed"


async def test_accepted_events_wait_for_temporal_in_the_database(api: Stack) -> None:
    response = await api.http.post("/v1/identify", json=identify("waits"), headers=KEY_HEADER)
    assert response.status_code == 200

    lead = await api.lead("waits")
    health = (await api.http.get("/health")).json()

    assert (lead["source"], lead["phase"], lead["inbound"]) == ("inbound", None,
                                                                {"pending": 1})
    assert health["temporal"] is False and health["backlog"] >= 1


@pytest.mark.parametrize(("content", "accepted"), [
    (b'{"userId": "ana\\u0000", "event": "A"}', False),
    (b'{"userId": "ana", "event": "A", "messageId": "m\\u0000"}', False),
    (b'{"userId": "ana", "event": "A", "properties": {"x": NaN}}', False),
    (b'{"userId": "ana", "event": "A", "properties": {"x": -1e999}}', False),
    (b'{"userId": "ana", "event": "A", "properties": {"note": "a\\u0000b"}}', True),
    (b'{"userId": "ana", "event": "A", "properties": {"half": "\\ud800"}}', False),
    (b'{"userId": "ana", "event": "A", "properties": {"pair": "\\ud83d\\ude00"}}', True),
    (b'{"userId": "ana", "event": "A", "properties": {"n": 123456789012345678901234567890}}',
     True),
])
async def test_every_database_stores_what_is_accepted_and_what_it_cannot_hold_is_400(
        store: Store, content: bytes, accepted: bool) -> None:
    app = create_app(Settings(write_keys=WRITE_KEY), store=store, playbook=PLAYBOOK, relay=None)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as http:
        response = await http.post("/v1/track", content=content, headers={**JSON, **KEY_HEADER})

    assert response.status_code == (200 if accepted else 400), response.text
    assert len(store.pending_inbound()) == (1 if accepted else 0)


# back-pressure and outages

async def test_too_many_requests_in_flight_is_429(tmp_path: Path) -> None:
    async with running_stack(_unreachable, tmp_path, ingest_max_inflight=1) as stack:
        started, release = asyncio.Event(), asyncio.Event()

        async def slow_body() -> AsyncIterator[bytes]:
            yield b'{"userId": "ana", "event": "Blog Viewed", '
            started.set()
            await release.wait()
            yield b'"messageId": "slow-1"}'

        held = asyncio.create_task(stack.http.post(
            "/v1/track", content=slow_body(), headers={**JSON, **KEY_HEADER}))
        await asyncio.wait_for(started.wait(), 10)
        await asyncio.sleep(0.2)  # the server (on this loop) reads the held request's head
        try:
            response = await stack.http.post("/v1/track", json=_track("crowded"),
                                             headers=KEY_HEADER)
        finally:
            release.set()

        assert "in flight" in _refused(response, 429)["error"]
        assert response.headers["Retry-After"] == "1"
        assert (await held).status_code == 200
        assert _ids(stack) == {"slow-1"}
        later = await stack.http.post("/v1/track", json=_track("after"), headers=KEY_HEADER)
        assert later.status_code == 200


async def test_a_full_backlog_is_503_until_it_drains(tmp_path: Path) -> None:
    async with running_stack(_unreachable, tmp_path, ingest_backlog_limit=2) as stack:
        calls = [{"type": "track", **_track(f"backlog-{n}")} for n in range(2)]
        first = await stack.http.post("/v1/batch", json={"batch": calls}, headers=KEY_HEADER)
        assert first.status_code == 200

        response = await stack.http.post("/v1/track", json=_track("over"), headers=KEY_HEADER)

        assert _refused(response, 503)["error"].startswith("the delivery backlog is full")
        assert response.headers["Retry-After"] == "5"
        assert "over" not in _ids(stack)


def _broken_engine(folder: Path) -> Any:
    return create_engine(f"sqlite:///{folder / 'no-such-folder' / 'nurture.db'}")


async def test_a_database_failure_is_503(tmp_path: Path) -> None:
    async with running_stack(_unreachable, tmp_path) as stack:
        working = stack.store.engine
        stack.store.engine = _broken_engine(tmp_path)
        try:
            response = await stack.http.post("/v1/track", json=_track("db-1"),
                                             headers=KEY_HEADER)
        finally:
            stack.store.engine.dispose()
            stack.store.engine = working

        assert "database is unavailable" in _refused(response, 503)["error"]
        assert response.headers["Retry-After"] == "2"
        assert "db-1" not in _ids(stack)
        retried = await stack.http.post("/v1/track", json=_track("db-1"), headers=KEY_HEADER)
        assert retried.status_code == 200
        assert "db-1" in _ids(stack)


async def test_a_database_failure_after_the_backlog_was_counted_is_503(tmp_path: Path) -> None:
    async with running_stack(_unreachable, tmp_path) as stack:
        first = await stack.http.post("/v1/track", json=_track("db-ok"), headers=KEY_HEADER)
        assert first.status_code == 200
        working = stack.store.engine
        stack.store.engine = _broken_engine(tmp_path)
        try:
            response = await stack.http.post("/v1/track", json=_track("db-2"),
                                             headers=KEY_HEADER)
        finally:
            stack.store.engine.dispose()
            stack.store.engine = working

        _refused(response, 503)
        assert _ids(stack) == {"db-ok"}


async def test_a_database_failure_on_a_tracking_link_is_503(tmp_path: Path) -> None:
    async with running_stack(_unreachable, tmp_path) as stack:
        working = stack.store.engine
        stack.store.engine = _broken_engine(tmp_path)
        try:
            response = await stack.http.get("/u/" + sign_token("ana", stack.settings.secret
                                                               .get_secret_value()))
        finally:
            stack.store.engine.dispose()
            stack.store.engine = working

        assert response.status_code == 503 and response.headers["Retry-After"] == "2"


# documentation

async def test_the_ingestion_routes_are_documented(api: Stack) -> None:
    page = await api.http.get("/docs")
    spec = (await api.http.get("/openapi.json")).json()

    assert page.status_code == 200 and "/openapi.json" in page.text
    routes = ["/v1/track", "/v1/identify", "/v1/page", "/v1/screen", "/v1/group", "/v1/alias",
              "/v1/batch"]
    for route in routes:
        operation = spec["paths"][route]["post"]
        assert {"200", "400", "401", "413", "429", "503"} <= set(operation["responses"]), route
        assert operation["requestBody"]["required"] is True
    batch_schema = spec["paths"]["/v1/batch"]["post"]["requestBody"]["content"][
        "application/json"]["schema"]
    assert batch_schema["properties"]["batch"]["type"] == "array"


async def test_health_counts_the_emails_whose_outcome_is_unknown(api: Stack) -> None:
    from tests.worker.test_sends_cli import unknown_send

    unknown_send(api.store, "lead-1:welcome", "ada@acme.io")

    health = (await api.http.get("/health")).json()

    assert health["emails_outcome_unknown"] == 1
