"""Email engagement over real HTTP: tracked links, the open pixel, link scanners and
signed tokens that only do what they were issued for."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func
from sqlmodel import Session, SQLModel, col, select
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from engine.mail import read_click, sign_token
from engine.store import EmailSendRow, InboundRow
from engine.store.tables import EmailClickRow
from tests.stack import Stack, daytime_zone, identify, running_stack
from worker import simulate


@dataclass
class SentEmail:
    """An email the worker sent, as the recipient's mail client sees it."""

    send: EmailSendRow
    html: str
    text: str
    unsubscribe: str

    @property
    def hrefs(self) -> list[str]:
        return re.findall(r'href="([^"]+)"', self.html)

    def clicks(self, base: str) -> list[str]:
        return [href for href in self.hrefs if href.startswith(f"{base}/t/c/")]

    def pixels(self, base: str) -> list[str]:
        return re.findall(rf'<img src="({re.escape(base)}/t/o/[^"]+)"', self.html)


@pytest.fixture(name="mail_env", scope="module")
async def _mail_env() -> AsyncIterator[WorkflowEnvironment]:
    """A time-skipping server whose clock starts at the real now and is never skipped here,
    so send times and click times (taken from the wall clock) compare."""
    env = await WorkflowEnvironment.start_time_skipping(
        data_converter=pydantic_data_converter, runtime=simulate.quiet_runtime(),
        test_server_existing_path=simulate.test_server_path())
    async with env:
        yield env


@asynccontextmanager
async def _mail_stack(env: WorkflowEnvironment, folder: Path, **overrides: Any
                      ) -> AsyncIterator[Stack]:
    async def source() -> Client:
        return env.client

    async with running_stack(source, folder, worker_client=env.client, **overrides) as stack:
        yield stack


@pytest.fixture(name="stack", scope="module")
async def _stack(mail_env: WorkflowEnvironment, tmp_path_factory: pytest.TempPathFactory
                 ) -> AsyncIterator[Stack]:
    """One stack for the module's leads, with the default scanner window."""
    async with _mail_stack(mail_env, tmp_path_factory.mktemp("tracking")) as stack:
        yield stack


@pytest.fixture(name="human_stack", scope="module")
async def _human_stack(mail_env: WorkflowEnvironment, tmp_path_factory: pytest.TempPathFactory
                       ) -> AsyncIterator[Stack]:
    """A stack where a click soon after sending is not, by itself, taken for a scanner's."""
    async with _mail_stack(mail_env, tmp_path_factory.mktemp("human"),
                           scanner_click_seconds=0) as stack:
        yield stack


async def _sent_email(stack: Stack, env: WorkflowEnvironment, lead_id: str) -> SentEmail:
    zone = daytime_zone(await env.get_current_time())
    response = await stack.send("/v1/identify", identify(lead_id, timezone=zone))
    assert response.status_code == 200

    async def sent() -> list[EmailSendRow]:
        sends = await asyncio.to_thread(stack.store.sends_for, lead_id)
        delivered = {m["To"] for m in stack.transport.sent}
        return [s for s in sends if s.status == "sent" and s.to_address in delivered]

    (send, *_) = await stack.until(sent)
    (message, *_) = [m for m in stack.transport.sent if m["To"] == send.to_address]
    html_part, text_part = message.get_body(("html",)), message.get_body(("plain",))
    assert html_part is not None and text_part is not None
    unsubscribe = message["List-Unsubscribe"].split(",")[0].strip(" <>")
    return SentEmail(send=send, html=str(html_part.get_content()),
                     text=str(text_part.get_content()), unsubscribe=unsubscribe)


def _count(stack: Stack, table: type[SQLModel]) -> int:
    with Session(stack.store.engine) as session:
        return int(session.exec(select(func.count()).select_from(table)).one())


