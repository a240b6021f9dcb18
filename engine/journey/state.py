"""What a lead's workflow carries from one run to the next, and its parts.

Fields are only ever added with defaults, so the state of a running lead stays readable by
every later release. No default here reads a clock.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field, SerializerFunctionWrapHandler, model_serializer

from engine.dsl.spec import PlaybookSpec
from engine.events import Event
from engine.feedback import FeedbackResult
from engine.leads import LeadProfile
from engine.scoring import Scores, Tally


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


class JournalEntry(BaseModel):
    """One line of the lead's timeline (what `nurture simulate` prints)."""

    seq: int
    at: datetime
    kind: str
    data: dict[str, Any] = Field(default_factory=dict)


class SeenIds(BaseModel):
    """Event ids applied lately, as short digests by day of arrival (`engine.journey.dedupe`)."""

    days: dict[str, list[str]] = Field(default_factory=dict)
    index: set[str] | None = Field(default=None, exclude=True)


class LeadState(BaseModel):
    """Everything a lead's workflow carries from one run to the next.

    `constant_cost` is not carried: each run of the workflow decides it (runs recorded
    before it existed replay with the old rules). With it, scoring follows `tally`,
    dedupe follows `seen`, the events kept are bounded per type, and the journal lives in
    the store with a short tail here (`journal_flushed` is the last line written there).

    With `by_reference`, the carried state leaves the playbook out: the next run's input
    names its version (`engine.dsl.library`) and the workflow puts the spec back.
    """

    lead: LeadProfile
    playbook: PlaybookSpec = None  # type: ignore[assignment]  # set from the version then
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
    tally: Tally | None = None
    seen: SeenIds | None = None
    journal_flushed: int = 0
    constant_cost: bool = Field(default=False, exclude=True)
    by_reference: bool = False

    @model_serializer(mode="wrap")
    def _leave_playbook_out(self, handler: SerializerFunctionWrapHandler) -> Any:
        data = handler(self)
        if self.by_reference and isinstance(data, dict):
            data.pop("playbook", None)
        return data

    def next_seq(self) -> int:
        """A new number for a journal line, a step visit or a task id."""
        self.seq += 1
        return self.seq
