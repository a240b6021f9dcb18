"""Outgoing webhooks: signed JSON POSTs that receivers can verify and dedupe.

Each request carries

    Content-Type: application/json
    X-Nurture-Event: sales_task.assigned
    X-Nurture-Delivery: <id>            the same on every retry: receivers dedupe on it
    X-Nurture-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>." + body>

The timestamp is part of what is signed, so a receiver that checks it (`verify_webhook`
does) refuses a captured request replayed later. Failures map to engine errors:

    2xx                                   delivered
    408, 425, 429, 5xx, connection error  DeliveryError (transient, retried with backoff)
    any other status                      PermanentDeliveryError (the receiver refuses it)
"""

from __future__ import annotations

import hashlib
import hmac
from typing import TYPE_CHECKING

from engine.errors import DeliveryError, PermanentDeliveryError

if TYPE_CHECKING:
    import httpx

SIGNATURE_HEADER = "X-Nurture-Signature"
"""The header holding `t=<unix seconds>,v1=<hex HMAC-SHA256>`."""

EVENT_HEADER = "X-Nurture-Event"
"""The header naming the event, e.g. `sales_task.assigned`."""

DELIVERY_HEADER = "X-Nurture-Delivery"
"""The header holding the delivery id, stable across retries."""

RETRYABLE_STATUSES = frozenset({408, 425, 429})
"""Statuses below 500 that say "try again later"; every 5xx retries too."""


def _digest(secret: str, body: bytes, timestamp: int) -> str:
    signed = f"{timestamp}.".encode() + body
    return hmac.new(secret.encode("utf-8"), signed, hashlib.sha256).hexdigest()


def sign_webhook(secret: str, body: bytes, timestamp: int) -> str:
    """The `X-Nurture-Signature` value for `body` sent at `timestamp` (unix seconds)."""
    return f"t={timestamp},v1={_digest(secret, body, timestamp)}"


def verify_webhook(secret: str, body: bytes, header: str, now: int, tolerance: int = 300) -> bool:
    """Whether `header` signs `body` with `secret` and is at most `tolerance` seconds old.

    For receivers: compare against the raw request body, before any JSON parsing. Several
    `v1=` values (sent while a secret is being rotated) are accepted if any one matches.
    """
    timestamp: int | None = None
    candidates: list[str] = []
    for part in header.split(","):
        name, _, value = part.strip().partition("=")
        if name == "t":
            try:
                timestamp = int(value)
            except ValueError:
                return False
        elif name == "v1" and value:
            candidates.append(value)
    if timestamp is None or not candidates or abs(now - timestamp) > tolerance:
        return False
    expected = _digest(secret, body, timestamp)
    # Compare every candidate, so timing says nothing about which one matched.
    matched = [hmac.compare_digest(expected, candidate) for candidate in candidates]
    return any(matched)


async def deliver_webhook(
    client: httpx.AsyncClient,
    url: str,
    *,
    body: bytes,
    secret: str,
    event: str,
    delivery_id: str,
    now: int,
) -> None:
    """POST the JSON `body` to `url`, signed at `now`; raise a `DeliveryError` unless 2xx."""
    import httpx  # here, not above: a worker that never posts a webhook never loads it

    headers = {
        "Content-Type": "application/json",
        EVENT_HEADER: event,
        DELIVERY_HEADER: delivery_id,
        SIGNATURE_HEADER: sign_webhook(secret, body, now),
    }
    try:
        response = await client.post(url, content=body, headers=headers)
    except (httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:
        raise PermanentDeliveryError(f"webhook URL {url!r} is not usable: {exc}") from exc
    except httpx.HTTPError as exc:  # connection refused, timeout, TLS, protocol errors
        detail = str(exc) or type(exc).__name__
        raise DeliveryError(f"webhook {event} to {url} failed: {detail}; will retry") from exc
    status = response.status_code
    if 200 <= status < 300:
        return
    reply = f"webhook {event} to {url} got HTTP {status}: {_excerpt(response)}"
    if status in RETRYABLE_STATUSES or status >= 500:
        raise DeliveryError(f"{reply}; will retry")
    raise PermanentDeliveryError(f"{reply}; the receiver refused it, not retrying")


def _excerpt(response: httpx.Response, limit: int = 200) -> str:
    """The start of the reply body, on one line, for the error message."""
    text = " ".join(response.text.split())
    return (text[:limit] + "…") if len(text) > limit else (text or "(empty body)")
