"""Mail transports: a one-method protocol, an in-memory transport and an SMTP transport.

SMTP failures become engine errors so activities know whether to retry:

    4xx reply, connection lost, timeout      DeliveryError (transient, retried with backoff)
    5xx with enhanced status 5.1.x           PermanentDeliveryError(suppress=True): bad mailbox
    5.7.x (policy) and any other 5xx         PermanentDeliveryError(suppress=False)
    connection lost while DATA went out      OutcomeUnknownError (never retried)

A sender that must not send twice hands in a `Handover`: the transport asks it just before
the message itself goes out (after the server accepted sender and recipient, so every
refusal that can come early has come) and tells it the outcome right after the server
answered, both while it holds its connection. A crash can then cut off at most the one
message a transport has on the wire, not every message claimed and waiting for its turn.
"""

from __future__ import annotations

import asyncio
import copy
import io
import re
from collections import deque
from collections.abc import Iterable
from email.generator import BytesGenerator
from email.message import EmailMessage
from email.policy import EmailPolicy
from email.utils import getaddresses, parseaddr
from typing import Protocol, runtime_checkable

import aiosmtplib

from engine.errors import DeliveryError, OutcomeUnknownError, PermanentDeliveryError
from engine.mail.message import MAIL_POLICY

_ENHANCED_STATUS = re.compile(r"^\s*([245])\.(\d{1,3})\.(\d{1,3})\b")


class Handover(Protocol):
    """What a sender records around the moment its message goes out."""

    async def begin(self) -> bool:
        """The message goes out next: record that; False if it must not go out after all."""
        ...

    async def end(self, error: DeliveryError | None) -> None:
        """The server answered: None (accepted) or the refusal; `OutcomeUnknownError` when
        the connection was lost before the answer."""
        ...


@runtime_checkable
class MailTransport(Protocol):
    """Hands a composed message to the outside world; raises `DeliveryError` on failure."""

    async def send(self, message: EmailMessage, handover: Handover | None = None) -> bool:
        """Deliver `message` or raise `DeliveryError` / `PermanentDeliveryError`; with a
        `handover`, ask it before the message goes out and tell it the outcome. Whether the
        message went out (False: the handover said not to)."""
        ...


async def _handed_over(handover: Handover | None, error: DeliveryError | None) -> None:
    if handover is not None:
        await handover.end(error)


class MemoryTransport:
    """Keeps sent messages in `.sent`; queued `failures` are raised by the next sends, in order."""

    def __init__(self, failures: Iterable[BaseException] = ()) -> None:
        self.sent: list[EmailMessage] = []
        self.failures: deque[BaseException] = deque(failures)

    def fail_next(self, *errors: BaseException) -> None:
        """Make the next sends raise `errors`, one per send."""
        self.failures.extend(errors)

    async def send(self, message: EmailMessage, handover: Handover | None = None) -> bool:
        """Record `message`, unless a failure is queued: then raise it instead (a refusal
        before the message goes out, or the outcome of the going out itself when it is an
        `OutcomeUnknownError`)."""
        failure = self.failures[0] if self.failures else None
        if failure is not None and not isinstance(failure, OutcomeUnknownError):
            raise self.failures.popleft()
        if handover is not None and not await handover.begin():
            return False
        if failure is not None:
            self.failures.popleft()
            await _handed_over(handover, failure)
            raise failure
        self.sent.append(message)
        await _handed_over(handover, None)
        return True

    async def close(self) -> None:
        """Nothing to release; present so callers can treat every transport alike."""


