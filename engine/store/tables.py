"""The tables the engine keeps: leads, inbound events, email sends, sales tasks, suppressions.

Every time column is a `UTCDateTime`, so rows read back carry aware UTC datetimes.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Index, LargeBinary
from sqlmodel import Field, SQLModel

from engine.leads import Phase
from engine.store.timestamps import UTCDateTime


class SendStatus(StrEnum):
    """Where one email send stands.

    `queued`: claimed, nothing handed to the SMTP server yet (safe to send again).
    `sending`: the message itself is going out; a row left here by a dead process has an
    unknown outcome. Only `queued` moves to `sending`; `retry` goes back to `queued`.
    """

    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    RETRY = "retry"
    FAILED = "failed"
    SKIPPED = "skipped"


class SalesTaskKind(StrEnum):
    """Why sales is being asked to act."""

    ESCALATION = "escalation"
    ALERT = "alert"


class TaskStatus(StrEnum):
    """Where a sales task stands: open until sales answers, then how they answered; an
    alert stays open until its owner dismisses it."""

    OPEN = "open"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    RECYCLED = "recycled"
    DISMISSED = "dismissed"


class LeadRow(SQLModel, table=True):
    """A lead's profile and where it stands in its nurture."""

    __tablename__ = "leads"

    id: str = Field(primary_key=True, max_length=200)
    email: str = Field(index=True, max_length=320)
    first_name: str | None = None
    last_name: str | None = None
    title: str | None = None
    company: str | None = None
    company_domain: str | None = Field(default=None, index=True)
    company_key: str | None = Field(default=None, index=True, max_length=253)
    """`company_domain` trimmed and lower-cased: how colleagues are found, once per
    enrolment (`Store.colleagues`), by an index."""
    company_size: int | None = None
    industry: str | None = None
    country: str | None = None
    timezone: str | None = None
    source: str | None = None
    campaign: str | None = Field(default=None, max_length=200)
    account_id: str | None = Field(default=None, index=True, max_length=200)
    phase: str = Field(default=Phase.QUALIFICATION.value)
    track: str | None = None
    step: str | None = Field(default=None, max_length=200)
    playbook_version: str | None = Field(default=None, index=True, max_length=64)
    created_at: datetime = Field(sa_type=UTCDateTime)
    updated_at: datetime = Field(sa_type=UTCDateTime)


class PlaybookRow(SQLModel, table=True):
    """A playbook version leads run, kept so it can be shown and compared after the code
    has moved on; `version` is the spec's content hash."""

    __tablename__ = "playbooks"

    version: str = Field(primary_key=True, max_length=64)
    name: str = Field(max_length=200)
    spec: dict[str, Any] = Field(sa_type=JSON)
    stored_at: datetime = Field(sa_type=UTCDateTime)


class JournalRow(SQLModel, table=True):
    """One line of a lead's timeline, written by its workflow's activities; `enrolled_at`
    tells one enrolment of a lead id from a later one, `seq` orders the lines."""

    __tablename__ = "lead_journal"

    lead_id: str = Field(primary_key=True, max_length=200)
    enrolled_at: datetime = Field(primary_key=True, sa_type=UTCDateTime)
    seq: int = Field(primary_key=True)
    at: datetime = Field(sa_type=UTCDateTime)
    kind: str = Field(max_length=64)
    data: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)


class EventRow(SQLModel, table=True):
    """One behavioral event as received; the event id makes delivery idempotent."""

    __tablename__ = "events"

    id: str = Field(primary_key=True, max_length=200)
    lead_id: str = Field(index=True, max_length=200)
    type: str = Field(max_length=64)
    at: datetime = Field(sa_type=UTCDateTime)
    properties: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    received_at: datetime = Field(sa_type=UTCDateTime)


class EmailSendRow(SQLModel, table=True):
    """One email, claimed under its idempotency key before SMTP is ever spoken to."""

    __tablename__ = "email_sends"

    key: str = Field(primary_key=True)
    lead_id: str = Field(index=True, max_length=200)
    to_address: str
    template: str
    track: str
    step: str
    subject: str
    message_id: str
    status: str = Field(default=SendStatus.SENDING.value)
    error: str | None = None
    created_at: datetime = Field(sa_type=UTCDateTime)
    sent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    attempts: int = 1
    links: list[str] = Field(default_factory=list, sa_type=JSON)
    message: bytes | None = Field(default=None, sa_type=LargeBinary)
    """The message as it went on the wire, kept until its outcome is known: an operator
    re-sends exactly it (same Message-ID) when an outcome stays unknown."""


class EmailClickRow(SQLModel, table=True):
    """One click on a tracked link; `scanner` marks a click no person made."""

    __tablename__ = "email_clicks"

    id: int | None = Field(default=None, primary_key=True)
    send_key: str = Field(index=True)
    link: int
    at: datetime = Field(sa_type=UTCDateTime)
    scanner: bool = False


