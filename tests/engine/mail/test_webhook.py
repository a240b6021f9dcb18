"""Signed webhooks: receivers can verify them, and failures say whether to retry."""

from __future__ import annotations

import asyncio
import json
import socket
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import httpx
import pytest

from engine.errors import DeliveryError, PermanentDeliveryError
from engine.mail.webhook import deliver_webhook, sign_webhook, verify_webhook

SECRET = "whsec-test"
BODY = b'{"event":"sales_task.assigned","task_id":"t1"}'
NOW = 1_760_000_000


@dataclass
class Received:
    """One request the local receiver got."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """A real HTTP server on a loopback port that answers with queued statuses (then 200)."""

    statuses: deque[int] = field(default_factory=deque)
    requests: list[Received] = field(default_factory=list)
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/nurture"

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        request_line, *lines = head.decode("latin-1").split("\r\n")
        headers = {}
        for line in lines:
            if line:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
        body = await reader.readexactly(int(headers.get("content-length", "0")))
        method, path, _ = request_line.split(" ", 2)
        self.requests.append(Received(method, path, headers, body))
        status = self.statuses.popleft() if self.statuses else 200
        reply = b"try later" if status >= 500 else b"ok" if status < 300 else b"bad request"
        writer.write(f"HTTP/1.1 {status} X\r\nContent-Length: {len(reply)}\r\n"
                     "Connection: close\r\n\r\n".encode() + reply)
        await writer.drain()
        writer.close()


@pytest.fixture(name="receiver")
async def fixture_receiver() -> AsyncIterator[Receiver]:
    receiver = Receiver()
    server = await asyncio.start_server(receiver.handle, "127.0.0.1", 0)
    receiver.port = server.sockets[0].getsockname()[1]
    async with server:
        yield receiver
        server.close()


@pytest.fixture(name="http")
async def fixture_http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=5) as client:
        yield client


async def deliver(http: httpx.AsyncClient, url: str) -> None:
    await deliver_webhook(http, url, body=BODY, secret=SECRET, event="sales_task.assigned",
                          delivery_id="t1:notice:0", now=NOW)


def test_a_signature_verifies_with_the_same_secret_body_and_fresh_time() -> None:
    header = sign_webhook(SECRET, BODY, NOW)
    assert header.startswith(f"t={NOW},v1=")
    assert verify_webhook(SECRET, BODY, header, now=NOW + 60)


def test_a_tampered_body_or_another_secret_fails_verification() -> None:
    header = sign_webhook(SECRET, BODY, NOW)
    assert not verify_webhook(SECRET, BODY.replace(b"t1", b"t2"), header, now=NOW)
    assert not verify_webhook("other-secret", BODY, header, now=NOW)
    forged = header.replace(f"t={NOW}", f"t={NOW + 1}")
    assert not verify_webhook(SECRET, BODY, forged, now=NOW)


def test_a_stale_or_future_timestamp_is_refused() -> None:
    header = sign_webhook(SECRET, BODY, NOW)
    assert not verify_webhook(SECRET, BODY, header, now=NOW + 301)
    assert not verify_webhook(SECRET, BODY, header, now=NOW - 301)
    assert verify_webhook(SECRET, BODY, header, now=NOW + 3600, tolerance=3600)


@pytest.mark.parametrize("header", ["", "v1=abc", f"t={NOW}", "t=soon,v1=abc", "garbage"])
def test_a_malformed_signature_header_is_refused(header: str) -> None:
    assert not verify_webhook(SECRET, BODY, header, now=NOW)


def test_one_matching_signature_among_several_is_enough_during_secret_rotation() -> None:
    old = sign_webhook("old-secret", BODY, NOW).partition(",")[2]
    header = f"{sign_webhook(SECRET, BODY, NOW)},{old}"
    assert verify_webhook("old-secret", BODY, header, now=NOW)
    assert verify_webhook(SECRET, BODY, header, now=NOW)


async def test_a_2xx_delivery_posts_signed_json_with_event_and_delivery_id(
        receiver: Receiver, http: httpx.AsyncClient) -> None:
    await deliver(http, receiver.url)
    [request] = receiver.requests
    assert (request.method, request.path) == ("POST", "/hooks/nurture")
    assert request.headers["content-type"] == "application/json"
    assert request.headers["x-nurture-event"] == "sales_task.assigned"
    assert request.headers["x-nurture-delivery"] == "t1:notice:0"
    assert request.body == BODY
    assert json.loads(request.body)["task_id"] == "t1"
    assert verify_webhook(SECRET, request.body, request.headers["x-nurture-signature"], NOW)


@pytest.mark.parametrize("status", [500, 503, 429, 408])
async def test_server_errors_and_throttling_are_retryable(
        receiver: Receiver, http: httpx.AsyncClient, status: int) -> None:
    receiver.statuses.append(status)
    with pytest.raises(DeliveryError, match=f"HTTP {status}") as caught:
        await deliver(http, receiver.url)
    assert not isinstance(caught.value, PermanentDeliveryError)


@pytest.mark.parametrize("status", [400, 401, 404, 410])
async def test_other_client_errors_are_permanent(
        receiver: Receiver, http: httpx.AsyncClient, status: int) -> None:
    receiver.statuses.append(status)
    with pytest.raises(PermanentDeliveryError, match=f"HTTP {status}.*bad request"):
        await deliver(http, receiver.url)


async def test_a_refused_connection_is_retryable(http: httpx.AsyncClient) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(DeliveryError, match="will retry") as caught:
        await deliver(http, f"http://127.0.0.1:{port}/hook")
    assert not isinstance(caught.value, PermanentDeliveryError)


async def test_an_unusable_url_is_permanent(http: httpx.AsyncClient) -> None:
    with pytest.raises(PermanentDeliveryError, match="not usable"):
        await deliver(http, "ftp://hooks.example/nurture")
