"""What the application database says happened: the rows a chaos run is judged by.

`read_books(store)` reads, in one pass, the inbound ledger (every accepted call by its
`messageId`), the email-send ledger, the sales tasks and the leads' positions;
`first_delivery_after` and `first_step_after` find when work moved again after a fault (a
call delivered to its workflow, a lead's step recorded). It reads
through the store's own tables, so SQLite and PostgreSQL read alike.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlmodel import Session, col, func, select

from engine.runtime.notices import NOTICE_TEMPLATE
from engine.store import Store
from engine.store.sends import CONNECTION_LOST, OUTCOME_UNKNOWN
from engine.store.tables import EmailSendRow, InboundRow, LeadRow, SalesTaskRow, SendStatus

UNFINISHED = frozenset({SendStatus.SENDING.value, SendStatus.RETRY.value})
"""Send rows whose email is claimed but not yet sent, failed or skipped."""


@dataclass(frozen=True)
class Send:
    """One email-send row, as the run reads it."""

    key: str
    lead: str
    template: str  # a notice's is `sales_notice#<n>`: each notice of a task is its own
    status: str
    error: str | None
    message_id: str
    to: str

    @property
    def outcome_unknown(self) -> bool:
        """The sender died mid-SMTP and the engine chose not to send it again."""
        return self.error == OUTCOME_UNKNOWN

    @property
    def connection_lost(self) -> bool:
        """The SMTP connection dropped mid-message (an outage), so it was not sent again."""
        return self.error == CONNECTION_LOST

    @property
    def unfinished(self) -> bool:
        """Claimed, not yet settled."""
        return self.status in UNFINISHED


@dataclass(frozen=True)
class Position:
    """Where a lead's workflow last recorded it."""

    phase: str
    track: str | None
    step: str | None
    updated_at: float  # seconds since the epoch


@dataclass
class Books:
    """The database's rows a run counts."""

    inbound: dict[str, str] = field(default_factory=dict)  # messageId → status
    sends: list[Send] = field(default_factory=list)
    escalations: dict[str, list[str]] = field(default_factory=dict)  # lead → task ids
    alerts: dict[str, list[str]] = field(default_factory=dict)  # lead → alert task ids
    positions: dict[str, Position] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._by_lead: dict[str, list[Send]] | None = None

    def sends_of(self, lead: str) -> list[Send]:
        """The lead's send rows (its emails and the notices about its tasks)."""
        if self._by_lead is None:
            self._by_lead = {}
            for send in self.sends:
                self._by_lead.setdefault(send.lead, []).append(send)
        return self._by_lead.get(lead, [])


def read_books(store: Store) -> Books:
    """Every row the run is judged by, read now."""
    books = Books()
    with Session(store.engine) as session:
        for message_id, status in session.exec(select(InboundRow.message_id,
                                                      InboundRow.status)):
            books.inbound[message_id] = status
        for row in session.exec(select(EmailSendRow)):
            template = row.template
            if template == NOTICE_TEMPLATE:
                template = f"{NOTICE_TEMPLATE}#{row.key.rpartition(':')[2]}"
            books.sends.append(Send(key=row.key, lead=row.lead_id, template=template,
                                    status=row.status, error=row.error,
                                    message_id=row.message_id, to=row.to_address))
        for task_id, lead_id, kind in session.exec(select(
                SalesTaskRow.id, SalesTaskRow.lead_id, SalesTaskRow.kind)):
            (books.escalations if kind == "escalation" else books.alerts).setdefault(
                lead_id, []).append(task_id)
        for lead in session.exec(select(LeadRow)):
            books.positions[lead.id] = Position(phase=lead.phase, track=lead.track,
                                                step=lead.step,
                                                updated_at=lead.updated_at.timestamp())
    return books


def first_delivery_after(store: Store, moment: float) -> float | None:
    """When the relay first delivered a call to its workflow after `moment` (seconds since
    the epoch), or None."""
    with Session(store.engine) as session:
        found = session.exec(select(func.min(InboundRow.delivered_at)).where(
            col(InboundRow.delivered_at) > datetime.fromtimestamp(moment, UTC))).one()
    return None if found is None else found.timestamp()


def first_step_after(store: Store, moment: float) -> float | None:
    """When a lead's workflow first recorded a step after `moment`, or None (each lead keeps
    only the step it last reached, so this may come later than the first step taken)."""
    with Session(store.engine) as session:
        found = session.exec(select(func.min(LeadRow.updated_at)).where(
            col(LeadRow.updated_at) > datetime.fromtimestamp(moment, UTC))).one()
    return None if found is None else found.timestamp()
