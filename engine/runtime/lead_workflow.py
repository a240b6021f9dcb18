"""The lead workflow: one durable, long-lived entity per lead that interprets its playbook.

It waits (durable timers), listens (the `events` signal), reacts at once (triggers beat the
clock), scores, sends through activities, escalates to sales, and continues-as-new to keep
each run's history small. It never reads a clock other than `workflow.now()`.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from engine.cadence import lead_zone, next_send_time
    from engine.dsl.conditions import evaluate, event_matches
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
    from engine.handoff import build_handoff
    from engine.leads import NURTURE_PHASES, Phase
    from engine.runtime import reactions as r
    from engine.runtime.models import (
        Done,
        EventsSignal,
        JournalEntry,
        JournalPage,
        JournalQuery,
        LeadSnapshot,
        LeadState,
        LeadWorkflowInput,
        OpenEscalation,
        PendingSend,
        Position,
        PositionInput,
        RegisterLeadInput,
        RegisterLeadResult,
        SalesTaskInput,
        SendEmailInput,
        SendEmailResult,
        SentEmail,
        SuppressInput,
    )
    from engine.scoring import is_mql, readiness

ACTIVITY_TIMEOUT = timedelta(seconds=60)
RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), backoff_coefficient=2.0,
                    maximum_interval=timedelta(minutes=10))
_TIMEOUT, _INTERRUPT, _ROLL_OVER = "timeout", "interrupt", "continue_as_new"
_PRIORITY = {"suppress": 0, "escalate": 1, "move": 2}


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
            alerts=s.alerts[-20:], committee=s.committee,
            suppressed_reason=s.suppressed_reason, enrolled_at=s.enrolled_at, runs=s.runs,
        )

    @workflow.query
    def journal(self, query: JournalQuery) -> JournalPage:
        """Timeline entries after a sequence number."""
        entries = [e for e in self.s.journal if e.seq > query.after_seq]
        return JournalPage(enrolled_at=self.s.enrolled_at, entries=entries)

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
                step = self._current_step()
                if step is not None:
                    await self._run_step(step)
                elif await self._sleep(None) == _ROLL_OVER:
                    raise _ContinueAsNew()
        except _ContinueAsNew:
            pass
        await workflow.wait_condition(workflow.all_handlers_finished)
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
            await _call("create_sales_task", SalesTaskInput(
                task_id=f"{self.s.lead.id}:alert:{self.s.seq}", lead=self.s.lead, kind="alert",
                tier=2, reason=action.reason, now=now))
            self.s.alerts.append(f"{now.isoformat()} {action.reason}")

    # --- waiting -------------------------------------------------------------------------

    async def _sleep(self, deadline: datetime | None) -> str:
        """Wait until `deadline`, an interrupt, a matched event or a needed roll-over."""
        while True:
            await self._drain()
            await self._flush_outbox()
            if self._interrupt is not None:
                return _INTERRUPT
            if self._matched is not None:
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
                    lambda: bool(self._inbox) or self._rescore or self._needs_roll_over(),
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
        if s.phase == Phase.SUPPRESSED:
            return
        if s.escalation is not None:  # already with sales: stop nurture, do not double-task
            s.position = None
            return
        earned = readiness(s.scores, s.playbook.scoring)
        tier = min((t for t in (tier_hint, earned) if t), default=3)
        if s.scores.flags:
            tier = 3  # a student, competitor or job seeker is qualified further, never rushed
        package = build_handoff(s.lead, s.events, s.scores, tier=tier, reason=reason, now=now)
        s.seq += 1
        task_id = f"{s.lead.id}:escalation:{s.seq}"
        due = now + s.playbook.sla.due_in(tier)
        await _call("create_sales_task", SalesTaskInput(
            task_id=task_id, lead=s.lead, kind="escalation", tier=tier,
            reason=package.qualification_reason, handoff=package, now=now, due_at=due))
        s.escalation = OpenEscalation(task_id=task_id, tier=tier,
                                      reason=package.qualification_reason,
                                      opener=package.suggested_opener, at=now, due_at=due)
        self._note("escalation", tier=tier, reason=package.qualification_reason,
                   opener=package.suggested_opener)
        s.position, s.outbox = None, []
        self._set_phase(Phase.SALES, reason)
        await self._record_position()
        raise _ContinueAsNew()

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

