"""The email-send ledger: a send is claimed before SMTP and never repeated after a crash."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlmodel import Session, col, select

from engine.errors import DeliveryError
from engine.store.access import RecordNotFoundError, TableAccess
from engine.store.tables import EmailClickRow, EmailSendRow, SendStatus
from engine.store.timestamps import as_utc

SendClaim = Literal["send", "done", "unknown"]
"""What `begin_send` tells the caller to do: send now, nothing, or nothing (crashed)."""

OUTCOME_UNKNOWN = "outcome unknown after crash; not resent"
"""The error recorded on a send whose earlier attempt died mid-SMTP."""

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
    ) -> SendClaim:
        """Claim the send under `key` before SMTP; say whether the caller may send.

        "send": the claim is ours (new, or a retry of a transient failure) — send, then
        `finish_send`. "done": it was already sent, failed or skipped — do nothing.
        "unknown": an earlier attempt died mid-SMTP, so the mail may have gone out; it is
        marked failed rather than risking a duplicate, and will never be claimed again.
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
            status=SendStatus.SENDING.value,
            created_at=as_utc(now, name="now"),
            attempts=1,
            links=list(links),
        )
        if self._insert_once(row):
            return "send"
        for _ in range(10):
            if self._move_send(
                key,
                SendStatus.RETRY,
                status=SendStatus.SENDING.value,
                attempts=col(EmailSendRow.attempts) + 1,
                error=None,
                to_address=to_address,
                subject=subject,
                message_id=message_id,
                links=list(links),
            ):
                return "send"
            if self._move_send(
                key, SendStatus.SENDING, status=SendStatus.FAILED.value, error=OUTCOME_UNKNOWN
            ):
                return "unknown"
            if self._send_status(key) in _FINISHED:
                return "done"
            # Another worker moved the row between our checks; look again.
        raise DeliveryError(f"email send {key!r} kept changing state while being claimed")

    def finish_send(
        self, key: str, *, status: str, now: datetime, error: str | None = None
    ) -> None:
        """Record how the claimed send ended: sent, retry (claimable again), failed or skipped.

        The sender's word is final: it overrides an "outcome unknown" mark left meanwhile.
        """
        outcome = SendStatus(status)
        if outcome is SendStatus.SENDING:
            raise ValueError("finish_send takes sent, retry, failed or skipped, not sending")
        values: dict[str, Any] = {"status": outcome.value, "error": error}
        if outcome is SendStatus.SENT:
            values["sent_at"] = as_utc(now, name="now")
        if not self._update(EmailSendRow, col(EmailSendRow.key) == key, **values):
            raise RecordNotFoundError(
                f"email send {key!r} was never claimed; call begin_send before finish_send"
            )

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
