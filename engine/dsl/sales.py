"""The sales side of a playbook: business hours, SLA tiers, routing, and what each
sales answer leads to.

    sales_policy(
        hours=BusinessHours(timezone="America/New_York", holidays=[date(2026, 11, 26)]),
        routing=ROUTING,
        on_reject={RejectReason.BUDGET: move_on_reject("budget_business_case")},
    )

Every outcome names a track of the playbook (checked when the playbook is built), so a
rejected or recycled lead always lands somewhere ops chose.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from engine.business_hours import BusinessHours
from engine.feedback import RejectReason
from engine.routing import RoutingRules
from engine.sla import SlaTiers


class NextStep(BaseModel):
    """What happens to a lead after sales gives it back.

    - `suppress`: never mail it again.
    - `move`: start `track` now.
    - `reactivate`: rest until the date the rep gives (now, if none), then start `track`.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    action: Literal["suppress", "move", "reactivate"]
    track: str | None = None
    needs_date: bool = False

    def describe(self) -> str:
        """The step in words, for the rep's confirmation and the timeline."""
        if self.action == "suppress":
            return "suppressed: no further email"
        if self.action == "move":
            return f"back to nurture on track {self.track}"
        return f"rests, then reactivation on track {self.track}"


def _default_reject_plan() -> dict[RejectReason, NextStep]:
    suppress = NextStep(action="suppress")
    return {reason: suppress for reason in RejectReason if reason.ends_nurture}


class SalesPolicy(BaseModel):
    """How the sales handoff runs for this playbook."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    hours: BusinessHours = BusinessHours()
    tiers: SlaTiers = SlaTiers()
    routing: RoutingRules | None = None
    on_reject: dict[RejectReason, NextStep] = Field(default_factory=_default_reject_plan)
    on_recycle: NextStep | None = None
    max_reroutes: int = Field(default=1, ge=0)

    def after_reject(self, reason: RejectReason) -> NextStep | None:
        """The playbook's next step for a reason; None means: back to the default track."""
        return self.on_reject.get(reason)


def suppress_on_reject() -> NextStep:
    """Rejected for this reason: never mail the lead again."""
    return NextStep(action="suppress")


def move_on_reject(track: str) -> NextStep:
    """Rejected for this reason: start `track` at once."""
    return NextStep(action="move", track=track)


def reactivate_on(track: str, *, needs_date: bool = True) -> NextStep:
    """Rest until the rep's date, then start `track`; `needs_date` makes the date required."""
    return NextStep(action="reactivate", track=track, needs_date=needs_date)
