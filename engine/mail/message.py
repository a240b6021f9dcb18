"""Compose a deliverable email: text and HTML parts, Message-ID and one-click unsubscribe."""

from __future__ import annotations

import email.policy
import hashlib
import re
from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime
from urllib.parse import urlsplit

from engine.errors import ConfigError, PermanentDeliveryError
from engine.mail.context import SenderIdentity
from engine.mail.render import RenderedEmail

MAIL_POLICY = email.policy.SMTP.clone(max_line_length=998)
"""How composed messages are serialised: CRLF, and header lines up to RFC 5322's 998 limit,
so a long List-Unsubscribe URL is never folded into RFC 2047 encoded words that mail clients
cannot follow."""

_DOMAIN = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?$")
_MESSAGE_ID = re.compile(r"^<[^<>@\s]+@[^<>@\s]+>$")
_LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


def make_message_id(idempotency_key: str, domain: str) -> str:
    """A Message-ID derived only from the send's idempotency key, so a resend carries the same."""
    if not _DOMAIN.match(domain):
        raise ConfigError(f"message-id domain {domain!r} is not a host name (e.g. 'mail.acme.com')")
    digest = hashlib.sha256(idempotency_key.encode("utf-8")).hexdigest()[:32]
    return f"<{digest}@{domain}>"


def compose(
    rendered: RenderedEmail,
    *,
    to: str,
    sender: SenderIdentity,
    message_id: str,
    unsubscribe_url: str,
    unsubscribe_mailto: str,
    date: datetime | None = None,
) -> EmailMessage:
    """Build a multipart/alternative message (text first, HTML preferred) ready for SMTP.

    Adds From, To, Subject, Date, Message-ID, List-Unsubscribe (HTTPS and mailto) and
    List-Unsubscribe-Post for RFC 8058 one-click unsubscribe. `date` defaults to now.
    """
    if not _MESSAGE_ID.match(message_id):
        raise ConfigError(
            f"message id {message_id!r} must look like '<id@domain>'; build it with "
            "make_message_id(idempotency_key, domain)"
        )
    recipient = _recipient(to)
    when = date or datetime.now(UTC)
    if when.tzinfo is None:
        raise ConfigError("the Date of an email must carry a time zone")

    # Built under the default 78-column policy so quoted-printable bodies keep RFC 2045's
    # 76-character lines; MAIL_POLICY below only governs how headers are written out.
    message = EmailMessage(policy=email.policy.default)
    message["From"] = _sender_address(sender)
    message["To"] = recipient
    message["Subject"] = rendered.subject
    message["Date"] = format_datetime(when)
    message["Message-ID"] = message_id
    message["List-Unsubscribe"] = (
        f"<{_https_url(unsubscribe_url)}>, <{_mailto(unsubscribe_mailto)}>"
    )
    message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    # Quoted-printable keeps every part 7-bit clean, whatever the server's 8BITMIME support.
    message.set_content(rendered.text, subtype="plain", cte="quoted-printable")
    message.add_alternative(rendered.html, subtype="html", cte="quoted-printable")
    message.policy = MAIL_POLICY
    return message


def _recipient(to: str) -> Address:
    try:
        return Address(addr_spec=to.strip())
    except (ValueError, IndexError) as exc:
        raise PermanentDeliveryError(
            f"recipient {to!r} is not a valid email address: {exc}", suppress=True
        ) from exc


def _sender_address(sender: SenderIdentity) -> Address:
    try:
        return Address(display_name=sender.name, addr_spec=sender.email)
    except (ValueError, IndexError) as exc:
        raise ConfigError(
            f"sender email {sender.email!r} is not a valid address; set it to e.g. "
            "'maya@northwind.example'"
        ) from exc


def _https_url(url: str) -> str:
    """RFC 8058 wants HTTPS; plain HTTP is accepted only on loopback for the dev stack."""
    parts = urlsplit(url)
    loopback = parts.scheme == "http" and parts.hostname in _LOOPBACK_HOSTS
    if (parts.scheme != "https" and not loopback) or not parts.netloc or _unsafe(url):
        raise ConfigError(
            f"unsubscribe URL {url!r} must be an https:// URL (RFC 8058 one-click unsubscribe); "
            "set the public base URL of the API to its https address"
        )
    return url


def _mailto(target: str) -> str:
    mailto = target if target.startswith("mailto:") else f"mailto:{target}"
    if "@" not in mailto or _unsafe(mailto):
        raise ConfigError(
            f"unsubscribe mailto {target!r} must be an address such as "
            "'unsubscribe@northwind.example'"
        )
    return mailto


def _unsafe(value: str) -> bool:
    """Whitespace or angle brackets would break out of the `<...>` list syntax."""
    return any(ch.isspace() or ch in "<>," for ch in value)
