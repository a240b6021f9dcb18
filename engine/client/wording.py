"""The sales desk in words: reasons, SLAs, outcomes and timelines as a rep reads them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel

from engine.client.desk_errors import InvalidFeedback
from engine.feedback import Feedback, FeedbackResult, RejectReason, parse_reason
from engine.leads import LeadProfile
from engine.store import SalesTaskRow


class TimelineEntry(BaseModel):
    """One moment on a task's or a lead's timeline."""

    at: datetime
    kind: str
    detail: str = ""
    by: str = ""


def reject_reason(text: str | None) -> RejectReason:
    """The reject reason a rep typed or picked; `InvalidFeedback` names every allowed one."""
    allowed = [reason.value for reason in RejectReason]
    if not text or not text.strip():
        raise InvalidFeedback("a reject needs a reason", field="reason", allowed=allowed)
    try:
        return parse_reason(text)
    except ValueError:
        raise InvalidFeedback(f"unknown reject reason {text.strip()!r}", field="reason",
                              allowed=allowed) from None


def check_feedback(feedback: Feedback) -> None:
    """Refuse what no workflow could accept, before asking one: a reject without a reason,
    a timing reject without the date to come back."""
    if feedback.action == "reject" and feedback.reason is None:
        reject_reason(None)
    if feedback.reason == RejectReason.TIMING and feedback.until is None:
        raise InvalidFeedback("a 'timing not active' reject needs the date to come back "
                              "(until, YYYY-MM-DD)", field="until")


def task_timeline(task: SalesTaskRow) -> list[TimelineEntry]:
    """The task's own timeline (assigned, breached, re-routed, closed), oldest first."""
    entries = [TimelineEntry.model_validate(item) for item in (task.timeline or [])]
    return sorted(entries, key=lambda e: e.at)


def closed_message(task: SalesTaskRow, zone: str = "UTC") -> str:
    """How, when (in `zone`) and by whom a task was closed: "rejected (Duplicate record) on
    2026-01-05 09:30 UTC by ana"."""
    how = task.status
    if task.outcome_reason:
        try:
            how += f" ({RejectReason(task.outcome_reason).label})"
        except ValueError:
            how += f" ({task.outcome_reason})"
    when = (f" on {task.closed_at.astimezone(ZoneInfo(zone)):%Y-%m-%d %H:%M %Z}"
            if task.closed_at else "")
    by = f" by {task.closed_by}" if task.closed_by else ""
    return f"{how}{when}{by}"


def outcome_message(result: FeedbackResult) -> str:
    """What an answer did, for the rep's confirmation."""
    done = {"accepted": "Accepted", "rejected": "Rejected", "recycled": "Recycled"}
    text = done.get(result.status, result.status.capitalize())
    return f"{text}: {result.next_step}." if result.next_step else f"{text}."


def task_sla(status: str, due_at: datetime | None, now: datetime | None = None) -> str:
    """The SLA in words while the task is open; its status once it is closed."""
    return sla_text(due_at, now) if status == "open" else status


def sla_text(due_at: datetime | None, now: datetime | None = None) -> str:
    """The SLA as a rep reads it: "due in 23 min", "overdue by 1 h 5 min"."""
    if due_at is None:
        return "no SLA"
    left = due_at - (now or datetime.now(UTC))
    if left >= timedelta(0):
        return f"due in {_span(left)}"
    return f"overdue by {_span(-left)}"


def _span(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    parts = [f"{days} d"] if days else []
    if hours:
        parts.append(f"{hours} h")
    if minutes and not days:
        parts.append(f"{minutes} min")
    return " ".join(parts) or "0 min"


def display_name(profile: LeadProfile) -> str:
    """First and last name, else the email address."""
    name = " ".join(p for p in (profile.first_name, profile.last_name) if p)
    return name or profile.email


def summary(data: dict[str, Any], width: int = 160) -> str:
    """A timeline entry's data in one short line, cut at a word ("attended 48…", never
    "attended 48 minute…")."""
    text = ", ".join(f"{key}: {value}" for key, value in data.items()
                     if value not in (None, "", [], {}))
    if len(text) <= width:
        return text
    cut = text[:width - 1]
    if not text[width - 1].isspace() and " " in cut:
        cut = cut.rsplit(" ", 1)[0]
    return cut.rstrip(" ,;:") + "…"
