"""One pydantic model in and one out for every workflow, signal, query and activity.

Fields are only ever added with defaults, so payloads of running workflows stay readable.
No default here reads a clock: workflows pass `workflow.now()` explicitly.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from engine.dsl.sales import SalesPolicy
from engine.dsl.spec import PlaybookSpec
from engine.events import Event
from engine.feedback import RejectReason
from engine.handoff import HandoffPackage
from engine.leads import LeadProfile
from engine.routing import RoutingRules
from engine.scoring import Scores


class Position(BaseModel):
    """Where in a track the lead is; `seq` makes each visit of a step unique."""

    track: str
    step: str
    seq: int
    deadline: datetime | None = None


class SentEmail(BaseModel):
    """An email the workflow sent."""

    template: str
    subject: str
    track: str
    step: str
    at: datetime
    key: str


class PendingSend(BaseModel):
    """A trigger's email waiting for the frequency cap or send window."""

    key: str
    template: str
    ctx: dict[str, Any] = Field(default_factory=dict)
    event: dict[str, Any] = Field(default_factory=dict)
    track: str
    step: str
    not_before: datetime


class TaskOwner(BaseModel):
    """The rep a sales task is assigned to, and the routing rule that chose them."""

    rep_id: str
    name: str
    email: str
    timezone: str = "UTC"
    rule: str = ""


class OpenEscalation(BaseModel):
    """The sales task a lead is waiting on, and where its SLA clock stands.

    `stage` is `due` while the owner is inside the SLA, `breached` after the owner was
    re-notified (the task is re-routed at `reroute_at`), and `closing` once an outcome
    arrived.
    """

    task_id: str
    tier: int
    reason: str
    opener: str
    at: datetime
    due_at: datetime
    owner: TaskOwner | None = None
    follow_up_until: datetime | None = None
    stage: str = "due"
    reroute_at: datetime | None = None
    reroutes: int = 0
    notices: int = 0


class Feedback(BaseModel):
    """Sales' answer on an escalated lead (the `feedback` update's argument).

    `until` is the date a `timing_not_active` reject or a recycle rests the lead until.
    """

    model_config = ConfigDict(extra="forbid")

    task_id: str = Field(min_length=1, max_length=300)
    action: Literal["accept", "reject", "recycle"]
    reason: RejectReason | None = None
    note: str = Field(default="", max_length=4000)
    until: date | None = None
    by: str = Field(default="", max_length=200)


class FeedbackResult(BaseModel):
    """What the answer did: the task's new status, the lead's next step and phase."""

    task_id: str
    status: str
    next_step: str
    phase: str
    at: datetime
    time_to_sql_seconds: float | None = None


class JournalEntry(BaseModel):
    """One line of the lead's timeline (what `nurture simulate` prints)."""

    seq: int
    at: datetime
    kind: str
    data: dict[str, Any] = Field(default_factory=dict)


class LeadState(BaseModel):
    """Everything a lead's workflow carries from one run to the next."""

    lead: LeadProfile
    playbook: PlaybookSpec
    enrolled_at: datetime
    phase: str = ""
    position: Position | None = None
    seq: int = 0
    scores: Scores = Scores()
    events: list[Event] = Field(default_factory=list)
    seen_ids: list[str] = Field(default_factory=list)
    event_count: int = 0
    last_engagement_at: datetime | None = None
    emails: list[SentEmail] = Field(default_factory=list)
    outbox: list[PendingSend] = Field(default_factory=list)
    fired: dict[str, datetime] = Field(default_factory=dict)
    escalation: OpenEscalation | None = None
    alerts: list[str] = Field(default_factory=list)
    committee: list[str] = Field(default_factory=list)
    suppressed_reason: str | None = None
    mql_at: datetime | None = None
    sql_at: datetime | None = None
    resting_until: datetime | None = None
    resume_track: str | None = None
    intent_since: datetime | None = None
    sales_outcome: FeedbackResult | None = None
    journal: list[JournalEntry] = Field(default_factory=list)
    inbox: list[Event] = Field(default_factory=list)
    runs: int = 1


class LeadWorkflowInput(BaseModel):
    """Start a lead's workflow fresh (`state` None) or continue it (`state` carried)."""

    lead: LeadProfile
    playbook: PlaybookSpec
    state: LeadState | None = None
    history_limit: int = 10_000


class EventsSignal(BaseModel):
    """Behavioral events for one lead; ids make a repeated delivery harmless.

    `profile`, when given, is what producers now say about the lead (an `identify` or
    `group` call): it replaces the profile the workflow holds, same id.
    """

    events: list[Event] = Field(default_factory=list)
    profile: LeadProfile | None = None


class JournalQuery(BaseModel):
    """Ask for timeline entries after `after_seq`."""

    after_seq: int = 0


class JournalPage(BaseModel):
    """Timeline entries, oldest first."""

    enrolled_at: datetime
    entries: list[JournalEntry]


class LeadSnapshot(BaseModel):
    """What the lead looks like right now (the state query's answer)."""

    lead: LeadProfile
    phase: str
    track: str | None
    step: str | None
    playbook_version: str
    track_version: str | None
    scores: Scores
    readiness: int | None
    mql: bool
    recent_events: list[Event]
    event_count: int
    emails: list[SentEmail]
    escalation: OpenEscalation | None
    sales_outcome: FeedbackResult | None = None
    resting_until: datetime | None = None
    alerts: list[str]
    committee: list[str]
    suppressed_reason: str | None
    enrolled_at: datetime
    runs: int


# --- activities --------------------------------------------------------------------------


class RegisterLeadInput(BaseModel):
    """Save the profile; learn about colleagues and an existing suppression."""

    lead: LeadProfile
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


class Done(BaseModel):
    """An activity's plain acknowledgement."""

    changed: bool = True
