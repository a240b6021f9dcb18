"""Whatever arrives over HTTP, the API never fails with a 5xx, and a request it refuses
leaves nothing behind: no inbound message, no suppression, no click.

The server is real (uvicorn on loopback, in a thread of its own so the property can be a
plain function); Temporal is unreachable, so nothing accepted is ever delivered.
"""

from __future__ import annotations

import asyncio
import base64
import gzip
import json
import string
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import httpx
import pytest
import uvicorn
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func
from sqlmodel import Session, SQLModel, select
from temporalio.client import Client

from engine.api import create_app
from engine.client import Relay
from engine.leads import LeadProfile
from engine.mail import sign_token
from engine.settings import Settings
from engine.store import InboundRow, Store, SuppressionRow
from engine.store.tables import EmailClickRow
from tests.stack import WRITE_KEY, free_port
from workflows import PLAYBOOK

SEND_KEY = "fuzz-lead/welcome/1"
LEAD_ID = "fuzz-lead"
LINKS = ["https://northwind.example/a", "https://northwind.example/b?x=1&y=2"]
CALL_TYPES = ["track", "identify", "page", "screen", "group", "alias"]
INGEST = ["/v1/track", "/v1/identify", "/v1/page", "/v1/screen", "/v1/group", "/v1/alias",
          "/v1/batch"]
WATCHED: tuple[type[SQLModel], ...] = (InboundRow, SuppressionRow, EmailClickRow)


@dataclass
class Server:
    """The running API, its store and its signing secret."""

    url: str
    store: Store
    secret: str

    def counts(self) -> tuple[int, ...]:
        with Session(self.store.engine) as session:
            return tuple(int(session.exec(select(func.count()).select_from(table)).one())
                         for table in WATCHED)


async def _unreachable() -> Client:
    raise ConnectionError("no Temporal for the fuzz test")


@pytest.fixture(name="server", scope="module")
def _server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("fuzz")
    port = free_port()
    config = Settings(write_keys=WRITE_KEY, base_url=f"http://127.0.0.1:{port}",
                      database_url=f"sqlite:///{folder}/nurture.db")
    store = Store(config.database_url, upgrade=True)
    long_ago = datetime.now(UTC) - timedelta(days=3)
    store.upsert_lead(LeadProfile(id=LEAD_ID, email="fuzz@acme-analytics.io"), now=long_ago)
    store.begin_send(key=SEND_KEY, lead_id=LEAD_ID, to_address="fuzz@acme-analytics.io",
                     template="welcome_confirmation", track="qualification", step="welcome",
                     subject="Welcome", message_id="<fuzz@northwind.example>", now=long_ago,
                     links=LINKS)
    store.finish_send(SEND_KEY, status="sent", now=long_ago)
    relay = Relay(store, PLAYBOOK, _unreachable, task_queue="fuzz", poll=0.5)
    app = create_app(config, store=store, playbook=PLAYBOOK, relay=relay)
    uvicorn_server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                                   log_level="critical", lifespan="on"))
    thread = threading.Thread(target=lambda: asyncio.run(uvicorn_server.serve()), daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not uvicorn_server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield Server(url=f"http://127.0.0.1:{port}", store=store,
                     secret=config.secret.get_secret_value())
    finally:
        uvicorn_server.should_exit = True
        thread.join(timeout=10)
        store.dispose()


# --- what a client might send --------------------------------------------------------------

_SAFE = string.ascii_letters + string.digits + string.punctuation + " "

# Values that tend to break parsers: blanks, edge dates, odd URLs, huge and non-finite numbers.
nasty_values = st.sampled_from([
    "", "   ", "\x00", "a\x00b", "\ud800", "é", "0", "-1", "1,000", "9" * 5000, "1e400",
    "http://[", "//", "https://www.", "0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00",
    "0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z", "2026-02-30T00:00:00Z", "NaN", "null",
    -1, 0, 2**63, -(2**63) - 1, 1e308, -1e308, 5e-324, float("nan"), float("inf"),
    float("-inf"), True, [], {}, [[]], {"": None}])

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=30) | nasty_values,
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=12)

field_values = nasty_values | json_values

CALL_FIELDS = ["type", "userId", "anonymousId", "messageId", "event", "name", "properties",
               "traits", "context", "timestamp", "originalTimestamp", "sentAt", "groupId",
               "previousId", "batch"]
TRAITS = ["email", "firstName", "name", "company", "employees", "website", "address",
          "timezone", "title"]