def _clicks(stack: Stack, send: EmailSendRow) -> list[EmailClickRow]:
    with Session(stack.store.engine) as session:
        return list(session.exec(select(EmailClickRow).where(
            EmailClickRow.send_key == send.key).order_by(col(EmailClickRow.id))))


def _inbound_of_type(stack: Stack, lead_id: str, kind: str) -> list[InboundRow]:
    with Session(stack.store.engine) as session:
        rows = session.exec(select(InboundRow).where(InboundRow.lead_id == lead_id))
        return [r for r in rows if r.payload.get("type") == kind]


async def _events(stack: Stack, lead_id: str, kind: str, count: int) -> list[dict[str, Any]]:
    async def found() -> list[dict[str, Any]]:
        lead = await stack.lead(lead_id)
        events = [e for e in lead.get("recent_events", []) if e["type"] == kind]
        return events if len(events) >= count else []

    return list(await stack.until(found))


def _link(stack: Stack, href: str) -> tuple[str, int]:
    """The send key and link index a tracked href names."""
    found = read_click(href.rsplit("/", 1)[1], stack.settings.secret.get_secret_value())
    assert found is not None, href
    return found


def _path(stack: Stack, url: str) -> str:
    assert url.startswith(stack.url), url
    return url.removeprefix(stack.url)


async def test_every_web_link_is_tracked_except_unsubscribe_and_one_pixel_watches_opens(
        stack: Stack, mail_env: WorkflowEnvironment) -> None:
    email = await _sent_email(stack, mail_env, "ada")

    web = [h for h in email.hrefs if h.startswith(("http://", "https://"))]
    tracked = email.clicks(stack.url)
    assert sorted(set(web) - set(tracked)) == [email.unsubscribe]
    reads = [_link(stack, href) for href in tracked]
    assert {key for key, _ in reads} == {email.send.key}
    assert sorted({index for _, index in reads}) == list(range(len(email.send.links)))
    # The recorded links are the ones the text part (never rewritten) shows the reader.
    assert email.send.links and set(email.send.links) <= set(_urls(email.text))
    assert len(email.pixels(stack.url)) == 1


def _urls(text: str) -> list[str]:
    return re.findall(r"https?://[^\s<>\"]+", text)


async def test_a_click_redirects_to_exactly_the_original_link(
        stack: Stack, mail_env: WorkflowEnvironment) -> None:
    email = await _sent_email(stack, mail_env, "ben")

    for href in dict.fromkeys(email.clicks(stack.url)):
        response = await stack.http.get(_path(stack, href))

        assert response.status_code == 302
        assert response.headers["location"] == email.send.links[_link(stack, href)[1]]
        assert "no-store" in response.headers["cache-control"]
    assert len(_clicks(stack, email.send)) == len(set(email.clicks(stack.url)))


async def test_a_click_right_after_sending_is_taken_for_a_link_scanner(
        stack: Stack, mail_env: WorkflowEnvironment) -> None:
    email = await _sent_email(stack, mail_env, "cyd")
    href = email.clicks(stack.url)[0]

    assert (await stack.http.get(_path(stack, href))).status_code == 302

    (event,) = await _events(stack, "cyd", "email_clicked", 1)
    assert event["properties"]["bot"] is True
    assert event["properties"]["template"] == email.send.template
    # A rep knows the email by its subject, not by the template's folder name.
    assert event["properties"]["subject"] == email.send.subject
    assert [c.scanner for c in _clicks(stack, email.send)] == [True]


async def test_a_later_click_is_a_person_but_a_second_link_at_once_is_a_scanner(
        human_stack: Stack, mail_env: WorkflowEnvironment) -> None:
    stack = human_stack
    email = await _sent_email(stack, mail_env, "dot")
    by_link: dict[int, str] = {}
    for href in email.clicks(stack.url):
        by_link.setdefault(_link(stack, href)[1], href)
    assert len(by_link) >= 2, "the first email should hold at least two web links"
    (first_index, first), (second_index, second) = list(by_link.items())[:2]

    assert (await stack.http.get(_path(stack, first))).status_code == 302
    assert (await stack.http.get(_path(stack, second))).status_code == 302

    events = await _events(stack, "dot", "email_clicked", 2)
    newest, oldest = events[0], events[1]  # recent events are newest first
    assert "bot" not in oldest["properties"]
    assert oldest["properties"]["url"] == email.send.links[first_index]
    assert newest["properties"]["bot"] is True
    assert newest["properties"]["url"] == email.send.links[second_index]


