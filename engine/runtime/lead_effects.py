"""What a lead's workflow does to the world: every activity it calls, and why.

`LeadEffects` is the I/O half of `LeadWorkflow` (which inherits it): it records the lead's
position, sends its email, suppresses its address, opens, re-tiers, breaches, re-routes and
closes its sales task, and notifies the task's owner. The decisions themselves are pure and
live in `engine.journey`; activities are called by name, so no I/O code is imported here.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from engine.dsl.sales import NextStep
    from engine.dsl.spec import Action, NotifySalesAction, SuppressAction
    from engine.events import Event
    from engine.feedback import Feedback, FeedbackResult
    from engine.handoff import HandoffPackage
    from engine.journey import journal, migration, outbox
    from engine.journey import sales as sla
    from engine.journey.migration import MigrateRequest
    from engine.journey.state import LeadState, OpenEscalation
    from engine.leads import Phase
    from engine.runtime.messages import EventsSignal, workflow_id_for
    from engine.runtime.models import (
        CloseTaskInput,
        Done,
        JournalInput,
        OpenedTask,
        OpenTaskInput,
        PositionInput,
        RerouteInput,
        RetierInput,
        SalesTaskInput,
        SendEmailInput,
        SendEmailResult,
        SuppressInput,
        TaskEventInput,
        TaskNoticeInput,
    )

ACTIVITY_TIMEOUT = timedelta(seconds=60)
HEARTBEATS = "heartbeats"
"""Patch: remote activities are scheduled with `HEARTBEAT_TIMEOUT`."""
HEARTBEAT_TIMEOUT = timedelta(seconds=5)
"""A remote activity not heard from for this long is retried elsewhere: a killed worker's
email or sales task moves on within seconds, not after the minute-long timeout (the worker
heartbeats for every activity, `engine.runtime.heartbeat`)."""
RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), backoff_coefficient=2.0,
                    maximum_interval=timedelta(minutes=10))


async def call(name: str, arg: Any, result_type: type[Any] = Done, *,
               local: bool = False) -> Any:
    """Run an activity by name, so workflow code never imports I/O code; `local`: as a
    local activity, run by the worker inside the workflow task that calls it (its result
    recorded as a marker), which saves the server an activity task and a workflow task."""
    if local:
        return await workflow.execute_local_activity(
            name, arg, result_type=result_type, start_to_close_timeout=ACTIVITY_TIMEOUT,
            retry_policy=RETRY)
    # Runs from before the patch keep scheduling without a heartbeat timeout.
    heartbeat = HEARTBEAT_TIMEOUT if workflow.patched(HEARTBEATS) else None
    return await workflow.execute_activity(name, arg, result_type=result_type,
                                           start_to_close_timeout=ACTIVITY_TIMEOUT,
                                           heartbeat_timeout=heartbeat, retry_policy=RETRY)


class LeadEffects:
    """The activities a lead's life calls for, given its state."""

    s: LeadState
    _notices: list[asyncio.Task[Any]]
    _interrupt: Action | None
    _decision: tuple[Feedback, NextStep | None, FeedbackResult] | None

    _inbox: list[Event]
    _local: bool
    """The store's bookkeeping (`register_lead`, `record_position`, `record_journal`: quick,
    idempotent writes to the app database) runs as local activities in this run."""

    def _want(self, action: Action) -> None:
        raise NotImplementedError  # the workflow decides which interrupt wins

    def events(self, signal: EventsSignal) -> None:
        raise NotImplementedError  # the workflow's signal handler

    def _note(self, kind: str, **data: Any) -> None:
        journal.note(self.s, workflow.now(), kind, **data)

    def _set_phase(self, phase: str, reason: str) -> bool:
        return journal.set_phase(self.s, workflow.now(), phase, reason)

    async def _record_position(self) -> None:
        pos, lines = self.s.position, self._journal_lines()
        await call("record_position", PositionInput(
            lead_id=self.s.lead.id, phase=self.s.phase, track=pos.track if pos else None,
            step=pos.step if pos else None, playbook_version=self.s.playbook.version,
            now=workflow.now(), journal=lines), local=self._local)
        if lines is not None:
            journal.written(self.s, lines.lines)

    def _journal_lines(self) -> JournalInput | None:
        """The timeline lines not yet in the store (with constant cost), to write."""
        if not self.s.constant_cost:
            return None
        lines = journal.unwritten(self.s)
        return JournalInput(lead_id=self.s.lead.id, enrolled_at=self.s.enrolled_at,
                            lines=lines) if lines else None

    async def _write_journal(self, *, at_least: int = 1) -> bool:
        """Write the timeline lines not yet in the store, when there are `at_least`;
        whether any were written."""
        lines = self._journal_lines()
        if lines is None or len(lines.lines) < at_least:
            return False
        await call("record_journal", lines, local=self._local)
        journal.written(self.s, lines.lines)
        return True

    async def _deliver(self, key: str, template: str, ctx: dict[str, Any],
                       event: dict[str, Any], track: str, step: str) -> None:
        """Send one email (once per key); a suppressed or bounced address suppresses."""
        if self.s.phase == Phase.SUPPRESSED:
            return
        result: SendEmailResult = await call(
            "send_email",
            SendEmailInput(key=key, lead=self.s.lead, template=template, track=track,
                           step=step, ctx=ctx, event=event, now=workflow.now()),
            SendEmailResult)
        if result.status in ("sent", "already_sent"):
            outbox.sent(self.s, {"template": template, "subject": result.subject,
                                 "track": track, "step": step, "at": workflow.now(),
                                 "key": key})
            self._note("email", template=template, subject=result.subject, track=track)
        elif result.status in ("suppressed", "bounced"):
            self._want(SuppressAction(reason=result.detail or result.status))

    async def _flush_outbox(self) -> None:
        """Send the held trigger emails whose slot has come."""
        now = workflow.now()
        for pending in outbox.due(self.s, now):
            if self.s.phase == Phase.SUPPRESSED or self._interrupt is not None:
                return
            latest = outbox.send_time(self.s, now)
            if latest > now:
                pending.not_before = latest
                continue
            self.s.outbox.remove(pending)
            await self._deliver(pending.key, pending.template, pending.ctx, pending.event,
                                pending.track, pending.step)

    async def _suppress_address(self, reason: str) -> None:
        await call("suppress", SuppressInput(lead=self.s.lead, reason=reason,
                                             now=workflow.now()))

    async def _alert(self, action: NotifySalesAction) -> None:
        """Tell sales what the lead did: the open task's owner, or whom routing names."""
        s, now = self.s, workflow.now()
        open_task = s.escalation
        await call("create_sales_task", SalesTaskInput(
            task_id=f"{s.lead.id}:alert:{s.next_seq()}", lead=s.lead, kind="alert",
            tier=2, reason=action.reason, now=now,
            owner=open_task.owner if open_task else None, routing=s.playbook.sales.routing))
        s.alerts.append(f"{now.isoformat()} {action.reason}")

    async def _signal_committee(self, colleagues: list[str]) -> None:
        """Tell colleagues' workflows that another person from their account engaged."""
        now, me = workflow.now(), self.s.lead
        props = {"contact_id": me.id, "contact": me.full_name, "title": me.title or ""}
        for colleague in colleagues[:20]:
            event = Event(id=f"committee:{colleague}:{me.id}", type="buying_committee_signal",
                          at=now, properties=props)
            handle = workflow.get_external_workflow_handle(workflow_id_for(colleague))
            try:
                await handle.signal(type(self).events, EventsSignal(events=[event]))
            except Exception:  # noqa: BLE001 - a colleague without a live workflow is fine
                workflow.logger.info("colleague %s has no running workflow", colleague)
        self._inbox.append(Event(
            id=f"committee:{me.id}", type="buying_committee_signal", at=now,
            properties={"contacts": colleagues[:20]}))

    # --- what sales and ops ask -----------------------------------------------------------

    def _check_answer(self, answer: Feedback) -> None:
        """Refuse an answer the lead cannot take (nothing changes)."""
        refused = sla.refusal(self.s, answer, workflow.now().date(),
                              answered=self._decision is not None)
        if refused is not None:
            raise ApplicationError(refused, type="FeedbackRefused", non_retryable=True)

    async def _answered(self, answer: Feedback, status: str) -> FeedbackResult:
        """Close the task with the answer; the main loop carries it out."""
        result = await self._close_task(answer, status)
        self._decision = (answer, sla.plan_for(self.s, answer), result)
        return result

    def _check_move(self, request: MigrateRequest) -> migration.Move:
        """Where the lead would move, or a refusal (nothing changes)."""
        move = migration.plan(self.s, request)
        if isinstance(move, str):
            raise ApplicationError(move, type="MigrationRefused", non_retryable=True)
        return move

    # --- the sales task ---------------------------------------------------------------------

    async def _escalate(self, tier_hint: int | None, reason: str) -> None:
        """Hand the lead to sales: a new task, or a more urgent tier for the open one."""
        s = self.s
        if s.phase in (Phase.SUPPRESSED, Phase.SQL):
            return
        tier = sla.tier_for(s, tier_hint)
        if s.escalation is None:
            await self._open_task(tier, reason)
            return
        s.position = None  # already with sales: no second task, but maybe more urgent
        if tier < s.escalation.tier and s.escalation.stage != "closing":
            await self._retier(tier, reason)

    async def _open_task(self, tier: int, reason: str) -> None:
        """Route the task, start its SLA clock and tell its owner."""
        s, now = self.s, workflow.now()
        package = sla.handoff(s, tier, reason, now)
        task_id = f"{s.lead.id}:escalation:{s.next_seq()}"
        opened: OpenedTask = await call("open_sales_task", OpenTaskInput(
            task_id=task_id, lead=s.lead, tier=tier, handoff=package,
            policy=s.playbook.sales, now=now), OpenedTask)
        package = opened.handoff or package
        s.escalation = OpenEscalation(
            task_id=task_id, tier=tier, reason=package.qualification_reason,
            opener=package.suggested_opener, at=now, due_at=opened.due_at,
            owner=opened.owner, follow_up_until=opened.follow_up_until)
        s.sales_outcome = None
        self._note("escalation", tier=tier, reason=package.qualification_reason,
                   opener=package.suggested_opener, due_at=opened.due_at.isoformat(),
                   owner=opened.owner.rep_id if opened.owner else None,
                   rule=opened.owner.rule if opened.owner else None)
        s.position, s.outbox, s.resting_until = None, [], None
        self._set_phase(Phase.SALES, reason)
        await self._record_position()
        self._notify("assigned", package)

    def _notify(self, kind: str, package: HandoffPackage | None = None) -> None:
        """Tell the owner, without holding up the SLA clock if mail is slow or down."""
        escalation = self.s.escalation
        if escalation is None or escalation.owner is None:
            return
        escalation.notices += 1
        handoff = (package or sla.current_package(self.s, workflow.now())).model_copy(
            update={"owner": escalation.owner.name, "due_at": escalation.due_at})
        notice = TaskNoticeInput(
            task_id=escalation.task_id, lead=self.s.lead, kind=kind,  # type: ignore[arg-type]
            owner=escalation.owner, tier=escalation.tier, due_at=escalation.due_at,
            handoff=handoff, notice=escalation.notices, now=workflow.now())
        self._notices = [t for t in self._notices if not t.done()]
        self._notices.append(asyncio.ensure_future(call("notify_owner", notice)))

    async def _retier(self, tier: int, reason: str) -> None:
        """The lead raised its hand while its task waited: same owner, sooner answer."""
        escalation, now = self.s.escalation, workflow.now()
        assert escalation is not None
        changed: OpenedTask = await call("retier_task", RetierInput(
            task_id=escalation.task_id, tier=tier,
            owner_timezone=escalation.owner.timezone if escalation.owner else None,
            policy=self.s.playbook.sales, reason=reason, now=now), OpenedTask)
        if self.s.escalation is not escalation or escalation.stage == "closing":
            return  # an answer arrived meanwhile
        before = escalation.tier
        escalation.tier, escalation.due_at = tier, changed.due_at
        escalation.stage, escalation.reroute_at = "due", None
        self._note("retiered", task=escalation.task_id, **{"from": before}, to=tier,
                   reason=reason, due_at=changed.due_at.isoformat())
        self._notify("assigned")  # the owner hears about the new urgency at once

    async def _breach(self) -> None:
        now = workflow.now()
        detail = sla.breach(self.s, now)
        assert self.s.escalation is not None
        await call("note_task", TaskEventInput(task_id=self.s.escalation.task_id,
                                               kind="sla_breached", detail=detail, now=now))
        self._notify("breached")

    async def _reroute(self) -> None:
        s, now = self.s, workflow.now()
        escalation = s.escalation
        assert escalation is not None
        moved: OpenedTask = await call("reroute_task", RerouteInput(
            task_id=escalation.task_id, tier=escalation.tier,
            current=escalation.owner.rep_id if escalation.owner else None,
            policy=s.playbook.sales, now=now), OpenedTask)
        if s.escalation is not escalation or escalation.stage == "closing":
            return  # an answer arrived while the task was moving
        before = escalation.owner.rep_id if escalation.owner else None
        escalation.owner, escalation.due_at = moved.owner, moved.due_at
        escalation.stage, escalation.reroute_at = "due", None
        escalation.reroutes += 1
        self._note("rerouted", task=escalation.task_id, **{"from": before},
                   to=moved.owner.rep_id if moved.owner else None,
                   rule=moved.owner.rule if moved.owner else None,
                   due_at=moved.due_at.isoformat())
        self._notify("rerouted")

    async def _close_task(self, answer: Feedback, status: str) -> FeedbackResult:
        """Record the answer on the task; the caller hears back only once it is stored."""
        s, now = self.s, workflow.now()
        assert s.escalation is not None
        s.escalation.stage = "closing"
        plan = sla.plan_for(s, answer)
        result = sla.result_of(s, answer, plan, status, now)
        await call("close_sales_task", CloseTaskInput(
            task_id=answer.task_id, status=status,  # type: ignore[arg-type]
            reason=answer.reason.value if answer.reason else None, note=answer.note,
            by=answer.by, until=answer.until, next_step=result.next_step,
            time_to_sql_seconds=result.time_to_sql_seconds, now=now))
        s.sales_outcome = result
        return result
