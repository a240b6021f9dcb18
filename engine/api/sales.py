"""The sales JSON API: `/sales/tasks` for reps, managers and their tools.

Every call carries `Authorization: Bearer <token>` (issue one with `nurture tasks token
USER`). A rep sees only the tasks they own — another rep's task answers 404, exactly like a
missing one — and a manager sees every task. Answers go to the lead's workflow, which
alone changes the task: 409 when it was already answered or the workflow refused, 503 (with
`Retry-After`) while Temporal is unreachable, and in both cases nothing changed.

Alerts (`kind=alert`) need no answer: their owner dismisses them (`POST
/sales/tasks/{id}/dismiss`), which takes them off the open list.

Task ids hold colons (`lead-42:escalation:7`); send them as they are or URL-encoded.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field

from engine.api.context import ApiContext
from engine.client import (
    NotSignedIn,
    SalesDesk,
    TaskDetail,
    Viewer,
    outcome_message,
    reject_reason,
    task_sla,
)
from engine.feedback import Feedback, FeedbackResult
from engine.store import SalesTaskRow

router = APIRouter(prefix="/sales", tags=["sales"])


class AcceptBody(BaseModel):
    """Accept the lead as sales-qualified."""

    model_config = ConfigDict(extra="forbid")

    note: str = Field(default="", max_length=4000)


class RejectBody(BaseModel):
    """Turn the lead down with a standard reason (`until` is needed for timing_not_active)."""

    model_config = ConfigDict(extra="forbid")

    reason: str | None = Field(default=None, description="A RejectReason value, e.g. "
                               "poor_fit, timing_not_active, budget_not_realistic")
    note: str = Field(default="", max_length=4000)
    until: date | None = None


class RecycleBody(BaseModel):
    """Give the lead back to nurture, resting until `until` if given."""

    model_config = ConfigDict(extra="forbid")

    until: date | None = None
    note: str = Field(default="", max_length=4000)


def _desk(request: Request) -> SalesDesk:
    ctx: ApiContext = request.app.state.nurture
    return ctx.desk


_BEARER = HTTPBearer(auto_error=False, scheme_name="sales token",
                     description="A sign-in token from `nurture tasks token USER`.")


async def signed_in(request: Request, credentials: Annotated[
        HTTPAuthorizationCredentials | None, Depends(_BEARER)]) -> Viewer:
    """The viewer the bearer token stands for; 401 without a valid one."""
    if credentials is None or not credentials.credentials.strip():
        raise NotSignedIn("missing bearer token: send 'Authorization: Bearer <token>' "
                          "(issue one with `nurture tasks token USER`)")
    viewer = await _desk(request).authenticate(credentials.credentials)
    if viewer is None:
        raise NotSignedIn("unknown or revoked token")
    return viewer


SignedIn = Annotated[Viewer, Depends(signed_in)]


def task_json(task: SalesTaskRow, now: datetime | None = None) -> dict[str, Any]:
    """A task as the API shows it, with its SLA in words while it is open."""
    body = task.model_dump(mode="json")
    body["sla"] = task_sla(task.status, task.due_at, now)
    return body


def detail_json(detail: TaskDetail) -> dict[str, Any]:
    """A task with its lead, both timelines and the lead's colleagues."""
    return {
        "task": task_json(detail.task),
        "lead": detail.lead.model_dump(mode="json") if detail.lead else None,
        "task_timeline": [e.model_dump(mode="json") for e in detail.task_timeline],
        "lead_timeline": detail.lead_timeline.model_dump(mode="json"),
        "related_contacts": detail.related,
    }


def _answer(result: FeedbackResult) -> dict[str, Any]:
    return {**result.model_dump(mode="json"), "message": outcome_message(result)}


@router.get("/tasks", summary="List sales tasks, soonest due first")
async def list_tasks(
    request: Request, viewer: SignedIn,
    status: Annotated[Literal["open", "accepted", "rejected", "recycled", "dismissed", "all"],
                      Query()] = "open",
    owner: Annotated[str | None, Query(max_length=200)] = None,
    tier: Annotated[int | None, Query(ge=1, le=3)] = None,
    kind: Annotated[Literal["escalation", "alert"], Query()] = "escalation",
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:
    """A rep's own tasks (asking for another owner's is 403), or any owner's for a manager."""
    page = await _desk(request).list(viewer, status=status, owner=owner, tier=tier, kind=kind,
                                     limit=limit, offset=offset)
    now = datetime.now(UTC)
    return {
        "tasks": [{**task.model_dump(mode="json"), "sla": task_sla(task.status, task.due_at, now)}
                  for task in page.tasks],
        "total": page.total, "limit": limit, "offset": offset,
        "viewer": {"user_id": viewer.user_id, "role": viewer.role},
    }


@router.post("/tasks/{task_id:path}/accept", summary="Accept the lead (it becomes an SQL)")
async def accept(request: Request, task_id: str, viewer: SignedIn,
                 body: Annotated[AcceptBody | None, Body()] = None) -> dict[str, Any]:
    """Accept the task's lead; the answer says what the workflow did."""
    feedback = Feedback(task_id=task_id, action="accept", note=(body or AcceptBody()).note)
    return _answer(await _desk(request).act(viewer, task_id, feedback))


@router.post("/tasks/{task_id:path}/reject", summary="Reject the lead with a standard reason")
async def reject(request: Request, task_id: str, viewer: SignedIn,
                 body: Annotated[RejectBody, Body()]) -> dict[str, Any]:
    """Reject with a reason; 422 names every allowed reason when it is not one of them."""
    feedback = Feedback(task_id=task_id, action="reject", reason=reject_reason(body.reason),
                        note=body.note, until=body.until)
    return _answer(await _desk(request).act(viewer, task_id, feedback))


@router.post("/tasks/{task_id:path}/recycle", summary="Give the lead back to nurture")
async def recycle(request: Request, task_id: str, viewer: SignedIn,
                  body: Annotated[RecycleBody | None, Body()] = None) -> dict[str, Any]:
    """Recycle the lead, resting until `until` when given."""
    given = body or RecycleBody()
    feedback = Feedback(task_id=task_id, action="recycle", until=given.until, note=given.note)
    return _answer(await _desk(request).act(viewer, task_id, feedback))


@router.post("/tasks/{task_id:path}/dismiss", summary="Dismiss one of your alerts")
async def dismiss(request: Request, task_id: str, viewer: SignedIn) -> dict[str, Any]:
    """Mark an alert read and done; it leaves the open list (`?kind=alert&status=dismissed`
    lists it). Only its owner may: another rep's alert is 404, an escalation 409."""
    return {"task": task_json(await _desk(request).dismiss(viewer, task_id))}


@router.get("/tasks/{task_id:path}", summary="One task with its handoff package and timelines")
async def get_task(request: Request, task_id: str, viewer: SignedIn) -> dict[str, Any]:
    """The task (handoff package included), its own timeline and the lead's timeline."""
    return detail_json(await _desk(request).detail(viewer, task_id))
