"""What the inbox's pages show: task rows for the list, a task's handoff package and
timelines, and an answer form read as feedback."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from engine.client import (
    InvalidFeedback,
    TaskDetail,
    closed_message,
    display_name,
    reject_reason,
    task_sla,
)
from engine.dsl.spec import PlaybookSpec
from engine.feedback import Feedback, RejectReason
from engine.phrasing import source_label
from engine.store import SalesTaskView

_HANDOFF = [("source", "Source"), ("campaign", "Campaign"),
            ("last_meaningful_action", "Last meaningful action"),
            ("content_engaged", "Content engaged"), ("likely_pain", "Likely pain"),
            ("buying_role", "Buying role"), ("company_fit", "Company fit"),
            ("engagement_pattern", "Engagement pattern"),
            ("escalation_reason", "Why it was escalated")]


def task_url(task_id: str) -> str:
    """Where the inbox shows a task (the id's colons stay readable)."""
    return "/inbox/tasks/" + quote(task_id, safe=":@")


def list_rows(tasks: list[SalesTaskView], zone: str, now: datetime) -> list[dict[str, Any]]:
    """The list page's rows: each task with its link, SLA and times in the viewer's zone."""
    return [{"task": t, "url": task_url(t.id), "sla": task_sla(t.status, t.due_at, now),
             "overdue": t.status == "open" and t.due_at is not None and t.due_at < now,
             "due": _when(t.due_at, zone), "created": _when(t.created_at, zone)}
            for t in tasks]


def task_view(playbook: PlaybookSpec, detail: TaskDetail, zone: str) -> dict[str, Any]:
    """The task page: the handoff package, what each answer leads to, and both timelines."""
    task, lead = detail.task, detail.lead
    handoff = task.handoff or {}
    sales = playbook.sales
    rows: list[tuple[str, Any]] = [
        (label, source_label(handoff.get(key)) if key == "source" else handoff.get(key))
        for key, label in _HANDOFF]
    recycle = handoff.get("recycle_path") or (sales.on_recycle.describe() if sales.on_recycle
                                              else "back to nurture where the lead left off")
    rows += [("Related contacts", detail.related), ("Recycle path", recycle)]
    scores = handoff.get("scores") or {}
    if scores:
        rows.append(("Scores", ", ".join(f"{k} {v:g}" for k, v in scores.items()
                                         if isinstance(v, int | float))))
    reasons = []
    for reason in RejectReason:
        then = sales.after_reject(reason)
        reasons.append({"value": reason.value, "label": reason.label,
                        "then": then.describe() if then else "back to nurture"})
    return {
        "task": task, "lead": lead, "url": task_url(task.id),
        "name": display_name(lead) if lead else task.lead_id,
        "handoff": [(k, v) for k, v in rows if v],
        "qualification": task.reason or handoff.get("qualification_reason", ""),
        "opener": task.opener or handoff.get("suggested_opener", ""),
        "sla": task_sla(task.status, task.due_at),
        "overdue": task.status == "open" and task.due_at is not None
        and task.due_at < datetime.now(UTC),
        "due": _when(task.due_at, zone), "created": _when(task.created_at, zone),
        "closed": _sentence(closed_message(task, zone)) if task.status != "open" else None,
        "task_timeline": [(_when(e.at, zone), e) for e in reversed(detail.task_timeline)],
        "lead_timeline": [(_when(e.at, zone), e)
                          for e in reversed(detail.lead_timeline.entries)],
        "timeline_source": detail.lead_timeline.source,
        "reasons": reasons, "actionable": task.status == "open" and task.kind == "escalation",
        "tomorrow": (datetime.now(UTC) + timedelta(days=1)).date().isoformat(),
    }


def reps(playbook: PlaybookSpec) -> list[tuple[str, str]]:
    """The routing rules' reps as (id, name), for a manager's owner filter."""
    routing = playbook.sales.routing
    return [(rep.id, rep.name) for rep in routing.reps] if routing else []


def read_feedback(task_id: str, action: str, form: dict[str, str]) -> Feedback:
    """An answer form (accept, reject or recycle) as the feedback the desk acts on."""
    note = form.get("note", "").strip()[:4000]
    until_text = form.get("until", "").strip()
    try:
        until = date.fromisoformat(until_text) if until_text else None
    except ValueError:
        raise InvalidFeedback(f"{until_text!r} is not a date (YYYY-MM-DD)",
                              field="until") from None
    if action == "accept":
        return Feedback(task_id=task_id, action="accept", note=note)
    if action == "reject":
        return Feedback(task_id=task_id, action="reject", note=note, until=until,
                        reason=reject_reason(form.get("reason")))
    return Feedback(task_id=task_id, action="recycle", note=note, until=until)


def _when(moment: datetime | None, zone: str) -> str:
    return moment.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M %Z") if moment else ""


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]
