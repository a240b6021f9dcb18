"""One pydantic model in and one out for every activity of the lead and notice workflows.

Fields are only ever added with defaults, so payloads of running workflows stay readable.
No default here reads a clock: workflows pass `workflow.now()` explicitly.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from engine.dsl.sales import SalesPolicy
from engine.dsl.spec import PlaybookSpec
from engine.handoff import HandoffPackage
from engine.journey.state import JournalEntry, TaskOwner
from engine.leads import LeadProfile
from engine.routing import RoutingRules


class RegisterLeadInput(BaseModel):
    """Save the profile; learn about colleagues and an existing suppression."""

    lead: LeadProfile
    now: datetime


class KeepPlaybookInput(BaseModel):
    """Store a playbook version (a lead that carried its spec hands over to one that names
    it)."""

    playbook: PlaybookSpec
    now: datetime


class RegisterLeadResult(BaseModel):
    """Colleagues at the same company and whether the address is suppressed."""

    colleagues: list[str] = Field(default_factory=list)
    suppressed_reason: str | None = None


class SendEmailInput(BaseModel):
    """Render and deliver one email under an idempotency key."""

    key: str
    lead: LeadProfile
    template: str
    track: str
    step: str
    ctx: dict[str, Any] = Field(default_factory=dict)
    event: dict[str, Any] = Field(default_factory=dict)
    now: datetime


class SendEmailResult(BaseModel):
    """What happened: sent, already_sent, suppressed, unknown (crash mid-send) or bounced."""

    status: str
    subject: str = ""
    message_id: str = ""
    detail: str = ""


class SalesTaskInput(BaseModel):
    """Write a sales task (an escalation with its handoff package, or an alert)."""

    task_id: str
    lead: LeadProfile
    kind: str
    tier: int
    reason: str
    handoff: HandoffPackage | None = None
    now: datetime
    due_at: datetime | None = None
    owner: TaskOwner | None = None  # an alert goes to the open task's owner, if any
    routing: RoutingRules | None = None  # else to whom these rules route the lead


class OpenTaskInput(BaseModel):
    """Route an escalation, work out its SLA, and write the task once (the id dedupes)."""

    task_id: str
    lead: LeadProfile
    tier: int
    handoff: HandoffPackage
    policy: SalesPolicy
    now: datetime


class OpenedTask(BaseModel):
    """The task as written: its owner (None without routing rules) and its clocks."""

    owner: TaskOwner | None = None
    due_at: datetime
    follow_up_until: datetime
    handoff: HandoffPackage | None = None
    created: bool = True


class RerouteInput(BaseModel):
    """Move a breached task to the next owner the routing rules name."""

    task_id: str
    tier: int
    current: str | None
    policy: SalesPolicy
    now: datetime


class RetierInput(BaseModel):
    """Make an open task more urgent: the lead asked for sales while it waited."""

    task_id: str
    tier: int
    owner_timezone: str | None
    policy: SalesPolicy
    reason: str
    now: datetime


class TaskNoticeInput(BaseModel):
    """Tell a rep about a task: newly `assigned`, SLA `breached`, or `rerouted` to them.

    `notice` numbers the notices of one task, so each is sent once however often the
    activity is retried.
    """

    task_id: str
    lead: LeadProfile
    kind: Literal["assigned", "breached", "rerouted"]
    owner: TaskOwner
    tier: int
    due_at: datetime
    handoff: HandoffPackage
    notice: int
    now: datetime


class TaskEventInput(BaseModel):
    """Record a moment on the task's own timeline (an SLA breach, say)."""

    task_id: str
    kind: str
    detail: str
    now: datetime


class CloseTaskInput(BaseModel):
    """Record sales' outcome on the task; only an open task changes."""

    task_id: str
    status: Literal["accepted", "rejected", "recycled"]
    reason: str | None = None
    note: str = ""
    by: str = ""
    until: date | None = None
    next_step: str = ""
    time_to_sql_seconds: float | None = None
    now: datetime


class SuppressInput(BaseModel):
    """Suppress a lead's address."""

    lead: LeadProfile
    reason: str
    now: datetime


class PositionInput(BaseModel):
    """Record where a lead is, for reports and the API."""

    lead_id: str
    phase: str
    track: str | None
    now: datetime
    step: str | None = None
    playbook_version: str | None = None
    journal: JournalInput | None = None


class JournalInput(BaseModel):
    """Timeline lines for the store (`record_journal`, or riding on `record_position`)."""

    lead_id: str
    enrolled_at: datetime
    lines: list[JournalEntry]


class Done(BaseModel):
    """An activity's plain acknowledgement."""

    changed: bool = True
