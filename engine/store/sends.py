"""The email-send ledger: a send is claimed before SMTP and never repeated after a crash.

A send is `queued` from its claim until the moment the message itself goes out (SMTP
DATA, after the server accepted sender and recipient), `sending` only while it does, then
sent, retry, failed or skipped. A crash while `queued` loses nothing: the next attempt
sends. A crash while `sending` leaves the outcome unknown: the next attempt marks it failed
("outcome unknown") instead of risking a duplicate, and an operator may re-send it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlmodel import Session, col, func, select

from engine.errors import DeliveryError
from engine.store.access import RecordNotFoundError, TableAccess
from engine.store.tables import EmailClickRow, EmailSendRow, SendStatus
from engine.store.timestamps import as_utc

SendClaim = Literal["send", "done", "unknown"]
"""What `begin_send` tells the caller to do: send now, nothing, or nothing (crashed)."""

OUTCOME_UNKNOWN = ("outcome unknown: the sending process stopped while the message went "
                   "out; not resent")
"""The error of a send whose attempt died (a killed worker) while its message went out."""

CONNECTION_LOST = ("outcome unknown: the connection to the mail server was lost while the "
                   "message went out; not resent")
"""The error of a send whose SMTP connection dropped before the server answered it."""

_FINISHED = frozenset({SendStatus.SENT, SendStatus.FAILED, SendStatus.SKIPPED})


class EmailSendLedger(TableAccess):
    """Claims, outcomes and history of email sends, keyed by the caller's idempotency key."""

    def begin_send(
        self,
        *,
        key: str,
        lead_id: str,
        to_address: str,
        template: str,
        track: str,
        step: str,
        subject: str,
        message_id: str,
        now: datetime,
        links: Sequence[str] = (),
        message: bytes | None = None,
    ) -> SendClaim:
        """Claim the send under `key` before SMTP is spoken to; say whether the caller may send.

        "send": the claim is ours (new, a retry of a transient failure, or an attempt that
        died before handing the message over) — send it, calling `commit_send` just before
        the message itself goes out, then `finish_send`. "done": it was already sent, failed
        or skipped — do nothing. "unknown": an earlier attempt died while handing the
        message over, so it may have gone out; it is marked failed rather than risking a
        duplicate, is never claimed again, and is listed by `unknown_sends`.
        """
        row = EmailSendRow(
            key=key,
            lead_id=lead_id,
            to_address=to_address,
            template=template,
            track=track,
            step=step,
            subject=subject,
            message_id=message_id,
            status=SendStatus.QUEUED.value,
            created_at=as_utc(now, name="now"),
            attempts=1,
            links=list(links),
            message=message,
        )
        if self._insert_once(row):
            return "send"
        again = {"attempts": col(EmailSendRow.attempts) + 1, "error": None,
                 "to_address": to_address, "subject": subject, "message_id": message_id,
                 "links": list(links), "message": message}
        for _ in range(10):
            if self._move_send(key, SendStatus.RETRY, status=SendStatus.QUEUED.value, **again):
                return "send"
            if self._move_send(key, SendStatus.QUEUED, **again):
                return "send"  # the attempt before died before the message went out
            if self._move_send(
                key, SendStatus.SENDING, status=SendStatus.FAILED.value, error=OUTCOME_UNKNOWN
            ):
                return "unknown"
            if self._send_status(key) in _FINISHED:
                return "done"
            # Another worker moved the row between our checks; look again.
        raise DeliveryError(f"email send {key!r} kept changing state while being claimed")

    def commit_send(self, key: str) -> bool:
        """Mark the claimed send as going out now (just before SMTP DATA); False if it is no
        longer ours to send (another attempt sent it, or it was finished meanwhile)."""
        return self._move_send(key, SendStatus.QUEUED, status=SendStatus.SENDING.value)

    def finish_send(
        self, key: str, *, status: str, now: datetime, error: str | None = None
    ) -> None:
        """Record how the claimed send ended: sent, retry (claimable again), failed or skipped.

        The sender's word is final: it overrides an "outcome unknown" mark left meanwhile.
        The kept message is dropped once the outcome is known.
        """
        outcome = SendStatus(status)
        if outcome in (SendStatus.SENDING, SendStatus.QUEUED):
            raise ValueError("finish_send takes sent, retry, failed or skipped, "
                             f"not {outcome.value}")
        values: dict[str, Any] = {"status": outcome.value, "error": error, "message": None}
        if outcome is SendStatus.SENT:
            values["sent_at"] = as_utc(now, name="now")
        if not self._update(EmailSendRow, col(EmailSendRow.key) == key, **values):
            raise RecordNotFoundError(
                f"email send {key!r} was never claimed; call begin_send before finish_send"
            )

    def unknown_sends(self, limit: int = 1000) -> list[EmailSendRow]:
        """Sends whose outcome a crash left unknown (oldest first): the mail may or may not
        have reached the server. An operator may re-send one with `reclaim_unknown`."""
        statement = (
            select(EmailSendRow)
            .where(_unknown())
            .order_by(col(EmailSendRow.created_at), col(EmailSendRow.key))
            .limit(limit)
        )
        with Session(self.engine) as session:
            return list(session.exec(statement))

    def count_unknown_sends(self) -> int:
        """How many sends have an unknown outcome."""
        with Session(self.engine) as session:
            return int(session.exec(
                select(func.count()).select_from(EmailSendRow).where(_unknown())).one())

    def reclaim_unknown(self, key: str) -> EmailSendRow | None:
        """Take an unknown-outcome send back for an operator's re-send: the row moves to
        `sending` and is returned with its kept message; None if `key` is not (or no
        longer) unknown. The caller sends `row.message` and calls `finish_send`."""
        if not self._update(EmailSendRow, (col(EmailSendRow.key) == key) & _unknown(),
                            status=SendStatus.SENDING.value, error=None):
            return None
        return self.get_send(key)

    def return_unknown(self, key: str) -> None:
        """Put a reclaimed send back as unknown (its re-send did not go out), message kept."""
        self._move_send(key, SendStatus.SENDING, status=SendStatus.FAILED.value,
                        error=OUTCOME_UNKNOWN)

    def sends_for(self, lead_id: str) -> list[EmailSendRow]:
        """Every email send claimed for the lead, oldest first."""
        statement = (
            select(EmailSendRow)
            .where(col(EmailSendRow.lead_id) == lead_id)
            .order_by(col(EmailSendRow.created_at), col(EmailSendRow.key))
        )
        with Session(self.engine) as session:
            return list(session.exec(statement))

    def get_send(self, key: str) -> EmailSendRow | None:
        """One email send by its key."""
        with Session(self.engine) as session:
            return session.get(EmailSendRow, key)

    def record_click(self, key: str, link: int, *, now: datetime,
                     scanner_after_send: timedelta, burst: timedelta) -> EmailClickRow:
        """Record a click, flagged `scanner` when no person could have made it: too soon
        after delivery, or a different link of the same email clicked in the same burst."""
        now = as_utc(now, name="now")
        with self._session() as session:
            send = session.get(EmailSendRow, key)
            sent = send.sent_at or send.created_at if send else None
            recent = session.exec(select(EmailClickRow).where(
                col(EmailClickRow.send_key) == key, col(EmailClickRow.link) != link,
                col(EmailClickRow.at) >= now - burst)).first()
            scanner = (sent is not None and now - sent < scanner_after_send) or recent is not None
            row = EmailClickRow(send_key=key, link=link, at=now, scanner=scanner)
            session.add(row)
            session.flush()
            session.refresh(row)
            session.expunge(row)
            return row

    def _move_send(self, key: str, current: SendStatus, **values: Any) -> bool:
        """Apply `values` only if the send is still in `current`; whether it was."""
        where = (col(EmailSendRow.key) == key) & (col(EmailSendRow.status) == current.value)
        return self._update(EmailSendRow, where, **values) == 1

    def _send_status(self, key: str) -> str | None:
        with Session(self.engine) as session:
            row = session.get(EmailSendRow, key)
            return None if row is None else row.status


def _unknown() -> Any:
    """Where a send's outcome is unknown (either way it came to be)."""
    return (col(EmailSendRow.status) == SendStatus.FAILED.value) & (
        col(EmailSendRow.error).in_([OUTCOME_UNKNOWN, CONNECTION_LOST]))
