"""Composed messages: both parts, every delivery header, a stable Message-ID."""

from __future__ import annotations

import email
import email.policy
from datetime import UTC, datetime
from email.message import EmailMessage

import pytest

from engine.errors import ConfigError, PermanentDeliveryError
from engine.mail import (
    RenderedEmail,
    SenderIdentity,
    TemplateRenderer,
    compose,
    make_message_id,
    sample_context,
)

UNSUBSCRIBE_URL = "https://northwind.example/u/" + "bGVhZF8wMDAx" * 8 + ".c2lnbmF0dXJl"
MAILTO = "mailto:unsubscribe@northwind.example?subject=unsubscribe"


def build(rendered: RenderedEmail, **overrides: object) -> EmailMessage:
    arguments: dict[str, object] = {
        "to": "priya.raman@brightline.example",
        "sender": SenderIdentity(),
        "message_id": make_message_id("lead-1:welcome:1", "northwind.example"),
        "unsubscribe_url": UNSUBSCRIBE_URL,
        "unsubscribe_mailto": MAILTO,
        "date": datetime(2026, 3, 2, 15, 30, tzinfo=UTC),
    } | overrides
    return compose(rendered, **arguments)  # type: ignore[arg-type]


@pytest.fixture(name="rendered")
def fixture_rendered(renderer: TemplateRenderer) -> RenderedEmail:
    return renderer.render("welcome_confirmation", sample_context())


def reparsed(message: EmailMessage) -> EmailMessage:
    """The message as a receiving server would see it."""
    parsed = email.message_from_bytes(message.as_bytes(), policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def unix(content: str) -> str:
    return content.replace("\r\n", "\n")


def test_message_has_a_text_part_beside_the_html_part(rendered: RenderedEmail) -> None:
    message = reparsed(build(rendered))

    assert message.get_content_type() == "multipart/alternative"
    parts = [part.get_content_type() for part in message.iter_parts()]
    assert parts == ["text/plain", "text/html"]
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert text is not None and html is not None
    assert unix(text.get_content()) == rendered.text
    assert unix(html.get_content()).rstrip("\n") == rendered.html.rstrip("\n")


def test_message_carries_every_delivery_header(rendered: RenderedEmail) -> None:
    message = reparsed(build(rendered))

    assert message["From"] == "Maya Chen <maya@northwind.example>"
    assert message["To"] == "priya.raman@brightline.example"
    assert message["Subject"] == rendered.subject
    assert message["Date"] == "Mon, 02 Mar 2026 15:30:00 +0000"
    assert message["Message-ID"] == make_message_id("lead-1:welcome:1", "northwind.example")
    assert message["List-Unsubscribe"] == f"<{UNSUBSCRIBE_URL}>, <{MAILTO}>"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_long_unsubscribe_header_survives_serialisation_unencoded(
    rendered: RenderedEmail,
) -> None:
    raw = build(rendered).as_bytes()

    assert f"List-Unsubscribe: <{UNSUBSCRIBE_URL}>, <{MAILTO}>\r\n".encode() in raw
    assert b"=?utf-8?" not in raw.split(b"\r\n\r\n")[0]


def test_both_parts_show_the_postal_address_and_unsubscribe_link(
    rendered: RenderedEmail,
) -> None:
    message = reparsed(build(rendered))
    sender = SenderIdentity()

    for subtype in ("plain", "html"):
        part = message.get_body((subtype,))
        assert part is not None
        body = part.get_content()
        assert sender.address in body
        assert sample_context().unsubscribe_url in body


def test_body_lines_stay_within_mime_limits_for_any_server(rendered: RenderedEmail) -> None:
    raw = build(rendered).as_bytes()
    body = raw.split(b"\r\n\r\n", 1)[1]

    assert raw.isascii()
    assert max(len(line) for line in body.split(b"\r\n")) <= 78


def test_message_id_depends_only_on_the_idempotency_key() -> None:
    first = make_message_id("lead-1:step-3:attempt-a", "northwind.example")

    assert first == make_message_id("lead-1:step-3:attempt-a", "northwind.example")
    assert first != make_message_id("lead-1:step-4:attempt-a", "northwind.example")
    assert first.startswith("<") and first.endswith("@northwind.example>")


def test_message_id_rejects_a_domain_that_is_not_a_host_name() -> None:
    with pytest.raises(ConfigError, match="not a host name"):
        make_message_id("key", "northwind example>")


def test_plain_http_unsubscribe_link_is_refused_outside_loopback(
    rendered: RenderedEmail,
) -> None:
    with pytest.raises(ConfigError, match="https"):
        build(rendered, unsubscribe_url="http://northwind.example/u/tok")

    local = build(rendered, unsubscribe_url="http://127.0.0.1:8000/u/tok")
    assert local["List-Unsubscribe"].startswith("<http://127.0.0.1:8000/u/tok>")


def test_bare_unsubscribe_address_becomes_a_mailto(rendered: RenderedEmail) -> None:
    message = build(rendered, unsubscribe_mailto="unsubscribe@northwind.example")

    assert message["List-Unsubscribe"].endswith(", <mailto:unsubscribe@northwind.example>")


def test_malformed_recipient_is_permanent_and_suppressed(rendered: RenderedEmail) -> None:
    with pytest.raises(PermanentDeliveryError) as raised:
        build(rendered, to="priya@brightline.example\r\nBcc: everyone@example.org")

    assert raised.value.suppress


def test_message_id_must_be_in_angle_bracket_form(rendered: RenderedEmail) -> None:
    with pytest.raises(ConfigError, match="make_message_id"):
        build(rendered, message_id="abc123")