def _valid_call(kind: str) -> dict[str, Any]:
    call: dict[str, Any] = {"type": kind, "userId": "fuzz-user",
                            "timestamp": "2026-01-05T09:30:00Z"}
    if kind == "track":
        call["event"] = "Pricing Page Viewed"
    if kind in ("page", "screen"):
        call["properties"] = {"path": "/pricing", "url": "https://northwind.example/pricing"}
    if kind == "identify":
        call["traits"] = {"email": "fuzz@acme.io", "firstName": "Fu", "employees": "51-200",
                          "company": {"name": "Acme"}, "website": "https://www.acme.io"}
    if kind == "group":
        call.update(groupId="acct-1", traits={"name": "Acme", "employees": 10})
    if kind == "alias":
        call["previousId"] = "browser-1"
    return call


@st.composite
def calls(draw: st.DrawFn, kind: str | None = None) -> dict[str, Any]:
    """A plausible call, often with fields or traits swapped for values of any type."""
    call = _valid_call(kind or draw(st.sampled_from(CALL_TYPES)))
    call["messageId"] = draw(st.text(min_size=1, max_size=40) | nasty_values)
    for field in draw(st.lists(st.sampled_from(CALL_FIELDS), max_size=3)):
        call[field] = draw(field_values)
    if isinstance(call.get("traits"), dict):
        for trait in draw(st.lists(st.sampled_from(TRAITS), max_size=2)):
            call["traits"][trait] = draw(field_values)
    return call


@st.composite
def json_bodies(draw: st.DrawFn, path: str) -> Any:
    """What `path` expects, mutated; now and then any JSON value at all."""
    if draw(st.integers(min_value=0, max_value=4)) == 0:
        return draw(json_values)
    kind = path.removeprefix("/v1/")
    if path != "/v1/batch":
        return draw(calls(kind if kind in CALL_TYPES else None))
    body: dict[str, Any] = {"batch": draw(st.lists(calls(), max_size=4))}
    if draw(st.booleans()):
        body["sentAt"] = draw(field_values | st.just("2026-01-05T09:30:00Z"))
    if draw(st.booleans()):
        body["context"] = draw(field_values | st.just({"timezone": "Europe/Berlin"}))
    return body


def _deep(depth: int) -> bytes:
    return (b'{"userId": "u", "event": "A", "properties": {"x": ' + b"[" * depth
            + b"]" * depth + b"}}")


