"""The sales desk: what a rep or manager may see of the sales tasks, and their answers.

Every sales surface (the JSON API, the inbox page, `nurture tasks`) goes through one
`SalesDesk`, so they agree on who sees what and on what an answer does:

    desk = SalesDesk(store, playbook, connect)
    viewer = await desk.authenticate(token)          # None: unknown or revoked token
    page = await desk.list(viewer, status="open")     # a rep sees only their own tasks
    result = await desk.act(viewer, task_id, Feedback(task_id=task_id, action="accept"))

Reads come from the database; an answer goes to the lead's workflow as the `feedback`
update, which alone changes the task. Errors (`desk_errors`) carry the HTTP status they
stand for; the wording a rep reads is in `wording`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel
from temporalio.client import (
    Client,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.service import RPCError, RPCStatusCode

from engine.client.desk_errors import (
    DeskUnavailable,
    FeedbackRefused,
    InvalidFeedback,
    NotAllowed,
    TaskClosed,
    TaskNotFound,
)
from engine.client.leads import give_feedback, lead_journal
from engine.client.timeline import behaviour, engine_moments
from engine.client.wording import (
    TimelineEntry,
    check_feedback,
    closed_message,
    display_name,
    task_timeline,
)
from engine.dsl.spec import PlaybookSpec
from engine.events import Event
from engine.feedback import Feedback, FeedbackResult
from engine.journey.state import JournalEntry
from engine.leads import LeadProfile
from engine.store import SalesTaskKind, SalesTaskRow, SalesTaskView, Store, TaskStatus

STATUSES = tuple(status.value for status in TaskStatus)
KINDS = tuple(kind.value for kind in SalesTaskKind)
MAX_PAGE = 200
TIMELINE_LIMIT = 200
_DOWN = frozenset({RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED,
                   RPCStatusCode.CANCELLED, RPCStatusCode.RESOURCE_EXHAUSTED})


@dataclass(frozen=True)
class Viewer:
    """Who is looking: a rep (own tasks only) or a manager (every task)."""

    user_id: str
    role: Literal["rep", "manager"] = "rep"

    @property
    def is_manager(self) -> bool:
        """Whether the viewer sees every task."""
        return self.role == "manager"


class TaskPage(BaseModel):
    """One page of tasks, soonest due first, and how many match in all."""

    tasks: list[SalesTaskView]
    total: int


class LeadTimeline(BaseModel):
    """The lead's timeline in a rep's words, oldest first: `kind` is "lead" for what the
    person did and "nurture" for what the engine did; `source` says whether the journal
    came from the workflow or, while Temporal is down, from the database."""

    source: Literal["workflow", "store"]
    entries: list[TimelineEntry]


@dataclass
class TaskDetail:
    """A task with everything a rep reads before answering it."""

    task: SalesTaskRow
    lead: LeadProfile | None
    task_timeline: list[TimelineEntry]
    lead_timeline: LeadTimeline
    related: list[str] = field(default_factory=list)


class SalesDesk:
    """Sales tasks as reps and managers see them, and their answers to the workflows."""

    def __init__(self, store: Store, playbook: PlaybookSpec,
                 connect: Callable[[], Awaitable[Client]], *, connect_timeout: float = 3.0,
                 query_timeout: float = 5.0, update_timeout: float = 30.0) -> None:
        self.store, self.playbook, self._connect = store, playbook, connect
        self.connect_timeout, self.query_timeout = connect_timeout, query_timeout
        self.update_timeout = update_timeout
        self._down_until = 0.0  # reads skip Temporal until then (monotonic clock)

    async def authenticate(self, token: str | None) -> Viewer | None:
        """The viewer a token stands for, or None for a missing, unknown or revoked one."""
        if not token:
            return None
        found = await asyncio.to_thread(self.store.token_user, token.strip())
        if found is None:
            return None
        user_id, role = found
        return Viewer(user_id, "manager" if role == "manager" or self._manages(user_id)
                      else "rep")

    def _manages(self, user_id: str) -> bool:
        routing = self.playbook.sales.routing
        return routing is not None and any(rep.id == user_id and rep.role == "manager"
                                           for rep in routing.reps)

    def timezone(self, viewer: Viewer) -> str:
        """The zone the viewer reads times in: theirs in the routing rules, else the
        playbook's business-hours zone."""
        routing = self.playbook.sales.routing
        rep = next((r for r in routing.reps if r.id == viewer.user_id), None) if routing else None
        return (rep.timezone if rep else None) or self.playbook.sales.hours.timezone

    async def get(self, viewer: Viewer, task_id: str) -> SalesTaskRow:
        """The task, if the viewer may see it; otherwise `TaskNotFound` (never 403)."""
        task = await asyncio.to_thread(self.store.sales_task, task_id)
        if task is None or not (viewer.is_manager or task.owner == viewer.user_id):
            raise TaskNotFound(f"no task {task_id!r}")
        return task

    async def detail(self, viewer: Viewer, task_id: str) -> TaskDetail:
        """The task, its lead, both timelines and the lead's colleagues on file."""
        task = await self.get(viewer, task_id)
        lead = await asyncio.to_thread(self.store.get_lead, task.lead_id)
        related = list(task.handoff.get("related_contacts") or [])
        if not related and lead is not None and lead.company_domain:
            related = await asyncio.to_thread(self._colleagues, lead)
        return TaskDetail(task=task, lead=lead, task_timeline=task_timeline(task),
                          lead_timeline=await self.timeline(task), related=related)

    def _colleagues(self, lead: LeadProfile) -> list[str]:
        names = []
        for other in self.store.colleagues(lead.id, lead.company_domain or "")[:10]:
            profile = self.store.get_lead(other)
            if profile is not None:
                names.append(f"{display_name(profile)}" + (f" ({profile.title})"
                                                           if profile.title else ""))
        return names

    async def timeline(self, task: SalesTaskRow) -> LeadTimeline:
        """The lead's timeline in a rep's words (`engine.client.timeline`): what the lead
        did, from the events accepted for it, and what nurture did, from its journal (the
        workflow's, or the lines written to the database while Temporal is down).

        After Temporal failed to answer, reads skip it for `retry_after` seconds, so a page
        never waits on a connection timeout twice in a row.
        """
        events = await asyncio.to_thread(self._events, task.lead_id)
        source: Literal["workflow", "store"] = "workflow"
        try:
            if time.monotonic() < self._down_until:
                raise DeskUnavailable("Temporal was unreachable a moment ago")
            client = await self._client()
            page = await asyncio.wait_for(
                lead_journal(client, task.lead_id, store=self.store, newest=TIMELINE_LIMIT),
                self.query_timeout)
            lines = page.entries
        except Exception as err:  # noqa: BLE001 - unreachable, timed out, no workflow: the store
            if isinstance(err, TimeoutError) or (isinstance(err, RPCError)
                                                 and err.status in _DOWN):
                self._down_until = time.monotonic() + DeskUnavailable.retry_after
            source = "store"
            rows = await asyncio.to_thread(self.store.lead_journal, task.lead_id,
                                           newest=TIMELINE_LIMIT)
            lines = [JournalEntry(seq=r.seq, at=r.at, kind=r.kind, data=r.data) for r in rows]
        entries = behaviour(events) + engine_moments(lines)
        entries.sort(key=lambda e: e.at)
        return LeadTimeline(source=source, entries=entries[-TIMELINE_LIMIT:])

    def _events(self, lead_id: str) -> list[Event]:
        """The lead's newest events: accepted over HTTP, or recorded by a simulation."""
        found = {e.id: e for e in self.store.events_for(lead_id, TIMELINE_LIMIT)}
        found |= {e.id: e for e in self.store.lead_events(lead_id, TIMELINE_LIMIT)}
        return sorted(found.values(), key=lambda e: e.at)[-TIMELINE_LIMIT:]

    async def act(self, viewer: Viewer, task_id: str, feedback: Feedback) -> FeedbackResult:
        """Send the answer to the lead's workflow; only the workflow changes the task."""
        task = await self.get(viewer, task_id)
        if task.status != "open":
            raise TaskClosed(f"task {task.id!r} was already {closed_message(task)}; "
                             "nothing changed")
        if task.kind != "escalation":
            raise FeedbackRefused(f"task {task_id!r} is an alert, not an escalation: there "
                                  "is nothing to accept, reject or recycle")
        check_feedback(feedback)
        feedback = feedback.model_copy(update={"task_id": task.id, "by": viewer.user_id})
        client = await self._client()
        try:
            return await asyncio.wait_for(give_feedback(client, task.lead_id, feedback),
                                          self.update_timeout)
        except WorkflowUpdateFailedError as err:
            cause = err.cause
            raise FeedbackRefused(getattr(cause, "message", None) or str(cause)) from None
        except (TimeoutError, WorkflowUpdateRPCTimeoutOrCancelledError):
            raise DeskUnavailable("the lead's workflow did not answer in time; the answer "
                                  "may still be applied — reload the task before "
                                  "retrying") from None
        except RPCError as err:
            if err.status == RPCStatusCode.NOT_FOUND:
                raise FeedbackRefused(f"the lead's workflow is not running ({err.message}); "
                                      "nothing changed") from None
            if err.status in _DOWN:
                self._down_until = time.monotonic() + DeskUnavailable.retry_after
            raise DeskUnavailable(f"Temporal could not take the answer: {err.message}; "
                                  "nothing changed") from None

    async def dismiss(self, viewer: Viewer, task_id: str) -> SalesTaskRow:
        """Mark an alert read and done: only its owner may, and it leaves the open list.

        Alerts need no answer and no workflow waits on them, so the store alone records
        it; an escalation is answered (accept, reject, recycle), never dismissed."""
        task = await self.get(viewer, task_id)
        if task.kind != "alert":
            raise FeedbackRefused(f"task {task_id!r} is an escalation: answer it (accept, "
                                  "reject or recycle) instead of dismissing it")
        if task.owner != viewer.user_id:
            raise NotAllowed(f"only the alert's owner ({task.owner or 'nobody'}) may dismiss "
                             "it; nothing changed")
        if task.status != "open":
            raise TaskClosed(f"alert {task.id!r} was already {closed_message(task)}; "
                             "nothing changed")
        if not await asyncio.to_thread(self.store.dismiss_alert, task.id,
                                       at=datetime.now(UTC), by=viewer.user_id):
            current = await self.get(viewer, task_id)  # dismissed a moment ago, elsewhere
            raise TaskClosed(f"alert {task.id!r} was already {closed_message(current)}; "
                             "nothing changed")
        return await self.get(viewer, task_id)

    async def _client(self) -> Client:
        try:
            return await asyncio.wait_for(self._connect(), self.connect_timeout)
        except Exception as err:  # noqa: BLE001 - any failure to connect means "not now"
            self._down_until = time.monotonic() + DeskUnavailable.retry_after
            raise DeskUnavailable(f"Temporal is unreachable ({err or type(err).__name__}); "
                                  "nothing changed — retry shortly") from None

    # Last, so `list` below does not shadow the builtin in the annotations above.
    async def list(self, viewer: Viewer, *, status: str = "open", owner: str | None = None,
                   tier: int | None = None, kind: str = "escalation", limit: int = 50,
                   offset: int = 0) -> TaskPage:
        """Tasks soonest due first; a rep sees only their own, and may not ask for others'."""
        if status not in (*STATUSES, "all"):
            raise InvalidFeedback(f"unknown status {status!r}", field="status",
                                  allowed=[*STATUSES, "all"])
        if kind not in KINDS:
            raise InvalidFeedback(f"unknown kind {kind!r}", field="kind", allowed=[*KINDS])
        if not viewer.is_manager:
            if owner not in (None, "", viewer.user_id):
                raise NotAllowed(f"{viewer.user_id} may list only their own tasks, "
                                 f"not {owner}'s")
            owner = viewer.user_id
        filters: dict[str, Any] = {"owner": owner or None,
                                   "status": None if status == "all" else status,
                                   "tier": tier, "kind": kind}
        limit = max(1, min(limit, MAX_PAGE))
        tasks = await asyncio.to_thread(self.store.list_sales_tasks, **filters, limit=limit,
                                        offset=max(offset, 0))
        total = await asyncio.to_thread(self.store.count_sales_tasks, **filters)
        return TaskPage(tasks=tasks, total=total)
