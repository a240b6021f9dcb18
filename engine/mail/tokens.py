"""Signed tokens for links that act without a login, such as one-click unsubscribe.

A token is `<value>.<signature>`, both URL-safe base64 without padding; the signature is
HMAC-SHA256 over the encoded value under a server-side secret.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac

from engine.errors import ConfigError

_PURPOSE = b"nurture-token-v1:"


def sign_token(value: str, secret: str, *, purpose: str = "") -> str:
    """A URL-safe token that carries `value` and proves it was issued with `secret`.

    A token signed for one `purpose` (e.g. "click") never verifies for another.
    """
    payload = _b64encode(value.encode("utf-8"))
    return f"{payload}.{_signature(payload, secret, purpose)}"


def verify_token(token: str, secret: str, *, purpose: str = "") -> str | None:
    """The value inside `token`, or None when it is malformed or was not signed with `secret`
    for this `purpose`."""
    payload, dot, signature = token.rpartition(".")
    if not dot or not payload or not signature or not token.isascii():
        return None
    if not hmac.compare_digest(signature, _signature(payload, secret, purpose)):
        return None
    try:
        return _b64decode(payload).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None


def unsubscribe_url(base_url: str, value: str, secret: str) -> str:
    """The one-click unsubscribe link `{base_url}/u/{token}` for `value` (usually a lead id)."""
    return f"{base_url.rstrip('/')}/u/{sign_token(value, secret)}"


def _signature(payload: str, secret: str, purpose: str) -> str:
    if not secret:
        raise ConfigError("the token secret is empty; set a long random secret")
    tag = _PURPOSE + (purpose.encode("ascii") + b":" if purpose else b"")
    mac = hmac.new(secret.encode("utf-8"), tag + payload.encode("ascii"), hashlib.sha256)
    return _b64encode(mac.digest())


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=True)
