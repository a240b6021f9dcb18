"""The sales task's activities: open, alert, re-route, re-tier, note and close, each once
whatever the retries (the task id dedupes)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, TypeVar

from temporalio import activity

from engine.dsl.sales import SalesPolicy
from engine.errors import NurtureError
from engine.handoff import HandoffPackage
from engine.journey.state import TaskOwner
from engine.leads import PERSONAL_DOMAINS
from engine.routing import reroute, route
from engine.runtime.models import (
    CloseTaskInput,
    Done,
    OpenedTask,
    OpenTaskInput,
    RerouteInput,
    RetierInput,
    SalesTaskInput,
    TaskEventInput,
)
from engine.sla import due_at, follow_up_until, owner_hours
from engine.store import SalesTaskRow, Store

T = TypeVar("T")

class SalesTaskActivities:
    """The workflow's writes to the sales tasks, built with the store."""

    def __init__(self, *, store: Store) -> None:
        self.store = store

    @staticmethod
    async def _db(work: Callable[[], T]) -> T:
        return await asyncio.to_thread(work)

    @activity.defn(name="create_sales_task")
    async def create_sales_task(self, input: SalesTaskInput) -> Done:
        """Write the sales task once, whatever the retries."""
        handoff: dict[str, Any] = input.handoff.model_dump(mode="json") if input.handoff else {}
        opener = input.handoff.suggested_opener if input.handoff else ""

        def work() -> bool:
            if self.store.sales_task(input.task_id) is not None:
                return False  # a retry: the first attempt's owner stands
            owner, name, rule = None, None, ""
            if input.owner is not None:
                owner, name, rule = input.owner.rep_id, input.owner.name, "owner of the open task"
            elif input.routing is not None:
                chosen = route(input.lead, input.routing, self.store.open_task_counts(),
                               self.store.next_turn())
                owner, name, rule = (chosen.rep_id, input.routing.rep(chosen.rep_id).name,
                                     chosen.rule)
            return self.store.create_sales_task(
                id=input.task_id, lead_id=input.lead.id, kind=input.kind, tier=input.tier,
                reason=input.reason, opener=opener, handoff=handoff, now=input.now,
                due_at=input.due_at, owner=owner, owner_name=name, route_rule=rule)

        return Done(changed=await self._db(work))

    @activity.defn(name="open_sales_task")
    async def open_sales_task(self, input: OpenTaskInput) -> OpenedTask:
        """Route the escalation, set its SLA clocks, and write the task once.

        A retry finds the task already written and answers with what was stored, so the
        owner never changes between attempts.
        """
        policy, lead = input.policy, input.lead

        def stored() -> OpenedTask | None:
            row = self.store.sales_task(input.task_id)
            if row is None or row.due_at is None:
                return None
            return opened_from(row, policy, input.handoff.model_validate(row.handoff))

        def work() -> OpenedTask:
            existing = stored()
            if existing is not None:
                return existing
            owner = None
            if policy.routing is not None:
                assignment = route(lead, policy.routing, self.store.open_task_counts(),
                                   self.store.next_turn())
                owner = task_owner(policy, assignment.rep_id, assignment.rule)
            hours = owner_hours(policy.hours, owner.timezone if owner else None)
            due = due_at(input.tier, input.now, hours, policy.tiers)
            until = follow_up_until(input.now, hours, policy.tiers)
            handoff = input.handoff.model_copy(update={
                "owner": owner.name if owner else "", "due_at": due,
                "related_contacts": self._related(lead)})
            created = self.store.create_sales_task(
                id=input.task_id, lead_id=lead.id, kind="escalation", tier=input.tier,
                reason=handoff.qualification_reason, opener=handoff.suggested_opener,
                handoff=handoff.model_dump(mode="json"), now=input.now, due_at=due,
                owner=owner.rep_id if owner else None, owner_name=owner.name if owner else None,
                route_rule=owner.rule if owner else "", follow_up_until=until)
            if not created:  # another attempt got there first: its answer stands
                return stored() or OpenedTask(owner=owner, due_at=due, follow_up_until=until,
                                              handoff=handoff, created=False)
            return OpenedTask(owner=owner, due_at=due, follow_up_until=until, handoff=handoff)

        return await self._db(work)

    def _related(self, lead: Any) -> list[str]:
        """Other people at the lead's account, as "Name (title)", newest engagement first."""
        domain = (lead.company_domain or lead.email_domain).lower()
        if domain in PERSONAL_DOMAINS:
            return []
        related: list[str] = []
        for colleague in self.store.colleagues(lead.id, domain)[:10]:
            other = self.store.get_lead(colleague)
            if other is not None:
                related.append(other.full_name + (f" ({other.title})" if other.title else ""))
        return related

    @activity.defn(name="reroute_task")
    async def reroute_task(self, input: RerouteInput) -> OpenedTask:
        """Give a breached task to the next owner: the current owner's manager, else the
        least-loaded other rep. Only an open task moves; a retry does not move it twice."""
        policy = input.policy

        def work() -> OpenedTask:
            row = self.store.sales_task(input.task_id)
            if row is None:
                raise NurtureError(f"sales task {input.task_id} does not exist")
            if policy.routing is None or row.status != "open" or row.owner != input.current:
                return opened_from(row, policy)
            assignment = reroute(input.current or policy.routing.reps[0].id, policy.routing,
                                 self.store.open_task_counts())
            owner = task_owner(policy, assignment.rep_id, assignment.rule)
            assert owner is not None
            due = due_at(input.tier, input.now, owner_hours(policy.hours, owner.timezone),
                         policy.tiers)
            self.store.reassign_task(input.task_id, owner=owner.rep_id, owner_name=owner.name,
                                     rule=assignment.rule, due_at=due, at=input.now)
            fresh = self.store.sales_task(input.task_id)
            assert fresh is not None
            return opened_from(fresh, policy)

        return await self._db(work)

    @activity.defn(name="retier_task")
    async def retier_task(self, input: RetierInput) -> OpenedTask:
        """Raise an open task's urgency: the new tier's SLA counts from the hand-raise that
        re-tiers it (`input.now`); a deadline still ahead and sooner stands."""
        policy = input.policy

        def work() -> OpenedTask:
            hours = owner_hours(policy.hours, input.owner_timezone)
            due = due_at(input.tier, input.now, hours, policy.tiers)
            self.store.retier_task(input.task_id, tier=input.tier, due_at=due, at=input.now,
                                   detail=f"now tier {input.tier}: {input.reason}")
            row = self.store.sales_task(input.task_id)
            if row is None:
                raise NurtureError(f"sales task {input.task_id} does not exist")
            return opened_from(row, policy)

        return await self._db(work)

    @activity.defn(name="note_task")
    async def note_task(self, input: TaskEventInput) -> Done:
        """Record an SLA breach (or another moment) on the task's own timeline, once."""
        def work() -> bool:  # the store skips an entry it already has (a retry)
            if input.kind == "sla_breached":
                return self.store.breach_task(input.task_id, at=input.now, detail=input.detail)
            return self.store.note_task(input.task_id, kind=input.kind, detail=input.detail,
                                        at=input.now)

        return Done(changed=await self._db(work))

    @activity.defn(name="close_sales_task")
    async def close_sales_task(self, input: CloseTaskInput) -> Done:
        """Record sales' outcome on the task; a closed task is left as it is."""
        changed = await self._db(lambda: self.store.close_task(
            input.task_id, status=input.status, at=input.now, by=input.by,
            reason=input.reason, note=input.note, next_step=input.next_step,
            recycle_until=input.until, time_to_sql_seconds=input.time_to_sql_seconds))
        return Done(changed=changed)

    def all(self) -> list[Callable[..., Any]]:
        """Every activity, for a worker."""
        return [self.create_sales_task, self.open_sales_task, self.reroute_task,
                self.retier_task, self.note_task, self.close_sales_task]


def task_owner(policy: SalesPolicy, rep_id: str | None, rule: str) -> TaskOwner | None:
    """The owner a task shows for `rep_id`, with the zone their SLA clock runs in."""
    if rep_id is None or policy.routing is None:
        return None
    rep = next((r for r in policy.routing.reps if r.id == rep_id), None)
    if rep is None:  # a rep since removed from the rules keeps the tasks they hold
        return TaskOwner(rep_id=rep_id, name=rep_id, email="",
                         timezone=policy.hours.timezone, rule=rule)
    return TaskOwner(rep_id=rep.id, name=rep.name, email=rep.email,
                     timezone=rep.timezone or policy.hours.timezone, rule=rule)


def opened_from(row: SalesTaskRow, policy: SalesPolicy,
                handoff: HandoffPackage | None = None) -> OpenedTask:
    """A stored task as the workflow sees it: owner, clocks and (if given) the package."""
    assert row.due_at is not None  # escalations always have one
    return OpenedTask(owner=task_owner(policy, row.owner, row.route_rule), due_at=row.due_at,
                      follow_up_until=row.follow_up_until or row.due_at, handoff=handoff,
                      created=False)
