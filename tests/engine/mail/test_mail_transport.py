"""Transports: the in-memory one, and SMTP against a real server on a loopback port."""

from __future__ import annotations

import asyncio
import email
import email.policy
from collections.abc import Callable
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Any, Protocol

import aiosmtplib
import pytest

from engine.errors import DeliveryError, PermanentDeliveryError
from engine.mail import (
    MailTransport,
    MemoryTransport,
    SenderIdentity,
    SMTPTransport,
    TemplateRenderer,
    compose,
    make_message_id,
    sample_context,
    smtp_delivery_error,
)

LONG_UNSUBSCRIBE = "https://northwind.example/u/" + "x" * 140

MessageTo = Callable[[str], EmailMessage]


class SMTPServer(Protocol):
    """What the tests use of the local server fixtures in conftest.py."""

    port: int
    handler: Any


@pytest.fixture(name="message_to")
def fixture_message_to(renderer: TemplateRenderer) -> MessageTo:
    """A real composed welcome email, addressed to whoever the test names."""
    rendered = renderer.render("welcome_confirmation", sample_context())

    def build(to: str) -> EmailMessage:
        return compose(
            rendered,
            to=to,
            sender=SenderIdentity(),
            message_id=make_message_id(f"{to}:welcome:1", "northwind.example"),
            unsubscribe_url=LONG_UNSUBSCRIBE,
            unsubscribe_mailto="unsubscribe@northwind.example",
            date=datetime(2026, 3, 2, 15, 30, tzinfo=UTC),
        )

    return build


def smtp_for(server: SMTPServer) -> SMTPTransport:
    return SMTPTransport("127.0.0.1", server.port, timeout=5, local_hostname="nurture.test")


async def send_expecting(transport: SMTPTransport, message: EmailMessage) -> DeliveryError:
    with pytest.raises(DeliveryError) as raised:
        await transport.send(message)
    return raised.value


def test_both_transports_satisfy_the_protocol() -> None:
    assert isinstance(MemoryTransport(), MailTransport)
    assert isinstance(SMTPTransport("127.0.0.1", 25), MailTransport)


async def test_memory_transport_records_sends_and_raises_queued_failures(
    message_to: MessageTo,
) -> None:
    transport = MemoryTransport(failures=[DeliveryError("server busy")])
    message = message_to("priya@brightline.example")

    with pytest.raises(DeliveryError, match="server busy"):
        await transport.send(message)
    await transport.send(message)
    transport.fail_next(PermanentDeliveryError("no such mailbox", suppress=True))
    with pytest.raises(PermanentDeliveryError):
        await transport.send(message)

    assert transport.sent == [message]


async def test_two_sends_share_one_smtp_connection(
    smtp_server: SMTPServer, message_to: MessageTo
) -> None:
    async with smtp_for(smtp_server) as transport:
        await transport.send(message_to("priya@brightline.example"))
        await transport.send(message_to("sam@acme.example"))

    assert smtp_server.handler.connections == 1
    assert [rcpts for _, rcpts in smtp_server.handler.envelopes] == [
        ["priya@brightline.example"], ["sam@acme.example"]
    ]


async def test_delivered_message_keeps_its_headers_intact(
    smtp_server: SMTPServer, message_to: MessageTo
) -> None:
    message = message_to("priya@brightline.example")
    async with smtp_for(smtp_server) as transport:
        await transport.send(message)

    received = email.message_from_bytes(smtp_server.handler.messages[0],
                                        policy=email.policy.default)
    assert smtp_server.handler.envelopes[0][0] == "maya@northwind.example"
    assert received["Message-ID"] == message["Message-ID"]
    assert received["List-Unsubscribe"] == (
        f"<{LONG_UNSUBSCRIBE}>, <mailto:unsubscribe@northwind.example>"
    )
    assert received["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


async def test_transport_reconnects_after_the_server_drops_an_idle_connection(
    impatient_smtp_server: SMTPServer, message_to: MessageTo
) -> None:
    async with smtp_for(impatient_smtp_server) as transport:
        await transport.send(message_to("priya@brightline.example"))
        await asyncio.sleep(0.6)
        await transport.send(message_to("sam@acme.example"))

    assert impatient_smtp_server.handler.connections == 2
    assert len(impatient_smtp_server.handler.messages) == 2


async def test_unknown_mailbox_is_permanent_and_suppresses_the_address(
    smtp_server: SMTPServer, message_to: MessageTo
) -> None:
    async with smtp_for(smtp_server) as transport:
        error = await send_expecting(transport, message_to("missing@acme.example"))

    assert isinstance(error, PermanentDeliveryError)
    assert error.suppress
    assert "550" in str(error) and "5.1.1" in str(error)


async def test_policy_rejection_is_permanent_without_suppressing(
    smtp_server: SMTPServer, message_to: MessageTo
) -> None:
    async with smtp_for(smtp_server) as transport:
        error = await send_expecting(transport, message_to("blocked@acme.example"))

    assert isinstance(error, PermanentDeliveryError)
    assert not error.suppress
    assert "5.7.1" in str(error)


async def test_temporary_refusal_is_retryable(
    smtp_server: SMTPServer, message_to: MessageTo
) -> None:
    async with smtp_for(smtp_server) as transport:
        error = await send_expecting(transport, message_to("busy@acme.example"))

    assert not isinstance(error, PermanentDeliveryError)
    assert "451" in str(error)


async def test_connection_survives_a_refused_recipient(
    smtp_server: SMTPServer, message_to: MessageTo
) -> None:
    async with smtp_for(smtp_server) as transport:
        await send_expecting(transport, message_to("missing@acme.example"))
        await transport.send(message_to("priya@brightline.example"))

    assert smtp_server.handler.connections == 1
    assert len(smtp_server.handler.messages) == 1


async def test_unreachable_server_is_a_retryable_error(message_to: MessageTo) -> None:
    unused_port = SMTPTransport("127.0.0.1", 9)  # discard port: nothing listens there
    error = await send_expecting(unused_port, message_to("priya@brightline.example"))

    assert not isinstance(error, PermanentDeliveryError)
    assert "cannot connect" in str(error)


async def test_close_then_send_opens_a_fresh_connection(
    smtp_server: SMTPServer, message_to: MessageTo
) -> None:
    transport = smtp_for(smtp_server)
    await transport.send(message_to("priya@brightline.example"))
    await transport.close()
    await transport.send(message_to("sam@acme.example"))
    await transport.close()

    assert smtp_server.handler.connections == 2
    assert transport.connections_opened == 2


def test_bad_mailbox_reply_to_our_sender_address_never_suppresses_the_lead() -> None:
    refused = aiosmtplib.SMTPSenderRefused(553, "5.1.8 Sender domain does not exist",
                                           "maya@northwind.example")

    error = smtp_delivery_error(refused, ["priya@brightline.example"])

    assert isinstance(error, PermanentDeliveryError)
    assert not error.suppress


def test_bad_mailbox_reported_after_data_suppresses() -> None:
    error = smtp_delivery_error(aiosmtplib.SMTPDataError(550, "5.1.1 User unknown"))

    assert isinstance(error, PermanentDeliveryError)
    assert error.suppress


def test_plain_5xx_without_enhanced_status_does_not_suppress() -> None:
    error = smtp_delivery_error(aiosmtplib.SMTPDataError(552, "Message too large"))

    assert isinstance(error, PermanentDeliveryError)
    assert not error.suppress


def test_timeout_is_retryable() -> None:
    error = smtp_delivery_error(aiosmtplib.SMTPReadTimeoutError("Timed out waiting for reply"))

    assert type(error) is DeliveryError
