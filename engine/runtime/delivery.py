"""One email sent at most once: the ledger's claim, the transport's handover, the outcome.

The claim (`queued`) is written before SMTP is spoken to; the send is marked `sending`
only once the server has accepted sender and recipient, and settled the moment the server
answered the message, both while the transport holds its connection. A process killed at
any moment therefore leaves at most the one message it had on the wire with an unknown
outcome; everything it had claimed and not yet sent is sent by the next attempt.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime
from email import message_from_bytes
from email.message import EmailMessage
from typing import Literal

from engine.errors import (
    DeliveryError,
    NurtureError,
    OutcomeUnknownError,
    PermanentDeliveryError,
)
from engine.mail import MAIL_POLICY, MailTransport
from engine.store import CONNECTION_LOST, SendClaim, Store

log = logging.getLogger("nurture.delivery")

Delivered = Literal["sent", "done", "unknown"]
"""Sent now; nothing to do (sent, failed or skipped before); outcome unknown (not resent)."""


class LedgerHandover:
    """Marks the claimed send `sending` just before the message goes out, and settles it."""

    def __init__(self, store: Store, key: str, when: datetime) -> None:
        self.store, self.key, self.when = store, key, when
        self.begun = self.ended = False

    async def begin(self) -> bool:
        self.begun = await asyncio.to_thread(self.store.commit_send, self.key)
        return self.begun

    async def end(self, error: DeliveryError | None) -> None:
        if error is None:
            status, text = "sent", None
        elif isinstance(error, OutcomeUnknownError):
            log.error("email %r: %s", self.key, error)
            status, text = "failed", CONNECTION_LOST
        elif isinstance(error, PermanentDeliveryError):
            status, text = "failed", str(error)
        else:
            status, text = "retry", str(error)
        await self.finish(status, text)

    async def finish(self, status: str, error: str | None = None) -> None:
        await asyncio.to_thread(lambda: self.store.finish_send(
            self.key, status=status, now=self.when, error=error))
        self.ended = True


async def deliver_once(store: Store, transport: MailTransport, message: EmailMessage, *,
                       key: str, when: datetime, claim: Callable[[bytes | None], SendClaim]
                       ) -> Delivered:
    """Claim the send (`claim` is given the message's bytes to keep), send, settle.

    Raises the transport's `DeliveryError` once the ledger says how the send ended (retry
    for a temporary refusal; failed for a permanent one or an unknown outcome).
    """
    decision = await asyncio.to_thread(claim, message.as_bytes())
    if decision != "send":
        return decision
    handover = LedgerHandover(store, key, when)
    try:
        went = await transport.send(message, handover)
    except DeliveryError as err:
        if not handover.ended:  # refused before the message went out
            await handover.end(err)
        raise
    except Exception as err:
        if not handover.begun:  # nothing went out: the next attempt sends
            await handover.finish("retry", repr(err))
        raise
    return "sent" if went else "done"


async def fail_unsendable(store: Store, *, key: str, when: datetime, error: str,
                          claim: Callable[[bytes | None], SendClaim]) -> None:
    """Record as failed a send whose message cannot even be composed (a bad address or
    setting: retrying cannot help), unless an earlier attempt already settled it."""
    if await asyncio.to_thread(claim, None) == "send":
        await asyncio.to_thread(lambda: store.finish_send(key, status="failed", now=when,
                                                          error=error))


class ResendRefused(NurtureError):
    """An operator's re-send that cannot be done (says why)."""


async def resend_unknown(store: Store, transport: MailTransport, key: str, *,
                         now: datetime) -> str:
    """Re-send, as an operator decided, a message whose outcome a crash left unknown:
    exactly the message kept from its first attempt, with its Message-ID (so a mail client
    that already has it shows it once). Returns the address it went to.

    Refused when `key` is not an unknown outcome (any more), when no message was kept, or
    when the address has been suppressed since (an unsubscribe, a bounce). A refusal by the
    server leaves the send unknown (temporary) or failed (permanent).
    """
    row = await asyncio.to_thread(store.reclaim_unknown, key)
    if row is None:
        raise ResendRefused(f"no email send {key!r} has an unknown outcome (see the list of "
                            "unknown outcomes; a send re-sent or finished is not listed)")
    reason = await asyncio.to_thread(store.suppression, row.to_address)
    if reason is not None or not row.message:
        await asyncio.to_thread(store.return_unknown, key)
        raise ResendRefused(
            f"email send {key!r} was not re-sent: " + (
                f"{row.to_address} is suppressed ({reason})" if reason is not None else
                "no copy of its message was kept (it was claimed before copies were kept)"))
    message = message_from_bytes(row.message, policy=MAIL_POLICY)
    assert isinstance(message, EmailMessage)  # guaranteed by an EmailPolicy
    try:
        await transport.send(message)
    except OutcomeUnknownError as err:
        await asyncio.to_thread(store.return_unknown, key)
        raise ResendRefused(f"email send {key!r}: {err}; it stays listed") from None
    except PermanentDeliveryError as err:
        refusal = f"re-send: {err}"
        await asyncio.to_thread(lambda: store.finish_send(key, status="failed", now=now,
                                                          error=refusal))
        raise ResendRefused(f"email send {key!r} was refused: {err}") from None
    except DeliveryError as err:
        await asyncio.to_thread(store.return_unknown, key)
        raise ResendRefused(f"email send {key!r} was not re-sent ({err}); it stays listed, "
                            "try again later") from None
    except BaseException:
        await asyncio.to_thread(store.return_unknown, key)
        raise
    await asyncio.to_thread(lambda: store.finish_send(key, status="sent", now=now))
    return row.to_address