class SMTPTransport:
    """Sends over SMTP with aiosmtplib, reusing one connection across sends.

    The connection opens on the first send, is checked with NOOP before reuse and reopened
    when the server has dropped it. Sends are serialised by a lock; run several transports
    for parallel connections. Call `close()` (or use `async with`) when done.
    """

    def __init__(
        self,
        host: str,
        port: int,
        username: str | None = None,
        password: str | None = None,
        use_tls: bool = False,
        start_tls: bool | None = None,
        timeout: float = 30,
        *,
        envelope_sender: str | None = None,
        local_hostname: str | None = None,
    ) -> None:
        self.host, self.port = host, port
        self.username, self.password = username, password
        self.use_tls, self.start_tls, self.timeout = use_tls, start_tls, timeout
        self.envelope_sender = envelope_sender
        self.local_hostname = local_hostname
        self.connections_opened = 0
        self._client: aiosmtplib.SMTP | None = None
        self._lock = asyncio.Lock()

    async def __aenter__(self) -> SMTPTransport:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def send(self, message: EmailMessage, handover: Handover | None = None) -> bool:
        """Deliver `message` to every To/Cc/Bcc recipient, mapping SMTP failures to errors.

        The envelope goes first (MAIL FROM, RCPT TO); only once the server accepted it is
        the `handover` asked, and the message itself sent (DATA).
        """
        sender, recipients = self._envelope(message)
        utf8 = not all(address.isascii() for address in (sender, *recipients))
        data = _flatten(message, utf8=utf8)
        async with self._lock:
            client = await self._connected_client()
            try:
                await self._announce(client, sender, recipients, size=len(data), utf8=utf8)
            except (aiosmtplib.SMTPException, OSError) as exc:
                await self._after_failure(client, exc)
                raise smtp_delivery_error(exc, recipients) from exc
            except ValueError as exc:  # an address aiosmtplib cannot put on the wire
                await self._reset(client)
                raise PermanentDeliveryError(f"cannot send to {recipients}: {exc}") from exc
            if handover is not None and not await handover.begin():
                await self._reset(client)
                return False
            try:
                await client.data(data)
            except (aiosmtplib.SMTPException, OSError) as exc:
                await self._after_failure(client, exc)
                error = smtp_delivery_error(exc, recipients)
                if not isinstance(exc, aiosmtplib.SMTPResponseException):
                    # No answer to the message: the server may have taken it.
                    error = OutcomeUnknownError(
                        f"connection lost while the message to {', '.join(recipients)} "
                        f"went out; it may have been delivered: {error}")
                await _handed_over(handover, error)
                raise error from exc
            await _handed_over(handover, None)
            return True

    async def _announce(self, client: aiosmtplib.SMTP, sender: str, recipients: list[str],
                        *, size: int, utf8: bool) -> None:
        """MAIL FROM and RCPT TO; raises unless at least one recipient was accepted."""
        options = ["SMTPUTF8"] if utf8 else []
        if utf8 and not client.supports_extension("smtputf8"):
            raise aiosmtplib.SMTPNotSupported("SMTPUTF8 is not supported by this server")
        if client.supports_extension("size"):
            options.insert(0, f"SIZE={size}")
        encoding = "utf-8" if utf8 else "ascii"
        await client.mail(sender, options=options, encoding=encoding)
        refused: list[aiosmtplib.SMTPRecipientRefused] = []
        for recipient in recipients:
            try:
                await client.rcpt(recipient, encoding=encoding)
            except aiosmtplib.SMTPRecipientRefused as exc:
                refused.append(exc)
        if len(refused) == len(recipients):
            raise aiosmtplib.SMTPRecipientsRefused(refused)

    async def _after_failure(self, client: aiosmtplib.SMTP, exc: BaseException) -> None:
        if _session_survives(exc):
            await self._reset(client)
        else:
            await self._drop()  # the session state is unknown: start afresh next time

    async def _reset(self, client: aiosmtplib.SMTP) -> None:
        """Clear the envelope so the connection can carry the next message."""
        try:
            await client.rset()
        except (aiosmtplib.SMTPException, OSError):
            await self._drop()

    async def close(self) -> None:
        """Say QUIT and close the connection, if one is open."""
        async with self._lock:
            client, self._client = self._client, None
            if client is None:
                return
            try:
                if client.is_connected:
                    await client.quit()
            except (aiosmtplib.SMTPException, OSError):
                pass  # closing anyway
            finally:
                client.close()

    async def _connected_client(self) -> aiosmtplib.SMTP:
        if self._client is not None:
            if self._client.is_connected:
                try:
                    await self._client.noop()
                    return self._client
                except (aiosmtplib.SMTPException, OSError):
                    pass  # dropped by the server (idle timeout, restart): reconnect below
            await self._drop()
        client = aiosmtplib.SMTP(
            hostname=self.host,
            port=self.port,
            username=self.username,
            password=self.password,
            use_tls=self.use_tls,
            start_tls=self.start_tls,
            timeout=self.timeout,
            local_hostname=self.local_hostname,
        )
        try:
            await client.connect()
        except (aiosmtplib.SMTPException, OSError) as exc:
            client.close()
            hint = (
                "check the SMTP username and password"
                if isinstance(exc, aiosmtplib.SMTPAuthenticationError)
                else "is the server up and reachable?"
            )
            # Our own setup is at fault, not the recipient: retry once it is fixed.
            raise DeliveryError(
                f"cannot connect to SMTP server {self.host}:{self.port}: {exc} — {hint}"
            ) from exc
        self.connections_opened += 1
        self._client = client
        return client

    async def _drop(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            client.close()

    def _envelope(self, message: EmailMessage) -> tuple[str, list[str]]:
        header_sender = parseaddr(str(message.get("Sender") or message.get("From") or ""))[1]
        sender = self.envelope_sender or header_sender
        fields = [str(v) for name in ("To", "Cc", "Bcc") for v in message.get_all(name, [])]
        recipients = [address for _, address in getaddresses(fields) if address]
        if not sender or not recipients:
            raise PermanentDeliveryError(
                "message has no sender or no recipient; set From and To (compose() does both)"
            )
        return sender, recipients


def smtp_delivery_error(exc: BaseException, recipients: Iterable[str] = ()) -> DeliveryError:
    """The engine error for an SMTP failure (see the table in this module's docstring)."""
    who = ", ".join(recipients) or "the recipient"
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused) and exc.recipients:
        refused = exc.recipients[0]
        return _from_reply(refused.code, refused.message, f"RCPT {refused.recipient}",
                           about_recipient=True)
    if isinstance(exc, aiosmtplib.SMTPSenderRefused):
        # A refused sender says nothing about the recipient's mailbox: never suppress.
        return _from_reply(exc.code, exc.message, f"MAIL FROM {exc.sender}",
                           about_recipient=False)
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        return _from_reply(exc.code, exc.message, f"sending to {who}", about_recipient=True)
    if isinstance(exc, aiosmtplib.SMTPNotSupported):
        return PermanentDeliveryError(f"SMTP server cannot deliver to {who}: {exc}")
    detail = str(exc) or type(exc).__name__
    return DeliveryError(f"SMTP connection failed while sending to {who}: {detail}")