class SalesTaskRow(SQLModel, table=True):
    """Work handed to sales: an escalation with its handoff package, or an alert.

    An escalation has an owner (the rep routing chose, None without routing rules), an SLA
    (`due_at`) and a timeline of what happened to it; it stays `open` until sales accepts,
    rejects or recycles it, which is recorded once with `closed_at` and `closed_by`.
    Each timeline entry is `{"at": ISO-8601, "kind": str, "by": str, "detail": str}`.
    """

    __tablename__ = "sales_tasks"
    __table_args__ = (
        Index("ix_sales_tasks_status_due", "status", "due_at"),
        Index("ix_sales_tasks_owner_status_due", "owner", "status", "due_at"),
    )

    id: str = Field(primary_key=True)
    lead_id: str = Field(index=True, max_length=200)
    kind: str
    tier: int
    reason: str  # the one-sentence qualification reason
    opener: str
    handoff: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    status: str = Field(default=TaskStatus.OPEN.value, max_length=16)
    created_at: datetime = Field(sa_type=UTCDateTime)
    due_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    owner: str | None = Field(default=None, max_length=200)  # the rep's id
    owner_name: str | None = Field(default=None, max_length=200)
    route_rule: str = Field(default="", max_length=200)
    follow_up_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    breached_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    reroutes: int = 0
    timeline: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSON)
    outcome_reason: str | None = Field(default=None, max_length=64)
    outcome_note: str = ""
    closed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    closed_by: str | None = Field(default=None, max_length=200)
    recycle_until: date | None = None
    next_step: str = ""
    time_to_sql_seconds: float | None = None


class SalesTokenRow(SQLModel, table=True):
    """A sign-in token of a rep or manager; only its sha256 is kept, never the token."""

    __tablename__ = "sales_tokens"

    token_hash: str = Field(primary_key=True, max_length=64)
    user_id: str = Field(index=True, max_length=200)
    role: str = Field(max_length=16)  # "rep" or "manager"
    created_at: datetime = Field(sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class CounterRow(SQLModel, table=True):
    """A named counter shared by every process (whose turn it is in a round-robin)."""

    __tablename__ = "counters"

    name: str = Field(primary_key=True, max_length=64)
    value: int = 0


class SuppressionRow(SQLModel, table=True):
    """An address that must never be mailed again, and why."""

    __tablename__ = "suppressions"

    email: str = Field(primary_key=True, max_length=320)
    lead_id: str | None = Field(default=None, max_length=200)
    reason: str
    created_at: datetime = Field(sa_type=UTCDateTime)


class InboundKind(StrEnum):
    """What an inbound message carries."""

    EVENT = "event"        # a behavioral event (track, page, click, open, unsubscribe)
    PROFILE = "profile"    # traits about the person or their account (identify, group)
    ALIAS = "alias"        # two ids are the same person


class InboundStatus(StrEnum):
    """Where an inbound message stands."""

    PENDING = "pending"
    ANONYMOUS = "anonymous"
    WAITING = "waiting"
    DELIVERED = "delivered"
    FAILED = "failed"


class InboundRow(SQLModel, table=True):
    """An accepted message; `seq` orders delivery."""

    __tablename__ = "inbound"
    __table_args__ = (Index("ix_inbound_status_seq", "status", "seq"),)

    seq: int | None = Field(default=None, primary_key=True)
    message_id: str = Field(max_length=200, unique=True)
    kind: str = Field(max_length=16)
    lead_id: str | None = Field(default=None, index=True, max_length=200)
    anonymous_id: str | None = Field(default=None, index=True, max_length=200)
    payload: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    received_at: datetime = Field(sa_type=UTCDateTime)
    status: str = Field(default=InboundStatus.PENDING.value, max_length=16)
    attempts: int = 0
    error: str | None = None
    delivered_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class ContactRow(SQLModel, table=True):
    """What producers have said about a person (merged traits), and whether it is enrolled."""

    __tablename__ = "contacts"

    id: str = Field(primary_key=True, max_length=200)
    traits: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    enrolled: bool = False
    updated_at: datetime = Field(sa_type=UTCDateTime)


class IdentityRow(SQLModel, table=True):
    """An anonymous id (a browser, a device) known to belong to a lead."""

    __tablename__ = "identities"

    anonymous_id: str = Field(primary_key=True, max_length=200)
    lead_id: str = Field(index=True, max_length=200)
    created_at: datetime = Field(sa_type=UTCDateTime)


class LeaseRow(SQLModel, table=True):
    """A lease one process holds for a while, so only one relay delivers at a time."""

    __tablename__ = "leases"

    name: str = Field(primary_key=True, max_length=64)
    holder: str = Field(max_length=200)
    expires_at: datetime = Field(sa_type=UTCDateTime)


TABLES = (LeadRow, EventRow, EmailSendRow, EmailClickRow, SalesTaskRow, SuppressionRow, InboundRow,
          ContactRow, IdentityRow, LeaseRow, SalesTokenRow, CounterRow, PlaybookRow)
"""Every table the store creates, in creation order."""
