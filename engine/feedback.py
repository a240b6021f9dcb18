"""Sales feedback on an escalated lead: accept, reject with a standard reason, or recycle.

The reasons are the ones sales teams already use, so reports compare across teams; each
says in words what a rep means by it. What each reason leads to (suppress, reactivate on
a date, other content) is the playbook's to decide.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class RejectReason(StrEnum):
    """Why a rep turned an escalated lead down."""

    POOR_FIT = "poor_fit"
    NOT_A_BUYER = "student_vendor_competitor"
    NO_NEED = "no_business_need"
    WRONG_CONTACT = "wrong_contact_role"
    DUPLICATE = "duplicate_record"
    GEOGRAPHY = "unsupported_geography"
    NO_RESPONSE = "no_response"
    TIMING = "timing_not_active"
    BUDGET = "budget_not_realistic"

    @property
    def label(self) -> str:
        """The reason as a rep reads it in the inbox."""
        return _LABELS[self]

    @property
    def ends_nurture(self) -> bool:
        """Whether the lead should never be mailed again (not someone we can sell to)."""
        return self in _SUPPRESSING


_LABELS = {
    RejectReason.POOR_FIT: "Poor company fit",
    RejectReason.NOT_A_BUYER: "Student, vendor or competitor",
    RejectReason.NO_NEED: "No business need",
    RejectReason.WRONG_CONTACT: "Wrong contact role",
    RejectReason.DUPLICATE: "Duplicate record",
    RejectReason.GEOGRAPHY: "Unsupported geography",
    RejectReason.NO_RESPONSE: "No response after sequence",
    RejectReason.TIMING: "Timing not active",
    RejectReason.BUDGET: "Budget not realistic",
}
_SUPPRESSING = frozenset({RejectReason.POOR_FIT, RejectReason.NOT_A_BUYER,
                          RejectReason.GEOGRAPHY, RejectReason.DUPLICATE})


def parse_reason(text: str) -> RejectReason:
    """A reason from its code or its label (any case); the error lists the allowed codes."""
    folded = text.strip().lower()
    for reason in RejectReason:
        if folded in (reason.value, reason.label.lower()):
            return reason
    allowed = ", ".join(reason.value for reason in RejectReason)
    raise ValueError(f"unknown reject reason {text!r}; use one of: {allowed}")


class Feedback(BaseModel):
    """Sales' answer on an escalated lead (the lead workflow's `feedback` update).

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
