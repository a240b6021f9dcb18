"""What the lead workflow takes and answers: its input, the `events` signal, the `state`
and `journal` queries (the `feedback` update's models are in `engine.feedback`).

Fields are only ever added with defaults, so messages to running workflows stay readable.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from engine.dsl import library
from engine.dsl.spec import PlaybookSpec
from engine.events import Event
from engine.feedback import FeedbackResult
from engine.journey.state import JournalEntry, LeadState, OpenEscalation, SentEmail
from engine.leads import LeadProfile
from engine.scoring import Scores, readiness


def workflow_id_for(lead_id: str) -> str:
    """The deterministic workflow id of a lead."""
    return f"lead:{lead_id}"


class LeadWorkflowInput(BaseModel):
    """Start a lead's workflow fresh (`state` None) or continue it (`state` carried).

    The playbook goes by reference: `playbook_version` names a version the worker knows
    (`engine.dsl.library`). Runs started before that carry the whole spec in `playbook`.
    """

    lead: LeadProfile
    playbook: PlaybookSpec | None = None
    state: LeadState | None = None
    history_limit: int = 10_000
    playbook_version: str | None = None

    def spec(self) -> PlaybookSpec:
        """The playbook the run follows: the one carried, else the version named."""
        if self.playbook is not None:
            return self.playbook
        if self.state is not None and self.state.playbook is not None:
            return self.state.playbook
        if self.playbook_version is None:
            raise ValueError("a lead workflow input names no playbook")
        return library.recall(self.playbook_version)


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


class ScheduledEmail(BaseModel):
    """An email a trigger asked for, held until the cadence lets it go (send window,
    frequency cap)."""

    template: str
    track: str
    not_before: datetime


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
    scheduled_emails: list[ScheduledEmail] = Field(default_factory=list)

    @classmethod
    def of(cls, state: LeadState) -> LeadSnapshot:
        """The snapshot of a lead's state."""
        s, pos = state, state.position
        track = s.playbook.tracks.get(pos.track) if pos else None
        return cls(
            lead=s.lead, phase=s.phase, track=pos.track if pos else None,
            step=pos.step if pos else None, playbook_version=s.playbook.version,
            track_version=track.version if track else None, scores=s.scores,
            readiness=readiness(s.scores, s.playbook.scoring),
            mql=s.mql_at is not None, recent_events=s.events[-20:][::-1],
            event_count=s.event_count, emails=s.emails[-50:], escalation=s.escalation,
            alerts=s.alerts[-20:], committee=s.committee, sales_outcome=s.sales_outcome,
            resting_until=s.resting_until, suppressed_reason=s.suppressed_reason,
            enrolled_at=s.enrolled_at, runs=s.runs,
            scheduled_emails=[ScheduledEmail(template=p.template, track=p.track,
                                             not_before=p.not_before) for p in s.outbox])