def _session_survives(exc: BaseException) -> bool:
    """After a refusal the server is still talking (aiosmtplib sent RSET); 421 means it is not."""
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        return all(refused.code != 421 for refused in exc.recipients)
    return isinstance(exc, aiosmtplib.SMTPResponseException) and exc.code != 421


def _from_reply(code: int, message: str, stage: str, *, about_recipient: bool) -> DeliveryError:
    reply = f"SMTP {code} {message.strip()} ({stage})"
    if 400 <= code < 500:
        return DeliveryError(f"{reply}: temporary failure, will retry")
    if 500 <= code < 600:
        status = _ENHANCED_STATUS.match(message)
        bad_mailbox = status is not None and status[1] == "5" and status[2] == "1"
        if bad_mailbox and about_recipient:
            return PermanentDeliveryError(f"{reply}: bad mailbox, address suppressed",
                                          suppress=True)
        return PermanentDeliveryError(f"{reply}: rejected, not retrying", suppress=False)
    return DeliveryError(f"{reply}: unexpected reply, will retry")


def _flatten(message: EmailMessage, *, utf8: bool) -> bytes:
    """The message as SMTP DATA: CRLF line ends, long headers unfolded, Bcc removed."""
    if message.get("Bcc") is not None:
        message = copy.copy(message)
        del message["Bcc"]
    policy = MAIL_POLICY if isinstance(message.policy, EmailPolicy) else message.policy
    if utf8 and isinstance(policy, EmailPolicy):
        policy = policy.clone(utf8=True)
    buffer = io.BytesIO()
    BytesGenerator(buffer, policy=policy.clone(linesep="\r\n")).flatten(message)
    return buffer.getvalue()
