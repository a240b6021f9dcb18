"""A local SMTP server that files every message it receives in an outbox folder.

`nurture dev` runs it when no SMTP server is configured, so the worker sends real SMTP and
people can open what their leads would have received. Each message becomes one `.eml` file
named by arrival time (UTC, to the millisecond) and a short random id, e.g.
`20261124T101500.123Z-3f9a1c2e.eml`, so a plain sort lists the outbox oldest first.
"""

from __future__ import annotations

import asyncio
import os
import uuid
import weakref
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session

SUFFIX = ".eml"


def outbox_file_name(now: datetime) -> str:
    """A unique file name that sorts by arrival time."""
    stamp = now.astimezone(UTC).strftime("%Y%m%dT%H%M%S")
    return f"{stamp}.{now.microsecond // 1000:03d}Z-{uuid.uuid4().hex[:8]}{SUFFIX}"


def file_message(folder: Path, content: bytes, *, now: datetime | None = None) -> Path:
    """Write one message into `folder`; it appears under its final name only when complete."""
    name = outbox_file_name(now or datetime.now(UTC))
    final = folder / name
    # A dot-name without the .eml suffix: readers globbing *.eml never see a half-written file.
    partial = folder / f".{name}.part"
    try:
        partial.write_bytes(content)
        os.replace(partial, final)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return final


def outbox_messages(folder: Path) -> list[EmailMessage]:
    """Every message in an outbox folder, oldest first."""
    messages = []
    for path in sorted(folder.glob(f"*{SUFFIX}")):
        parsed = message_from_bytes(path.read_bytes(), policy=policy.default)
        assert isinstance(parsed, EmailMessage)  # guaranteed by policy.default
        messages.append(parsed)
    return messages


class OutboxHandler:
    """aiosmtpd handler: accept any sender and recipient, file the message in the outbox."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        """File the message with its envelope as `Return-Path` / `Delivered-To` headers."""
        trace = [f"Return-Path: <{envelope.mail_from or ''}>"]
        trace += [f"Delivered-To: {recipient}" for recipient in envelope.rcpt_tos]
        body = envelope.original_content or b""
        content = ("\r\n".join(trace) + "\r\n").encode("utf-8") + body
        try:
            await asyncio.to_thread(file_message, self.folder, content)
        except OSError as err:
            # Transient for the sender: the transport retries once the disk is fixed.
            return f"451 4.3.0 cannot file the message in {self.folder}: {err.strerror}"
        return "250 2.0.0 filed in the outbox"


class SMTPSink:
    """The SMTP server on `host`:`port` (port 0 picks a free one; read `.port` once started).

    Use `async with SMTPSink(folder) as sink:`; leaving closes the listener and any
    connection a client left open.
    """

    def __init__(self, outbox_dir: Path, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.outbox_dir = outbox_dir
        self.host, self.port = host, port
        self._server: asyncio.Server | None = None
        self._sessions: weakref.WeakSet[SMTP] = weakref.WeakSet()

    @property
    def address(self) -> str:
        """`host:port` of the running sink."""
        return f"{self.host}:{self.port}"

    async def start(self) -> None:
        """Create the outbox folder and start listening."""
        self.outbox_dir.mkdir(parents=True, exist_ok=True)
        loop = asyncio.get_running_loop()
        handler = OutboxHandler(self.outbox_dir)

        def session() -> SMTP:
            # A fixed hostname: the default asks DNS for this machine's FQDN, which can hang.
            smtp = SMTP(handler, hostname="nurture-dev-sink", enable_SMTPUTF8=True, loop=loop)
            self._sessions.add(smtp)
            return smtp

        self._server = await loop.create_server(session, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """Stop listening and hang up on clients still connected."""
        server, self._server = self._server, None
        if server is None:
            return
        server.close()
        for smtp in list(self._sessions):
            if smtp.transport is not None and not smtp.transport.is_closing():
                smtp.transport.close()
        await server.wait_closed()
        await asyncio.sleep(0)  # let connection_lost run so session tasks finish cleanly

    async def __aenter__(self) -> SMTPSink:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        await self.stop()