async def test_a_forged_click_token_is_404_and_records_nothing(
        stack: Stack, mail_env: WorkflowEnvironment) -> None:
    email = await _sent_email(stack, mail_env, "eli")
    secret = stack.settings.secret.get_secret_value()
    genuine = email.clicks(stack.url)[0].rsplit("/", 1)[1]
    payload, signature = genuine.split(".")
    flipped = signature[:-1] + ("A" if signature[-1] != "A" else "B")

    def click(value: Any) -> str:
        return "/t/c/" + sign_token(json.dumps(value), secret, purpose="click")

    forged = [
        click([email.send.key, len(email.send.links)]),
        click([email.send.key, -1]),
        click(["no-such-send", 0]),
        click([email.send.key, "0"]),
        f"/t/c/{payload}.{flipped}",
        f"/t/c/{payload}",
        "/t/c/" + sign_token(json.dumps([email.send.key, 0]), "another-secret", purpose="click"),
    ]
    inbound, clicks = _count(stack, InboundRow), _count(stack, EmailClickRow)

    for path in forged:
        response = await stack.http.get(path)
        assert response.status_code == 404, path
        assert "location" not in response.headers

    assert (_count(stack, InboundRow), _count(stack, EmailClickRow)) == (inbound, clicks)


async def test_the_open_pixel_is_a_gif_and_only_the_first_open_counts(
        stack: Stack, mail_env: WorkflowEnvironment) -> None:
    email = await _sent_email(stack, mail_env, "fin")
    (pixel,) = email.pixels(stack.url)

    for _ in range(3):
        response = await stack.http.get(_path(stack, pixel))
        assert response.status_code == 200
        assert response.headers["content-type"] == "image/gif"
        assert response.content.startswith(b"GIF89a")

    (event,) = await _events(stack, "fin", "email_opened", 1)
    assert event["properties"] == {"template": email.send.template, "track": email.send.track}
    assert len(_inbound_of_type(stack, "fin", "email_opened")) == 1
    lead = await stack.lead("fin")
    assert [e["type"] for e in lead["recent_events"]].count("email_opened") == 1


async def test_each_token_only_does_what_it_was_issued_for(
        stack: Stack, mail_env: WorkflowEnvironment) -> None:
    email = await _sent_email(stack, mail_env, "gus")
    click = email.clicks(stack.url)[0].rsplit("/", 1)[1]
    opened = email.pixels(stack.url)[0].rsplit("/", 1)[1]
    unsubscribe = email.unsubscribe.rsplit("/", 1)[1]
    inbound, clicks = _count(stack, InboundRow), _count(stack, EmailClickRow)

    misused = [("GET", f"/t/c/{unsubscribe}"), ("GET", f"/t/o/{unsubscribe}"),
               ("GET", f"/t/c/{opened}"), ("GET", f"/t/o/{click}"),
               ("GET", f"/u/{click}"), ("POST", f"/u/{click}"),
               ("GET", f"/u/{opened}"), ("POST", f"/u/{opened}")]
    for method, path in misused:
        response = await stack.http.request(method, path)
        assert response.status_code == 404, (method, path)

    assert (_count(stack, InboundRow), _count(stack, EmailClickRow)) == (inbound, clicks)
    assert await asyncio.to_thread(stack.store.suppression, "gus@acme-analytics.io") is None
    assert (await stack.http.get(_path(stack, email.unsubscribe))).status_code == 200
