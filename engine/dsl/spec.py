"""The compiled form of a playbook: tracks, steps and triggers as JSON-ready pydantic data.

A lead's workflow receives this spec as input and keeps it, so a lead runs the version it
enrolled with however the playbook is edited later. `version` is a content hash.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import timedelta
from functools import cached_property
from typing import Annotated, Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from engine.dsl.conditions import Condition
from engine.dsl.pages import PageRule
from engine.dsl.sales import SalesPolicy
from engine.scoring import ScoringModel


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    def model_copy(self, *, update: Mapping[str, Any] | None = None,
                   deep: bool = False) -> Self:
        """A copy, with its content hash (`version`, cached) computed afresh."""
        copy = super().model_copy(update=update, deep=deep)
        copy.__dict__.pop("version", None)
        return copy


# --- steps -------------------------------------------------------------------------------


class SendStep(_Spec):
    """Send one templated email, then go to `next`."""

    kind: Literal["send"] = "send"
    id: str
    template: str
    ctx: dict[str, Any] = Field(default_factory=dict)
    next: str | None = None
    about: str | None = Field(default=None, exclude_if=lambda value: value is None)
    """An event type: the email is about the lead's newest event of that type, whose type
    and properties the template sees as `event` (the webinar the lead attended, say). Left
    out of the JSON form while unset, so steps without it keep their content hash."""


class WaitStep(_Spec):
    """Wait a fixed time (triggers can still interrupt)."""

    kind: Literal["wait"] = "wait"
    id: str
    duration: timedelta
    next: str | None = None


class EventBranch(_Spec):
    """One way out of a `wait_for`: the first matching event goes to `next`."""

    on: list[str]
    where: dict[str, Any] = Field(default_factory=dict)
    next: str


class WaitForStep(_Spec):
    """Wait for one of several events, or time out."""

    kind: Literal["wait_for"] = "wait_for"
    id: str
    branches: list[EventBranch]
    timeout: timedelta
    on_timeout: str | None = None


class Case(_Spec):
    """One arm of a branch."""

    when: Condition
    next: str


class BranchStep(_Spec):
    """Go to the first case whose condition holds, else `otherwise`."""

    kind: Literal["branch"] = "branch"
    id: str
    cases: list[Case]
    otherwise: str | None = None


class MoveStep(_Spec):
    """Leave this track for another (its phase comes with it)."""

    kind: Literal["move"] = "move"
    id: str
    track: str
    reason: str


class EscalateStep(_Spec):
    """Hand the lead to sales. `tier` None means: the tier the lead's scores earn (default 3)."""

    kind: Literal["escalate"] = "escalate"
    id: str
    tier: Literal[1, 2, 3] | None = None
    reason: str


class SuppressStep(_Spec):
    """Stop all email to this lead for good."""

    kind: Literal["suppress"] = "suppress"
    id: str
    reason: str


class ExitStep(_Spec):
    """Leave nurture without suppressing (the lead keeps being scored)."""

    kind: Literal["exit"] = "exit"
    id: str
    reason: str


Step = Annotated[
    SendStep | WaitStep | WaitForStep | BranchStep | MoveStep | EscalateStep | SuppressStep
    | ExitStep,
    Field(discriminator="kind"),
]

TERMINAL_KINDS = frozenset({"move", "escalate", "suppress", "exit"})


# --- trigger actions ---------------------------------------------------------------------


class MoveAction(_Spec):
    """Interrupt and move to another track."""

    kind: Literal["move"] = "move"
    track: str
    reason: str


class EscalateAction(_Spec):
    """Interrupt and hand the lead to sales."""

    kind: Literal["escalate"] = "escalate"
    tier: Literal[1, 2, 3] | None = None
    reason: str


class SuppressAction(_Spec):
    """Interrupt and suppress."""

    kind: Literal["suppress"] = "suppress"
    reason: str


class SendAction(_Spec):
    """Send an email without interrupting the current step."""

    kind: Literal["send"] = "send"
    template: str
    ctx: dict[str, Any] = Field(default_factory=dict)


class NotifySalesAction(_Spec):
    """Tell sales (an alert, not a handoff) without interrupting."""

    kind: Literal["notify_sales"] = "notify_sales"
    reason: str


Action = Annotated[
    MoveAction | EscalateAction | SuppressAction | SendAction | NotifySalesAction,
    Field(discriminator="kind"),
]
INTERRUPTING_ACTIONS = frozenset({"move", "escalate", "suppress"})


class Trigger(_Spec):
    """When an event of these types lands (and `when` holds), run `actions` at once."""

    name: str
    on: list[str]
    where: dict[str, Any] = Field(default_factory=dict)
    when: Condition | None = None
    phases: list[str] = Field(default_factory=list)
    actions: list[Action]
    once: bool = False
    cooldown: timedelta | None = None


# --- tracks and the playbook -------------------------------------------------------------


class TrackSpec(_Spec):
    """A named, phase-bound sequence of steps plus the triggers active while it runs."""

    name: str
    phase: str
    description: str = ""
    steps: list[Step]
    triggers: list[Trigger] = Field(default_factory=list)

    def step(self, step_id: str) -> Step:
        """The step with this id."""
        for step in self.steps:
            if step.id == step_id:
                return step
        raise KeyError(f"track {self.name!r} has no step {step_id!r}")

    @cached_property
    def version(self) -> str:
        """A content hash: equal specs have equal versions (computed once per spec)."""
        return content_hash(self)


class EntryRule(_Spec):
    """New leads for whom `when` holds start on `track` (first matching rule wins)."""

    when: Condition
    track: str


class SilenceRule(_Spec):
    """No engagement for `after` (once the lead has engaged at all) moves it to `track`."""

    after: timedelta = timedelta(days=21)
    engagement: list[str] = Field(default_factory=list)
    phases: list[str] = Field(default_factory=list)
    track: str


class Cadence(_Spec):
    """Frequency cap and send window, decided in the lead's own time zone."""

    max_emails: int = 2
    per: timedelta = timedelta(days=7)
    grace: timedelta = timedelta(days=7)
    window_start_hour: int = Field(default=8, ge=0, le=23)
    window_end_hour: int = Field(default=19, ge=1, le=24)
    default_timezone: str = "UTC"


class PlaybookSpec(_Spec):
    """Everything a lead's workflow needs to run: tracks, entry, triggers, scoring, cadence."""

    name: str
    tracks: dict[str, TrackSpec]
    entry: list[EntryRule] = Field(default_factory=list)
    default_track: str
    triggers: list[Trigger] = Field(default_factory=list)
    silence: SilenceRule | None = None
    scoring: ScoringModel = ScoringModel()
    cadence: Cadence = Cadence()
    sales: SalesPolicy = SalesPolicy()
    pages: list[PageRule] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _drop_legacy_sla(cls, data: Any) -> Any:
        """Specs carried by leads enrolled before `sales` existed had fixed-hour SLAs
        (`sla`); they now run under the business-hours policy."""
        if isinstance(data, dict) and "sla" in data:
            data = {k: v for k, v in data.items() if k != "sla"}
        return data

    @cached_property
    def version(self) -> str:
        """A content hash of the whole playbook (computed once per spec)."""
        return content_hash(self)

    def track(self, name: str) -> TrackSpec:
        """The track with this name."""
        try:
            return self.tracks[name]
        except KeyError:
            raise KeyError(f"playbook {self.name!r} has no track {name!r}") from None


def content_hash(model: BaseModel) -> str:
    """A short, stable hash of a model's JSON form."""
    payload = json.dumps(model.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(payload.encode()).hexdigest()[:12]
