"""The chaos run's SMTP server: it accepts mail like any relay, and misbehaves on demand.

    async with FaultySMTP() as smtp:         # listens on 127.0.0.1, a free port
        smtp.bounce.add("x@acme.io")         # RCPT → 550 5.1.1 (no such user), always
        smtp.refuse.add("y@acme.io")         # end of DATA → 550 5.7.1 (refused by policy)
        smtp.answer_temporarily(5.0)         # end of DATA → 451 4.3.0 for five seconds
        await smtp.go_down(); await smtp.come_up()   # connections refused in between

Every message it accepts is a `Delivery` (when, Message-ID, recipients, subject), kept in
arrival order: what the engine really delivered, however often it tried, is counted here
and nowhere else. A refused message is not a delivery. Taking a message in lasts `delay`
seconds, as on a real relay; `in_data` names the peers (host, port) whose messages are
being taken in right now (a sender killed then never hears that its message went out).
"""

from __future__ import annotations

import asyncio
import time
import weakref
from collections import Counter
from dataclasses import dataclass
from email.parser import BytesHeaderParser
from email.policy import default as default_policy
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session


@dataclass(frozen=True)
class Delivery:
    """One message the server accepted."""

    at: float  # seconds since the epoch
    message_id: str
    recipients: tuple[str, ...]
    subject: str


class FaultySMTP:
    """An SMTP server on `host`:`port` (0: a free port, read `.port` once started)."""

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0, delay: float = 0.05
                 ) -> None:
        self.host, self.port = host, port
        self.delay = delay  # seconds between the end of DATA and the answer, as a relay takes
        self.in_data: list[tuple[str, int]] = []  # peers whose message is being taken in
        self.bounce: set[str] = set()
        self.refuse: set[str] = set()
        self.deliveries: list[Delivery] = []
        self.refused: Counter[str] = Counter()  # by the status given: "451", "5.1.1", ...
        self._temporary_until = 0.0
        self._server: asyncio.Server | None = None
        self._sessions: weakref.WeakSet[SMTP] = weakref.WeakSet()

    @property
    def down(self) -> bool:
        """Whether connections are being refused."""
        return self._server is None

    async def __aenter__(self) -> FaultySMTP:
        await self.come_up()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.go_down()

    def answer_temporarily(self, seconds: float) -> None:
        """Answer 451 at the end of DATA for the next `seconds` (a greylisting relay, a
        full queue): the sender must try again later."""
        self._temporary_until = time.monotonic() + seconds

    @property
    def temporary(self) -> bool:
        """Whether mail is being answered with 451 right now."""
        return time.monotonic() < self._temporary_until

    async def come_up(self) -> None:
        """Listen (again, on the same port)."""
        if self._server is not None:
            return
        loop = asyncio.get_running_loop()

        def session() -> SMTP:
            # A fixed hostname: the default asks DNS for this machine's name, which can hang.
            smtp = SMTP(self, hostname="chaos-smtp", enable_SMTPUTF8=True, loop=loop)
            self._sessions.add(smtp)
            return smtp

        self._server = await loop.create_server(session, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def go_down(self) -> None:
        """Stop listening and hang up on every client: new connections are refused."""
        server, self._server = self._server, None
        if server is None:
            return
        server.close()
        for smtp in list(self._sessions):
            if smtp.transport is not None and not smtp.transport.is_closing():
                smtp.transport.close()
        await server.wait_closed()
        await asyncio.sleep(0)  # let connection_lost run so session tasks finish cleanly

    # aiosmtpd handler hooks

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope,
                          address: str, rcpt_options: list[str]) -> str:
        """Refuse a mailbox that does not exist; take any other."""
        if address.lower() in self.bounce:
            self.refused["5.1.1"] += 1
            return f"550 5.1.1 <{address}>: no such user here"
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 2.1.5 recipient ok"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        """Accept the message, unless a window of temporary failures is open or policy
        refuses one of its recipients."""
        if self.temporary:
            self.refused["451"] += 1
            return "451 4.3.0 temporarily unable to accept mail; try again later"
        if any(address.lower() in self.refuse for address in envelope.rcpt_tos):
            self.refused["5.7.1"] += 1
            return "550 5.7.1 message refused by policy"
        headers = BytesHeaderParser(policy=default_policy).parsebytes(
            envelope.original_content or b"")
        self.deliveries.append(Delivery(
            at=time.time(), message_id=str(headers.get("Message-ID", "")).strip(),
            recipients=tuple(envelope.rcpt_tos), subject=str(headers.get("Subject", ""))))
        peer = (str(session.peer[0]), int(session.peer[1])) \
            if isinstance(session.peer, tuple) else ("", 0)
        self.in_data.append(peer)
        try:
            # The message is in the relay's queue; the answer takes a moment. A sender that
            # dies now never hears it, yet its message goes out: the engine's "outcome
            # unknown".
            await asyncio.sleep(self.delay)
        finally:
            self.in_data.remove(peer)
        return "250 2.0.0 accepted"

    def __repr__(self) -> str:
        state: Any = "down" if self.down else f"{self.host}:{self.port}"
        return f"FaultySMTP({state}, {len(self.deliveries)} delivered)"
