"""The inbound ledger: events accepted over HTTP, kept until their lead's workflow has them.

The API writes a row per accepted message before answering 2xx (the `message_id` is
unique, so a retried request changes nothing); the relay reads rows in order, sends each
lead's backlog to its workflow and marks the rows delivered. Rows that cannot go yet are
held: `anonymous` until an `identify` says whose they are, `waiting` until the lead has an
email address to be enrolled with.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic import Field as PydanticField
from sqlalchemy import and_, func, or_, update
from sqlmodel import Session, col, select

from engine.events import Event
from engine.leads import LeadProfile
from engine.store.access import TableAccess
from engine.store.tables import (
    ContactRow,
    IdentityRow,
    InboundKind,
    InboundRow,
    InboundStatus,
    LeaseRow,
)
from engine.store.timestamps import as_utc

_CHUNK = 400  # rows per INSERT statement, well under SQLite's bound-parameter limit


class Inbound(BaseModel):
    """One accepted message, as the API hands it to the store."""

    message_id: str = PydanticField(min_length=1, max_length=200)
    kind: InboundKind
    lead_id: str | None = PydanticField(default=None, max_length=200)
    anonymous_id: str | None = PydanticField(default=None, max_length=200)
    payload: dict[str, Any] = PydanticField(default_factory=dict)


@dataclass
class LeadDelivery:
    """What one relay pass did for one lead: rows delivered or held, traits to keep."""

    lead_id: str
    delivered: list[int] = field(default_factory=list)
    waiting: list[int] = field(default_factory=list)
    adopted: list[int] = field(default_factory=list)  # rows that had only an anonymous id
    traits: dict[str, Any] | None = None  # the contact's merged traits, when they changed
    enrolled: bool = False
    profile: LeadProfile | None = None  # a running lead's changed profile


class InboundLedger(TableAccess):
    """Accepting, holding and delivering inbound messages."""

    def accept_inbound(self, messages: Sequence[Inbound], *, now: datetime) -> int:
        """Persist the messages in one transaction; how many were new (repeats are skipped)."""
        received = as_utc(now, name="now")
        rows = [{"message_id": m.message_id, "kind": m.kind.value, "lead_id": m.lead_id,
                 "anonymous_id": m.anonymous_id, "payload": m.payload, "received_at": received,
                 "status": InboundStatus.PENDING.value, "attempts": 0} for m in messages]
        if not rows:
            return 0
        table = InboundRow.__table__  # type: ignore[attr-defined]
        # One statement, executed for many rows: compiled once and cached, unlike a
        # multi-VALUES insert, whose compiling cost more than the write itself. A row only
        # comes back when it was new.
        statement = (self._insert_on_conflict(table)
                     .on_conflict_do_nothing(index_elements=["message_id"])
                     .returning(table.c.seq))
        with self.engine.begin() as connection:
            added = len(connection.execute(statement, rows).all())
        return added

    def pending_inbound(self, limit: int = 500, *, running_too: bool = False
                        ) -> list[InboundRow]:
        """The oldest messages not yet delivered nor held, in order. `running_too`: when
        more are pending than `limit`, also, after those, up to `limit` more of those whose
        lead is enrolled (by its id or an anonymous id linked to it), so that a backlog of
        new leads (an import the relay starts at a pace) never holds up running leads'
        events. Either way every lead's rows in the answer are its oldest pending ones."""
        pending = col(InboundRow.status) == InboundStatus.PENDING
        statement = select(InboundRow).where(pending).order_by(col(InboundRow.seq))
        with Session(self.engine) as session:
            rows = list(session.exec(statement.limit(limit)))
            if not running_too or len(rows) < limit:
                return rows
            enrolled = select(ContactRow.id).where(col(ContactRow.enrolled))
            linked = select(IdentityRow.anonymous_id).join(
                ContactRow, col(ContactRow.id) == col(IdentityRow.lead_id)).where(
                col(ContactRow.enrolled))
            running = statement.where(col(InboundRow.seq) > rows[-1].seq, or_(
                col(InboundRow.lead_id).in_(enrolled),
                and_(col(InboundRow.lead_id).is_(None),
                     col(InboundRow.anonymous_id).in_(linked))))
            return rows + list(session.exec(running.limit(limit)))

    def held_inbound(self, *, lead_ids: Iterable[str] = (),
                     anonymous_ids: Iterable[str] = ()) -> list[InboundRow]:
        """Held messages of these leads (waiting) or these anonymous ids, in order."""
        leads, anons = list(lead_ids), list(anonymous_ids)
        found: list[InboundRow] = []
        with Session(self.engine) as session:
            if leads:
                found += session.exec(select(InboundRow).where(
                    col(InboundRow.status) == InboundStatus.WAITING,
                    col(InboundRow.lead_id).in_(leads)))
            if anons:
                found += session.exec(select(InboundRow).where(
                    col(InboundRow.status) == InboundStatus.ANONYMOUS,
                    col(InboundRow.lead_id).is_(None),
                    col(InboundRow.anonymous_id).in_(anons)))
        unique = {row.seq: row for row in found}
        return [unique[seq] for seq in sorted(unique)]  # type: ignore[type-var]

    def lead_events(self, lead_id: str, limit: int = 200) -> list[Event]:
        """The behavioral events accepted for the lead (anonymous visits it was tied to
        included), newest first: what the lead did, for its timeline."""
        statement = (select(InboundRow)
                     .where(col(InboundRow.lead_id) == lead_id,
                            col(InboundRow.kind) == InboundKind.EVENT.value)
                     .order_by(col(InboundRow.seq).desc()).limit(limit))
        found: list[Event] = []
        with Session(self.engine) as session:
            for row in session.exec(statement):
                try:
                    found.append(Event.model_validate(row.payload))
                except ValidationError:
                    continue  # a row the relay could not deliver either
        return found

    def inbound_backlog(self) -> int:
        """How many accepted messages have not reached a workflow yet (held ones excluded)."""
        statement = select(func.count()).select_from(InboundRow).where(
            col(InboundRow.status) == InboundStatus.PENDING)
        with Session(self.engine) as session:
            return int(session.exec(statement).one())

    def inbound_counts(self, lead_id: str) -> dict[str, int]:
        """A lead's inbound messages by status."""
        statement = (select(InboundRow.status, func.count()).where(
            col(InboundRow.lead_id) == lead_id).group_by(col(InboundRow.status)))
        with Session(self.engine) as session:
            return {status: int(count) for status, count in session.exec(statement)}

    def settle_pass(self, deliveries: Sequence[LeadDelivery], *, anonymous: Sequence[int],
                    now: datetime) -> None:
        """Record a relay pass in one transaction: contacts, delivered, waiting and
        anonymous rows, and the lead each adopted anonymous row now belongs to."""
        now = as_utc(now, name="now")
        contacts = [{"id": d.lead_id, "traits": d.traits, "enrolled": d.enrolled,
                     "updated_at": now} for d in deliveries if d.traits is not None]
        with self._session() as session:
            if contacts:
                statement = self._insert_on_conflict(ContactRow).values(contacts)
                statement = statement.on_conflict_do_update(index_elements=["id"], set_={
                    "traits": statement.excluded.traits,
                    "enrolled": statement.excluded.enrolled,
                    "updated_at": statement.excluded.updated_at})
                session.exec(statement)  # type: ignore[call-overload]
            for delivery in deliveries:
                if delivery.adopted:
                    session.exec(update(InboundRow).where(  # type: ignore[call-overload]
                        col(InboundRow.seq).in_(delivery.adopted))
                        .values(lead_id=delivery.lead_id))
            for status, seqs in (
                    (InboundStatus.DELIVERED, [s for d in deliveries for s in d.delivered]),
                    (InboundStatus.WAITING, [s for d in deliveries for s in d.waiting]),
                    (InboundStatus.ANONYMOUS, list(anonymous))):
                values: dict[str, Any] = {"status": status.value, "error": None}
                if status == InboundStatus.DELIVERED:
                    values["delivered_at"] = now
                for start in range(0, len(seqs), _CHUNK):
                    session.exec(update(InboundRow).where(  # type: ignore[call-overload]
                        col(InboundRow.seq).in_(seqs[start:start + _CHUNK])).values(**values))

    def retry_inbound(self, seqs: Sequence[int], *, error: str, give_up_after: int,
                      now: datetime) -> None:
        """Count a failed delivery; after `give_up_after` attempts the messages are failed."""
        if not seqs:
            return
        with self._session() as session:
            session.exec(update(InboundRow).where(  # type: ignore[call-overload]
                col(InboundRow.seq).in_(seqs)).values(attempts=InboundRow.attempts + 1,
                                                      error=error[:500]))
            session.exec(update(InboundRow).where(  # type: ignore[call-overload]
                col(InboundRow.seq).in_(seqs), col(InboundRow.attempts) >= give_up_after)
                .values(status=InboundStatus.FAILED.value))

    # identities and contacts

    def identity(self, anonymous_ids: Iterable[str]) -> dict[str, str]:
        """The leads these anonymous ids are known to belong to."""
        wanted = list(set(anonymous_ids))
        if not wanted:
            return {}
        with Session(self.engine) as session:
            rows = session.exec(select(IdentityRow).where(
                col(IdentityRow.anonymous_id).in_(wanted)))
            return {row.anonymous_id: row.lead_id for row in rows}

    def link_identity(self, anonymous_id: str, lead_id: str, *, now: datetime) -> str:
        """Record that the anonymous id is this lead; the first link wins. Returns the lead."""
        if self._insert_once(IdentityRow(anonymous_id=anonymous_id, lead_id=lead_id,
                                         created_at=as_utc(now, name="now"))):
            return lead_id
        return self.identity([anonymous_id]).get(anonymous_id, lead_id)

    def contacts(self, ids: Iterable[str]) -> dict[str, ContactRow]:
        """Contacts by id."""
        wanted = list(set(ids))
        if not wanted:
            return {}
        with Session(self.engine) as session:
            rows = session.exec(select(ContactRow).where(col(ContactRow.id).in_(wanted)))
            return {row.id: row for row in rows}

    # leases

    def hold_lease(self, name: str, holder: str, *, ttl: timedelta, now: datetime,
                   gone: Callable[[str], bool] | None = None) -> bool:
        """Take or renew the named lease for `holder`; False while another holder has it.

        `gone` says whether a holder is known to be dead (a process of this machine that no
        longer runs): its lease is taken at once instead of after it expires.
        """
        now = as_utc(now, name="now")
        until = now + ttl
        taken = self._update(LeaseRow, (col(LeaseRow.name) == name) & (
            (col(LeaseRow.holder) == holder) | (col(LeaseRow.expires_at) < now)),
            holder=holder, expires_at=until)
        if taken:
            return True
        if self._insert_once(LeaseRow(name=name, holder=holder, expires_at=until)):
            return True
        if gone is None:
            return False
        with Session(self.engine) as session:
            row = session.get(LeaseRow, name)
            current = None if row is None else row.holder
        if current is None or not gone(current):
            return False
        return bool(self._update(LeaseRow, (col(LeaseRow.name) == name) & (
            col(LeaseRow.holder) == current), holder=holder, expires_at=until))

    def release_lease(self, name: str, holder: str) -> None:
        """Give the lease up at once (on a clean shutdown)."""
        with self._session() as session:
            session.exec(update(LeaseRow).where(  # type: ignore[call-overload]
                col(LeaseRow.name) == name, col(LeaseRow.holder) == holder)
                .values(expires_at=datetime(1970, 1, 1, tzinfo=UTC)))


