"""The lead workflow: one durable, long-lived entity per lead that interprets its playbook.

It waits (durable timers), listens (the `events` signal), reacts at once (triggers beat the
clock), scores, sends through activities, escalates to sales, and continues-as-new to keep
each run's history small. It never reads a clock other than `workflow.now()`.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from engine.business_hours import BusinessHours
    from engine.cadence import lead_zone, next_send_time
    from engine.dsl.conditions import evaluate, event_matches
    from engine.dsl.sales import NextStep
    from engine.dsl.spec import (
        Action,
        BranchStep,
        EscalateAction,
        EscalateStep,
        EventBranch,
        ExitStep,
        MoveAction,
        MoveStep,
        NotifySalesAction,
        SendAction,
        SendStep,
        Step,
        SuppressAction,
        SuppressStep,
        WaitForStep,
        WaitStep,
    )
    from engine.events import EMAIL_BOUNCED, UNSUBSCRIBED, Event
    from engine.feedback import RejectReason
    from engine.handoff import HandoffPackage, build_handoff
    from engine.leads import NURTURE_PHASES, Phase
    from engine.runtime import reactions as r
    from engine.runtime.models import (
        CloseTaskInput,
        Done,
        EventsSignal,
        Feedback,
        FeedbackResult,
        JournalEntry,
        JournalPage,
        JournalQuery,
        LeadSnapshot,
        LeadState,
        LeadWorkflowInput,
        OpenedTask,
        OpenEscalation,
        OpenTaskInput,
        PendingSend,
        Position,
        PositionInput,
        RegisterLeadInput,
        RegisterLeadResult,
        RerouteInput,
        RetierInput,
        SalesTaskInput,
        SendEmailInput,
        SendEmailResult,
        SentEmail,
        SuppressInput,
        TaskEventInput,
        TaskNoticeInput,
    )
    from engine.scoring import is_mql, readiness
    from engine.sla import owner_hours, reroute_at

ACTIVITY_TIMEOUT = timedelta(seconds=60)
RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), backoff_coefficient=2.0,
                    maximum_interval=timedelta(minutes=10))
_TIMEOUT, _INTERRUPT, _ROLL_OVER = "timeout", "interrupt", "continue_as_new"
_PRIORITY = {"suppress": 0, "escalate": 1, "move": 2}
_STATUS = {"accept": "accepted", "reject": "rejected", "recycle": "recycled"}


class _ContinueAsNew(Exception):
    """Raised inside a step to roll over to a fresh run at a safe point."""


async def _call(name: str, arg: Any, result_type: type[Any] = Done) -> Any:
    """Run an activity by name, so this module never imports I/O code."""
    return await workflow.execute_activity(name, arg, result_type=result_type,
                                           start_to_close_timeout=ACTIVITY_TIMEOUT,
                                           retry_policy=RETRY)


def workflow_id_for(lead_id: str) -> str:
    """The deterministic workflow id of a lead."""
    return f"lead:{lead_id}"


@workflow.defn(name="Lead")
class LeadWorkflow:
    """One lead's whole nurture life."""

    @workflow.init
    def __init__(self, input: LeadWorkflowInput) -> None:
        if input.state is not None:
            self.s = input.state
        else:
            self.s = LeadState(lead=input.lead, playbook=input.playbook,
                               enrolled_at=workflow.now())
        self._fresh = input.state is None
        self._history_limit = input.history_limit
        self._inbox: list[Event] = list(self.s.inbox)
        self.s.inbox = []
        self._interrupt: Action | None = None
        self._listening: list[EventBranch] = []
        self._matched: EventBranch | None = None
        self._side: list[tuple[Action, Event]] = []
        self._rescore = False
        self._decision: tuple[Feedback, NextStep | None, FeedbackResult] | None = None
        self._notices: list[asyncio.Task[Any]] = []

    # --- handlers ------------------------------------------------------------------------

    @workflow.signal
    def events(self, signal: EventsSignal) -> None:
        """Behavioral events arrive here; they are applied by the main loop, in order."""
        if signal.profile is not None and signal.profile.id == self.s.lead.id \
                and signal.profile != self.s.lead:
            changed = sorted(k for k, v in signal.profile.model_dump().items()
                             if getattr(self.s.lead, k) != v)
            self.s.lead = signal.profile
            self._note("profile", changed=changed)
            self._rescore = True
        self._inbox.extend(signal.events)

    @workflow.query
    def state(self) -> LeadSnapshot:
        """The lead as it is now."""
        s, pos = self.s, self.s.position
        track = s.playbook.tracks.get(pos.track) if pos else None
        return LeadSnapshot(
            lead=s.lead, phase=s.phase, track=pos.track if pos else None,
            step=pos.step if pos else None, playbook_version=s.playbook.version,
            track_version=track.version if track else None, scores=s.scores,
            readiness=readiness(s.scores, s.playbook.scoring),
            mql=s.mql_at is not None, recent_events=s.events[-20:][::-1],
            event_count=s.event_count, emails=s.emails[-50:], escalation=s.escalation,
            alerts=s.alerts[-20:], committee=s.committee, sales_outcome=s.sales_outcome,
            resting_until=s.resting_until,
            suppressed_reason=s.suppressed_reason, enrolled_at=s.enrolled_at, runs=s.runs,
        )

    @workflow.query
    def journal(self, query: JournalQuery) -> JournalPage:
        """Timeline entries after a sequence number."""
        entries = [e for e in self.s.journal if e.seq > query.after_seq]
        return JournalPage(enrolled_at=self.s.enrolled_at, entries=entries)

    @workflow.update
    async def feedback(self, answer: Feedback) -> FeedbackResult:
        """Sales' answer on the open task: accept, reject with a reason, or recycle.

        The answer is checked first (the validator); a refused one changes nothing. The
        task is closed in the store before the caller hears back; the lead's next step
        (SQL, suppression, another track, or a rest until a date) follows at once.
        """
        self._check_answer(answer)
        return await self._close(answer, _STATUS[answer.action])

    async def _close(self, answer: Feedback, status: str) -> FeedbackResult:
        """Close the open task with `answer` (stored before anyone hears back) and leave
        the lead's next step to the main loop."""
        s, now = self.s, workflow.now()
        escalation = s.escalation
        assert escalation is not None
        escalation.stage = "closing"
        plan = self._plan(answer)
        to_sql = (now - s.enrolled_at).total_seconds() if answer.action == "accept" else None
        next_step = "sales qualified lead: marketing nurture ends" if plan is None \
            else plan.describe()
        await _call("close_sales_task", CloseTaskInput(
            task_id=answer.task_id, status=status,
            reason=answer.reason.value if answer.reason else None, note=answer.note,
            by=answer.by, until=answer.until, next_step=next_step,
            time_to_sql_seconds=to_sql, now=now))
        result = FeedbackResult(task_id=answer.task_id, status=status, next_step=next_step,
                                phase=self._phase_after(plan, answer.until), at=now,
                                time_to_sql_seconds=to_sql)
        s.sales_outcome = result
        self._decision = (answer, plan, result)
        return result

    @feedback.validator
    def _validate_feedback(self, answer: Feedback) -> None:
        self._check_answer(answer)

    def _check_answer(self, answer: Feedback) -> None:
        escalation, outcome = self.s.escalation, self.s.sales_outcome
        if escalation is None or escalation.task_id != answer.task_id:
            if outcome is not None and outcome.task_id == answer.task_id:
                raise ApplicationError(
                    f"task {answer.task_id} was already {outcome.status} at "
                    f"{outcome.at.isoformat(timespec='minutes')}; nothing changed",
                    type="FeedbackRefused", non_retryable=True)
            raise ApplicationError(f"task {answer.task_id} is not open for this lead",
                                   type="FeedbackRefused", non_retryable=True)
        if escalation.stage == "closing" or self._decision is not None:
            raise ApplicationError(f"task {answer.task_id} already has an outcome",
                                   type="FeedbackRefused", non_retryable=True)
        if answer.action == "reject" and answer.reason is None:
            allowed = ", ".join(r.value for r in RejectReason)
            raise ApplicationError(f"a reject needs a reason: one of {allowed}",
                                   type="FeedbackRefused", non_retryable=True)
        plan = self._plan(answer)
        if plan is not None and plan.needs_date and answer.until is None:
            raise ApplicationError(
                f"{answer.reason.label if answer.reason else 'recycle'} needs the date to "
                "reactivate the lead on (until)", type="FeedbackRefused", non_retryable=True)
        if answer.until is not None and answer.until <= workflow.now().date():
            raise ApplicationError(f"until ({answer.until}) must be a future date",
                                   type="FeedbackRefused", non_retryable=True)

    def _plan(self, answer: Feedback) -> NextStep | None:
        """The playbook's next step for an answer; None for accept (the lead is an SQL)."""
        sales = self.s.playbook.sales
        if answer.action == "accept":
            return None
        if answer.action == "recycle":
            return sales.on_recycle or NextStep(action="reactivate",
                                                track=self.s.playbook.default_track)
        assert answer.reason is not None
        return sales.after_reject(answer.reason) or NextStep(
            action="move", track=self.s.playbook.default_track)

    def _phase_after(self, plan: NextStep | None, until: date | None) -> str:
        if plan is None:
            return Phase.SQL
        if plan.action == "suppress":
            return Phase.SUPPRESSED
        if plan.action == "reactivate" and until is not None:
            return Phase.RECYCLED
        return self.s.playbook.track(plan.track or self.s.playbook.default_track).phase

    # --- main loop -----------------------------------------------------------------------

    @workflow.run
    async def run(self, input: LeadWorkflowInput) -> None:
        """Run until the lead's history needs a fresh run; a lead's workflow never 'finishes'."""
        if self._fresh:
            await self._enroll()
        try:
            while True:
                await self._drain()
                if self._interrupt is not None:
                    action, self._interrupt = self._interrupt, None
                    await self._perform(action)
                    continue
                if self._decision is not None:
                    await self._follow_decision()
                    continue
                if self.s.phase == Phase.SALES and self.s.escalation is not None:
                    await self._sales_wait()
                    continue
                if self.s.phase == Phase.RECYCLED and self.s.resting_until is not None:
                    await self._rest()
                    continue
                step = self._current_step()
                if step is not None:
                    await self._run_step(step)
                elif await self._sleep(None) == _ROLL_OVER:
                    raise _ContinueAsNew()
        except _ContinueAsNew:
            pass
        await workflow.wait_condition(workflow.all_handlers_finished)
        if self._notices:
            await asyncio.gather(*self._notices)
        self.s.inbox = self._inbox
        self.s.runs += 1
        workflow.continue_as_new(LeadWorkflowInput(
            lead=self.s.lead, playbook=self.s.playbook, state=self.s,
            history_limit=self._history_limit))

    async def _enroll(self) -> None:
        now = workflow.now()
        self._note("enrolled", source=self.s.lead.source or "unknown",
                   playbook=self.s.playbook.version)
        registered: RegisterLeadResult = await _call(
            "register_lead", RegisterLeadInput(lead=self.s.lead, now=now), RegisterLeadResult)
        self.s.scores = r.rescore(self.s, now)
        self._note_scores(None)
        if registered.suppressed_reason:
            await self._suppress(registered.suppressed_reason)
            return
        if registered.colleagues:
            await self._signal_committee(registered.colleagues)
        first = r.entry_track(self.s.playbook, self.s, now)
        await self._move(first, f"entry: source {self.s.lead.source or 'unknown'}",
                         roll_over=False)

    async def _signal_committee(self, colleagues: list[str]) -> None:
        """Tell colleagues' workflows that another person from their account engaged."""
        now, me = workflow.now(), self.s.lead
        props = {"contact_id": me.id, "contact": me.full_name, "title": me.title or ""}
        for colleague in colleagues[:20]:
            event = Event(id=f"committee:{colleague}:{me.id}", type="buying_committee_signal",
                          at=now, properties=props)
            handle = workflow.get_external_workflow_handle(workflow_id_for(colleague))
            try:
                await handle.signal(LeadWorkflow.events, EventsSignal(events=[event]))
            except Exception:  # noqa: BLE001 - a colleague without a live workflow is fine
                workflow.logger.info("colleague %s has no running workflow", colleague)
        self._inbox.append(Event(
            id=f"committee:{me.id}", type="buying_committee_signal", at=now,
            properties={"contacts": colleagues[:20]}))

    # --- events --------------------------------------------------------------------------

    async def _drain(self) -> None:
        """Apply every pending event, then run the side actions they triggered."""
        if self._rescore:
            self._rescore = False
            before = self.s.scores
            self.s.scores = r.rescore(self.s, workflow.now())
            self._note_scores(before)
            self._check_ready()
        while self._inbox or self._side:
            while self._inbox:
                self._apply(self._inbox.pop(0))
            while self._side:
                action, event = self._side.pop(0)
                await self._side_action(action, event)

    def _apply(self, event: Event) -> None:
        s, now = self.s, workflow.now()
        if not r.accept(s, event):
            return
        if event.type == "buying_committee_signal" and "contact_id" in event.properties:
            contact = str(event.properties["contact_id"])
            if contact not in s.committee:
                s.committee.append(contact)
        before = s.scores
        s.scores = r.rescore(s, now)
        self._note_scores(before)
        if s.phase == Phase.SUPPRESSED:
            return
        if event.type == UNSUBSCRIBED:
            self._want(SuppressAction(reason="unsubscribed"))
            return
        if event.type == EMAIL_BOUNCED and event.properties.get("hard", True):
            self._want(SuppressAction(reason="hard bounce"))
            return
        for trigger in r.triggers_for(s, event, now):
            s.fired[trigger.name] = now
            for action in trigger.actions:
                if s.phase == Phase.RECYCLED and action.kind != "escalate":
                    continue  # a resting lead gets no email; a hand-raise still counts
                if s.phase == Phase.SALES and action.kind not in r.SALES_ACTIONS:
                    continue  # with sales: no email, but the owner hears what happens
                if action.kind in _PRIORITY:
                    self._want(action)
                else:
                    self._side.append((action, event))
        if self._listening and self._matched is None:
            self._matched = next((b for b in self._listening
                                  if event_matches(event, b.on, b.where)), None)
        self._check_ready()

    def _check_ready(self) -> None:
        s = self.s
        tier = readiness(s.scores, s.playbook.scoring)
        if tier is not None and s.phase in NURTURE_PHASES and s.escalation is None:
            self._want(EscalateAction(tier=tier, reason="sales-ready by score"))

    def _want(self, action: Action) -> None:
        """Keep the most decisive interrupt: suppress beats escalate beats move, and of two
        escalations the more urgent tier (a demo request outranks a score crossing)."""
        current = self._interrupt
        if current is None or _PRIORITY[action.kind] < _PRIORITY[current.kind]:
            self._interrupt = action
        elif isinstance(action, EscalateAction) and isinstance(current, EscalateAction) \
                and (action.tier or 4) < (current.tier or 4):
            self._interrupt = action

    async def _side_action(self, action: Action, event: Event) -> None:
        if isinstance(action, SendAction):
            track = self.s.position.track if self.s.position else "(playbook)"
            self.s.seq += 1
            self.s.outbox.append(PendingSend(
                key=f"{self.s.lead.id}:trigger:{action.template}:{self.s.seq}",
                template=action.template, ctx=action.ctx,
                event={"type": event.type, "properties": event.properties},
                track=track, step=f"trigger:{event.type}",
                not_before=self._send_time()))
        elif isinstance(action, NotifySalesAction):
            self.s.seq += 1
            now = workflow.now()
            open_task = self.s.escalation
            await _call("create_sales_task", SalesTaskInput(
                task_id=f"{self.s.lead.id}:alert:{self.s.seq}", lead=self.s.lead, kind="alert",
                tier=2, reason=action.reason, now=now,
                owner=open_task.owner if open_task else None,
                routing=self.s.playbook.sales.routing))
            self.s.alerts.append(f"{now.isoformat()} {action.reason}")

    # --- waiting -------------------------------------------------------------------------

    async def _sleep(self, deadline: datetime | None) -> str:
        """Wait until `deadline`, an interrupt, a matched event or a needed roll-over."""
        while True:
            await self._drain()
            await self._flush_outbox()
            if self._interrupt is not None:
                return _INTERRUPT
            if self._matched is not None or self._decision is not None:
                return _INTERRUPT
            now = workflow.now()
            silence = r.silence_deadline(self.s)
            if silence is not None and now >= silence and self.s.playbook.silence:
                self._want(MoveAction(track=self.s.playbook.silence.track,
                                      reason="no engagement for "
                                             f"{self.s.playbook.silence.after.days} days"))
                return _INTERRUPT
            if deadline is not None and now >= deadline:
                return _TIMEOUT
            if self._needs_roll_over():
                return _ROLL_OVER
            wakes = [t for t in (deadline, silence, *(p.not_before for p in self.s.outbox))
                     if t is not None]
            wake = min(wakes) if wakes else None
            try:
                await workflow.wait_condition(
                    lambda: bool(self._inbox) or self._rescore or self._needs_roll_over()
                    or self._decision is not None,
                    timeout=max(wake - now, timedelta(seconds=1)) if wake else None)
            except TimeoutError:
                pass

    def _needs_roll_over(self) -> bool:
        info = workflow.info()
        return info.is_continue_as_new_suggested() or \
            info.get_current_history_length() > self._history_limit

    async def _flush_outbox(self) -> None:
        now = workflow.now()
        for pending in [p for p in self.s.outbox if p.not_before <= now]:
            if self.s.phase == Phase.SUPPRESSED or self._interrupt is not None:
                return
            latest = self._send_time()
            if latest > now:
                pending.not_before = latest
                continue
            self.s.outbox.remove(pending)
            await self._deliver(pending.key, pending.template, pending.ctx, pending.event,
                                pending.track, pending.step)

    def _send_time(self) -> datetime:
        cadence = self.s.playbook.cadence
        return next_send_time(workflow.now(), [e.at for e in self.s.emails], cadence,
                              lead_zone(self.s.lead.timezone, cadence))

    # --- steps ---------------------------------------------------------------------------

    def _current_step(self) -> Step | None:
        track = r.current_track(self.s)
        if track is None or self.s.phase not in NURTURE_PHASES or self.s.position is None:
            return None
        return track.step(self.s.position.step)

    def _goto(self, step_id: str | None) -> None:
        assert self.s.position is not None and step_id is not None
        self.s.seq += 1
        self.s.position = self.s.position.model_copy(
            update={"step": step_id, "seq": self.s.seq, "deadline": None})

    def _deadline(self, duration: timedelta) -> datetime:
        pos = self.s.position
        assert pos is not None
        if pos.deadline is None:
            self.s.position = pos.model_copy(update={"deadline": workflow.now() + duration})
        return self.s.position.deadline  # type: ignore[union-attr,return-value]

    async def _run_step(self, step: Step) -> None:
        pos = self.s.position
        assert pos is not None
        if isinstance(step, SendStep):
            until = self._deadline(self._send_time() - workflow.now())
            outcome = await self._sleep(until)
            if outcome == _ROLL_OVER:
                raise _ContinueAsNew()
            if outcome == _TIMEOUT:
                later = self._send_time()
                if later > workflow.now():  # a trigger's email took the slot meanwhile
                    self.s.position = pos.model_copy(update={"deadline": later})
                    return
                await self._deliver(f"{self.s.lead.id}:{pos.track}:{step.id}:{pos.seq}",
                                    step.template, step.ctx, {}, pos.track, step.id)
                self._goto(step.next)
        elif isinstance(step, WaitStep | WaitForStep):
            timeout = step.duration if isinstance(step, WaitStep) else step.timeout
            self._listening = step.branches if isinstance(step, WaitForStep) else []
            outcome = await self._sleep(self._deadline(timeout))
            matched, self._listening, self._matched = self._matched, [], None
            if outcome == _ROLL_OVER:
                raise _ContinueAsNew()
            if self._interrupt is not None:
                return
            if matched is not None:
                self._goto(matched.next)
            elif outcome == _TIMEOUT:
                self._goto(step.next if isinstance(step, WaitStep) else step.on_timeout)
        elif isinstance(step, BranchStep):
            snapshot = r.facts(self.s, workflow.now())
            chosen = next((c.next for c in step.cases if evaluate(c.when, snapshot)),
                          step.otherwise)
            self._goto(chosen)
        elif isinstance(step, MoveStep):
            await self._move(step.track, step.reason)
        elif isinstance(step, EscalateStep):
            await self._escalate(step.tier, step.reason)
        elif isinstance(step, SuppressStep):
            await self._suppress(step.reason)
        elif isinstance(step, ExitStep):
            self._set_phase(Phase.EXITED, step.reason)
            self._note("exit", reason=step.reason, track=pos.track)
            self.s.position = None
            await self._record_position()

    async def _perform(self, action: Action) -> None:
        if isinstance(action, MoveAction):
            await self._move(action.track, action.reason)
        elif isinstance(action, EscalateAction):
            await self._escalate(action.tier, action.reason)
        elif isinstance(action, SuppressAction):
            await self._suppress(action.reason)

    # --- transitions ---------------------------------------------------------------------

    async def _move(self, track_name: str, reason: str, *, roll_over: bool = True) -> None:
        track = self.s.playbook.track(track_name)
        self.s.seq += 1
        self.s.position = Position(track=track_name, step=track.steps[0].id, seq=self.s.seq)
        changed = self._set_phase(track.phase, reason)
        await self._record_position()
        if changed and roll_over:
            raise _ContinueAsNew()

    async def _escalate(self, tier_hint: int | None, reason: str) -> None:
        s, now = self.s, workflow.now()
        if s.phase in (Phase.SUPPRESSED, Phase.SQL):
            return
        earned = readiness(s.scores, s.playbook.scoring)
        tier = min((t for t in (tier_hint, earned) if t), default=3)
        if s.scores.flags:
            tier = 3  # a student, competitor or job seeker is qualified further, never rushed
        if s.escalation is not None:  # already with sales: no second task, maybe more urgent
            s.position = None
            if tier < s.escalation.tier and s.escalation.stage != "closing":
                await self._retier(tier, reason)
            return
        sales = s.playbook.sales
        package = build_handoff(s.lead, s.events, s.scores, tier=tier, reason=reason, now=now)
        no_answer = sales.after_reject(RejectReason.NO_RESPONSE)
        package = package.model_copy(update={"recycle_path": (
            f"no outcome within {sales.tiers.follow_up_days} business days: recycled with "
            f"reason 'no response', then {no_answer.describe() if no_answer else 'nurture'}")})
        s.seq += 1
        task_id = f"{s.lead.id}:escalation:{s.seq}"
        opened: OpenedTask = await _call("open_sales_task", OpenTaskInput(
            task_id=task_id, lead=s.lead, tier=tier, handoff=package, policy=sales, now=now),
            OpenedTask)
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

    # --- sales ---------------------------------------------------------------------------

    def _notify(self, kind: str, package: HandoffPackage | None = None) -> None:
        """Tell the owner, without holding up the SLA clock if mail is slow or down."""
        escalation = self.s.escalation
        if escalation is None or escalation.owner is None:
            return
        escalation.notices += 1
        handoff = (package or self._package).model_copy(update={
            "owner": escalation.owner.name, "due_at": escalation.due_at})
        notice = TaskNoticeInput(
            task_id=escalation.task_id, lead=self.s.lead, kind=kind,  # type: ignore[arg-type]
            owner=escalation.owner, tier=escalation.tier, due_at=escalation.due_at,
            handoff=handoff, notice=escalation.notices, now=workflow.now())
        self._notices = [t for t in self._notices if not t.done()]
        self._notices.append(asyncio.ensure_future(_call("notify_owner", notice)))

    @property
    def _package(self) -> HandoffPackage:
        s, escalation = self.s, self.s.escalation
        assert escalation is not None
        return build_handoff(s.lead, s.events, s.scores, tier=escalation.tier,
                             reason=escalation.reason, now=workflow.now())

    async def _sales_wait(self) -> None:
        """Wait for sales' answer under the SLA: breach → re-notify, then re-route, and
        recycle with reason 'no response' when the follow-up window closes."""
        escalation = self.s.escalation
        assert escalation is not None
        if escalation.stage == "closing":
            await workflow.wait_condition(lambda: self._decision is not None)
            return
        clock = escalation.due_at if escalation.stage == "due" else escalation.reroute_at
        deadline = min((t for t in (clock, escalation.follow_up_until) if t is not None),
                       default=None)
        outcome = await self._sleep(deadline)
        if outcome == _ROLL_OVER:
            raise _ContinueAsNew()
        if outcome != _TIMEOUT or self.s.escalation is not escalation:
            return
        now = workflow.now()
        if escalation.follow_up_until is not None and now >= escalation.follow_up_until:
            await self._no_response()
        elif escalation.stage == "due":
            await self._breach()
        elif escalation.reroute_at is not None and now >= escalation.reroute_at:
            await self._reroute()

    def _owner_hours(self) -> BusinessHours:
        escalation = self.s.escalation
        assert escalation is not None
        zone = escalation.owner.timezone if escalation.owner else None
        return owner_hours(self.s.playbook.sales.hours, zone)

    async def _retier(self, tier: int, reason: str) -> None:
        """The lead raised its hand while its task waited: same owner, sooner answer."""
        escalation, now = self.s.escalation, workflow.now()
        assert escalation is not None
        changed: OpenedTask = await _call("retier_task", RetierInput(
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
        s, now = self.s, workflow.now()
        escalation = s.escalation
        assert escalation is not None
        sales = s.playbook.sales
        escalation.stage = "breached"
        can_move = sales.routing is not None and escalation.reroutes < sales.max_reroutes
        escalation.reroute_at = reroute_at(escalation.tier, now, self._owner_hours(),
                                           sales.tiers) if can_move else None
        who = escalation.owner.name if escalation.owner else "sales"
        then = (f"; re-routed at {escalation.reroute_at.isoformat(timespec='minutes')} "
                "if still untouched") if escalation.reroute_at else ""
        detail = (f"no outcome by {escalation.due_at.isoformat(timespec='minutes')}; "
                  f"{who} re-notified{then}")
        self._note("sla_breached", task=escalation.task_id, detail=detail)
        await _call("note_task", TaskEventInput(task_id=escalation.task_id,
                                                kind="sla_breached", detail=detail, now=now))
        self._notify("breached")

    async def _reroute(self) -> None:
        s, now = self.s, workflow.now()
        escalation = s.escalation
        assert escalation is not None
        moved: OpenedTask = await _call("reroute_task", RerouteInput(
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

    async def _no_response(self) -> None:
        escalation = self.s.escalation
        assert escalation is not None
        answer = Feedback(task_id=escalation.task_id, action="reject",
                          reason=RejectReason.NO_RESPONSE, by="system",
                          note=f"no outcome within {self.s.playbook.sales.tiers.follow_up_days}"
                               " business days")
        await self._close(answer, "recycled")

    async def _follow_decision(self) -> None:
        """Carry out sales' answer: SQL, suppression, another track, or a rest."""
        assert self._decision is not None
        answer, plan, result = self._decision
        self._decision = None
        s = self.s
        task = s.escalation.task_id if s.escalation else answer.task_id
        self._note("sales_outcome", task=task, status=result.status,
                   reason=answer.reason.value if answer.reason else None, note=answer.note,
                   by=answer.by, next_step=result.next_step,
                   until=answer.until.isoformat() if answer.until else None)
        s.escalation = None
        label = answer.reason.label if answer.reason else result.status
        if plan is not None and plan.action != "suppress":
            # Handed back: only interest shown from now on counts toward the next handoff.
            s.intent_since = result.at
            before = s.scores
            s.scores = r.rescore(s, result.at)
            self._note_scores(before)
        if plan is None:
            s.sql_at = result.at
            self._set_phase(Phase.SQL, f"accepted by {answer.by or 'sales'}")
            s.position, s.outbox = None, []
            await self._record_position()
        elif plan.action == "suppress":
            await self._suppress(f"rejected by sales: {label}")
        elif plan.action == "reactivate" and answer.until is not None:
            s.position, s.outbox = None, []
            s.resting_until = self._morning_of(answer.until)
            s.resume_track = plan.track
            self._set_phase(Phase.RECYCLED, f"{label}: rest until {answer.until.isoformat()}")
            await self._record_position()
        else:
            await self._move(plan.track or s.playbook.default_track, f"sales: {label}")

    def _morning_of(self, day: date) -> datetime:
        """The start of the send window on `day`, in the lead's time zone."""
        cadence = self.s.playbook.cadence
        zone: ZoneInfo = lead_zone(self.s.lead.timezone, cadence)
        local = datetime.combine(day, time(cadence.window_start_hour), zone)
        return local.astimezone(UTC)

    async def _rest(self) -> None:
        """A recycled lead rests until its date, then its reactivation track starts."""
        s = self.s
        assert s.resting_until is not None
        outcome = await self._sleep(s.resting_until)
        if outcome == _ROLL_OVER:
            raise _ContinueAsNew()
        if outcome != _TIMEOUT or s.phase != Phase.RECYCLED:
            return
        track = s.resume_track or s.playbook.default_track
        s.resting_until, s.resume_track = None, None
        await self._move(track, "the date sales gave has come")

    async def _suppress(self, reason: str) -> None:
        s = self.s
        if s.phase == Phase.SUPPRESSED:
            return
        s.position, s.outbox, s.suppressed_reason = None, [], reason
        self._set_phase(Phase.SUPPRESSED, reason)
        self._note("suppressed", reason=reason)
        await _call("suppress", SuppressInput(lead=s.lead, reason=reason, now=workflow.now()))
        await self._record_position()

    async def _deliver(self, key: str, template: str, ctx: dict[str, Any],
                       event: dict[str, Any], track: str, step: str) -> None:
        if self.s.phase == Phase.SUPPRESSED:
            return
        result: SendEmailResult = await _call(
            "send_email",
            SendEmailInput(key=key, lead=self.s.lead, template=template, track=track,
                           step=step, ctx=ctx, event=event, now=workflow.now()),
            SendEmailResult)
        if result.status in ("sent", "already_sent"):
            self.s.emails.append(SentEmail(template=template, subject=result.subject,
                                           track=track, step=step, at=workflow.now(),
                                           key=key))
            del self.s.emails[:-r.MAX_EMAILS]
            self._note("email", template=template, subject=result.subject, track=track)
        elif result.status in ("suppressed", "bounced"):
            self._want(SuppressAction(reason=result.detail or result.status))

    async def _record_position(self) -> None:
        pos = self.s.position
        await _call("record_position", PositionInput(lead_id=self.s.lead.id, phase=self.s.phase,
                          track=pos.track if pos else None, now=workflow.now()))

    # --- journal -------------------------------------------------------------------------

    def _set_phase(self, phase: str, reason: str) -> bool:
        if phase == self.s.phase:
            return False
        self._note("phase", **{"from": self.s.phase or None, "to": phase, "reason": reason})
        self.s.phase = phase
        return True

    def _note_scores(self, before: Any) -> None:
        s = self.s
        if s.mql_at is None and is_mql(s.scores, s.playbook.scoring):
            s.mql_at = workflow.now()
        now_view = (s.scores.fit, s.scores.intent, s.scores.total)
        if before is None or now_view != (before.fit, before.intent, before.total):
            self._note("score", fit=s.scores.fit, intent=s.scores.intent,
                       total=s.scores.total)

    def _note(self, kind: str, **data: Any) -> None:
        self.s.seq += 1
        self.s.journal.append(JournalEntry(seq=self.s.seq, at=workflow.now(), kind=kind,
                                           data=data))
        del self.s.journal[:-r.MAX_JOURNAL]