@st.composite
def raw_bodies(draw: st.DrawFn, path: str, body_key: Any) -> bytes:
    """JSON for `path` (carrying `body_key` as writeKey unless None), or bytes that are not."""
    kind = draw(st.sampled_from(["json"] * 5 + ["bytes", "huge", "deep", "latin1", "empty"]))
    if kind == "bytes":
        return draw(st.binary(max_size=200))
    if kind == "huge":
        size = draw(st.sampled_from([31_000, 33_000, 40_000]))
        field = draw(st.sampled_from(["event", "userId", "messageId", "properties"]))
        value: Any = "x" * size if field != "properties" else {"blob": "é" * (size // 2)}
        return json.dumps({**_valid_call("track"), field: value}).encode()
    if kind == "deep":
        return _deep(draw(st.sampled_from([50, 900, 5_000, 15_000])))
    if kind == "latin1":
        return b'{"userId": "Jos\xe9", "event": "Caf\xe9 Viewed"}'
    if kind == "empty":
        return b""
    body = draw(json_bodies(path))
    if isinstance(body, dict) and body_key is not None:
        body["writeKey"] = body_key
    return json.dumps(body).encode()


@st.composite
def credentials(draw: st.DrawFn) -> tuple[dict[str, str], Any]:
    """Headers and a body writeKey: half the time the right key (in one of its three forms),
    else every wrong way."""
    if draw(st.booleans()):
        choice = draw(st.sampled_from(["basic", "header", "body"]))
    else:
        choice = draw(st.sampled_from(["none", "body-wrong", "wrong-header", "garbage",
                                       "random-b64", "other-scheme"]))
    if choice == "basic":
        return {"Authorization": "Basic " + base64.b64encode(
            f"{WRITE_KEY}:".encode()).decode()}, None
    if choice == "header":
        return {"X-Write-Key": WRITE_KEY}, None
    if choice == "body":
        return {}, WRITE_KEY
    if choice == "body-wrong":
        return {}, draw(st.sampled_from(["wrong", WRITE_KEY + " "]) | field_values)
    if choice == "wrong-header":
        return {"X-Write-Key": draw(st.sampled_from(["wrong", "k" * 300, WRITE_KEY + "x"]))}, None
    if choice == "garbage":
        return {"Authorization": "Basic " + draw(
            st.text(_SAFE, min_size=1, max_size=40)).strip()}, None
    if choice == "random-b64":
        return {"Authorization": "Basic " + base64.b64encode(
            draw(st.binary(min_size=1, max_size=40))).decode()}, None
    if choice == "other-scheme":
        return {"Authorization": draw(st.sampled_from(["Bearer", "Digest", "basic"])) + " x"}, None
    return {}, None


_GENUINE = {"/t/c/": "link", "/t/o/": "key", "/u/": "lead"}
_PURPOSE = {"/t/c/": "click", "/t/o/": "open", "/u/": ""}


def _token_value(draw: st.DrawFn, route: str) -> str:
    """Mostly what the route's tokens carry, sometimes what another route's do, or junk."""
    kind = draw(st.sampled_from([_GENUINE[route]] * 3 + ["link", "key", "lead", "any"]))
    if kind == "link":
        index: Any = draw(st.integers(min_value=-1, max_value=len(LINKS)) | json_values)
        return json.dumps([draw(st.sampled_from([SEND_KEY, "unknown"])), index])
    if kind == "key":
        return draw(st.sampled_from([SEND_KEY, "unknown-send"]))
    if kind == "lead":
        return draw(st.sampled_from([LEAD_ID, "unknown-lead"]))
    return json.dumps(draw(json_values))


@st.composite
def tracking_paths(draw: st.DrawFn, secret: str) -> str:
    """A click, open or unsubscribe path whose token is random, genuine or tampered with."""
    route = draw(st.sampled_from(list(_GENUINE)))
    kind = draw(st.sampled_from(["random", "signed", "signed", "signed", "tampered"]))
    if kind == "random":
        token = draw(st.text(max_size=60))
    else:
        purpose = draw(st.sampled_from([_PURPOSE[route]] * 2 + ["click", "open", ""]))
        token = sign_token(_token_value(draw, route),
                           draw(st.sampled_from([secret, secret, "another-secret"])),
                           purpose=purpose)
        if kind == "tampered":
            token = token[:-1] + ("A" if token[-1] != "A" else "B")
    return route + quote(token, safe="")


Request = tuple[str, str, bytes, dict[str, str]]


@st.composite
def requests(draw: st.DrawFn, secret: str) -> Request:
    """A method, path, body and headers."""
    headers, body_key = draw(credentials())
    if draw(st.integers(min_value=0, max_value=3)) == 0:
        path = draw(tracking_paths(secret))
        return draw(st.sampled_from(["GET", "GET", "POST"])), path, b"", headers
    path = draw(st.sampled_from([*INGEST, *INGEST, "/v1/leads/fuzz-user", "/v1/nowhere"]))
    body = draw(raw_bodies(path, body_key))
    encoding = draw(st.sampled_from([None, None, "gzip", "gzip-lie", "br", "identity",
                                     "GZIP"]))
    if encoding in ("gzip", "GZIP"):
        body = gzip.compress(body)
    if encoding is not None:
        headers["Content-Encoding"] = "gzip" if encoding == "gzip-lie" else encoding
    headers["Content-Type"] = draw(st.sampled_from(["application/json", "text/plain",
                                                    "application/x-www-form-urlencoded"]))
    return draw(st.sampled_from(["POST"] * 5 + ["GET"])), path, body, headers


# --- the property ----------------------------------------------------------------------------

def test_no_request_gets_a_5xx_and_a_refused_one_stores_nothing(server: Server) -> None:
    with httpx.Client(base_url=server.url, timeout=30, follow_redirects=False) as client:

        @settings(max_examples=300, deadline=None, derandomize=True, database=None,
                  suppress_health_check=[HealthCheck.function_scoped_fixture,
                                         HealthCheck.too_slow, HealthCheck.data_too_large,
                                         HealthCheck.large_base_example])
        @given(request=requests(server.secret))
        def never_fails(request: Request) -> None:
            method, path, body, headers = request
            before = server.counts()

            response = client.request(method, path, content=body, headers=headers)

            assert response.status_code < 500, (response.status_code, response.text)
            if response.status_code >= 400:
                assert server.counts() == before, response.text

        never_fails()
