"""The lead workflow: one durable, long-lived entity per lead that lives its nurture.

Read top to bottom, this is a lead's life: it is enrolled, listens for behavior, walks its
track step by step (triggers beat the clock), waits on sales under an SLA, rests when sales
hands it back with a date, moves to a new playbook version when ops migrate it, and rolls
over into a fresh run to keep each history small. The decisions are pure functions in
`engine.journey`; how it waits is in `lead_listening`, the activities it calls in
`lead_effects`. It never reads a clock other than `workflow.now()`.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from engine.dsl import library
    from engine.dsl.sales import NextStep
    from engine.dsl.spec import (
        Action,
        EscalateAction,
        EventBranch,
        MoveAction,
        PlaybookSpec,
        Step,
        SuppressAction,
    )
    from engine.events import Event
    from engine.feedback import Feedback, FeedbackResult
    from engine.journey import journal, migration, outbox, reactions, steps
    from engine.journey import sales as sla
    from engine.journey.migration import MigrateRequest, MigrateResult
    from engine.journey.state import LeadState, Position
    from engine.leads import Phase
    from engine.runtime.messages import (
        EventsSignal,
        JournalPage,
        JournalQuery,
        LeadSnapshot,
        LeadWorkflowInput,
    )
    from engine.runtime.models import KeepPlaybookInput, RegisterLeadInput, RegisterLeadResult

from engine.runtime.lead_effects import call
from engine.runtime.lead_listening import ROLL_OVER, TIMEOUT, LeadListening

RECORD_EACH_STEP = "record-each-step"
"""Patch: the lead's step is recorded in the store on every step change, not only on moves
between tracks (runs started before it replay without those activities)."""
CONSTANT_COST = "constant-cost-events"
"""Patch: an event costs the same however many came before it (running score sums, a
time-bounded dedupe set, a bounded set of kept events), a workflow task applies at most
`lead_listening.BATCH` events, a run rolls over after `SIGNALS_PER_RUN` signals, and the journal is
written to the store with only a short tail carried (`LeadState.constant_cost`)."""
FEWER_COMMANDS = "fewer-commands"
"""Patch (with constant cost): the store's bookkeeping (`register_lead`, `record_position`,
`record_journal`) runs as local activities, so enrolling a lead is one workflow task and no
activity task on the server (`LeadEffects._local`); and a wait keeps its timer while its
deadline holds, so an event that changes no deadline costs no timer cancelled and started
again (`LeadListening._alarm`)."""


class _ContinueAsNew(Exception):
    """Raised inside a step to roll over to a fresh run at a safe point."""


@workflow.defn(name="Lead")
class LeadWorkflow(LeadListening):
    """One lead's whole nurture life."""

    @workflow.init
    def __init__(self, input: LeadWorkflowInput) -> None:
        self._fresh = input.state is None
        self._spec_given = input.playbook is not None or (
            input.state is not None and input.state.playbook is not None)
        self._unknown: library.UnknownPlaybookVersion | None = None
        self.s = LeadState(lead=input.lead, enrolled_at=workflow.now()) \
            if input.state is None else input.state
        try:
            self.s.playbook = input.spec()
        except library.UnknownPlaybookVersion as err:  # fails the task in `run`, by name
            self._unknown = err
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
        self._moved = False
        self._applied = 0
        self._signals = 0
        self._signalled_at: datetime | None = None
        self._local = False
        self._alarm: tuple[datetime, asyncio.Task[None]] | None = None

    # --- what the outside world says and asks --------------------------------------------

    @workflow.signal
    def events(self, signal: EventsSignal) -> None:
        """Behavioral events arrive here; they are applied by the main loop, in order."""
        self._signals += 1
        self._signalled_at = workflow.now()
        profile = signal.profile
        if profile is not None and profile.id == self.s.lead.id and profile != self.s.lead:
            changed = sorted(k for k, v in profile.model_dump().items()
                             if getattr(self.s.lead, k) != v)
            self.s.lead = profile
            self._note("profile", changed=changed)
            self._rescore = True
        self._inbox.extend(signal.events)

    @workflow.query
    def state(self) -> LeadSnapshot:
        """The lead as it is now."""
        return LeadSnapshot.of(self.s)

    @workflow.query
    def journal(self, query: JournalQuery) -> JournalPage:
        """Timeline entries after a sequence number."""
        entries = [e for e in self.s.journal if e.seq > query.after_seq]
        return JournalPage(enrolled_at=self.s.enrolled_at, entries=entries)

    @workflow.query
    def playbook(self) -> PlaybookSpec:
        """The playbook version the lead runs, in full."""
        return self.s.playbook

    @workflow.update
    async def feedback(self, answer: Feedback) -> FeedbackResult:
        """Sales' answer on the open task: accept, reject with a reason, or recycle.

        A refused answer changes nothing (the validator). The task is closed in the store
        before the caller hears back; the lead's next step follows in the main loop.
        """
        self._check_answer(answer)
        return await self._answered(answer, sla.STATUS[answer.action])

    @feedback.validator
    def _validate_feedback(self, answer: Feedback) -> None:
        self._check_answer(answer)

    @workflow.update
    async def migrate(self, request: MigrateRequest) -> MigrateResult:
        """Move the lead onto another playbook version at this safe point (`nurture tracks
        migrate`); a lead with sales, suppressed or exited is refused, and nothing changes."""
        move = self._check_move(request)
        library.remember(request.playbook)  # the next run names it by version
        result = migration.apply(self.s, request, move, workflow.now())
        if result.status == "moved":
            self._moved = True  # the step being waited on ends; the new one starts
            await self._record_position()
        return result

    @migrate.validator
    def _validate_migrate(self, request: MigrateRequest) -> None:
        self._check_move(request)

    # --- the life ------------------------------------------------------------------------

    @workflow.run
    async def run(self, input: LeadWorkflowInput) -> None:
        """Live until the history needs a fresh run; a lead's workflow never 'finishes'."""
        if self._unknown is not None:
            raise self._unknown  # the workflow task fails and is retried; nothing runs
        self.s.constant_cost = workflow.patched(CONSTANT_COST)
        self._local = self.s.constant_cost and workflow.patched(FEWER_COMMANDS)
        if self._fresh:
            await self._enroll()
        try:
            while True:
                self._moved = False
                await self._catch_up()
                if self._interrupt is not None:
                    action, self._interrupt = self._interrupt, None
                    await self._perform(action)
                elif self._decision is not None:
                    await self._follow_decision()
                elif self.s.phase == Phase.SALES and self.s.escalation is not None:
                    await self._sales_wait()
                elif self.s.phase == Phase.RECYCLED and self.s.resting_until is not None:
                    await self._rest()
                elif (step := steps.current_step(self.s)) is not None:
                    await self._run_step(step)
                elif await self._sleep(None) == ROLL_OVER:
                    raise _ContinueAsNew()
        except _ContinueAsNew:
            pass
        await workflow.wait_condition(workflow.all_handlers_finished)
        if self._notices:
            await asyncio.gather(*self._notices)
        self.s.inbox = self._inbox
        self.s.runs += 1
        if not self.s.constant_cost:  # a run from before: the spec travels as it did
            workflow.continue_as_new(LeadWorkflowInput(
                lead=self.s.lead, playbook=self.s.playbook, state=self.s,
                history_limit=self._history_limit))
        await self._hand_over()
        self.s.by_reference = True
        workflow.continue_as_new(LeadWorkflowInput(
            lead=self.s.lead, playbook_version=self.s.playbook.version, state=self.s,
            history_limit=self._history_limit))

    async def _hand_over(self) -> None:
        """Before a roll-over: write the journal, so the carried state stays small (a
        roll-over comes only once the inbox was drained; what arrived since is carried),
        and, for a lead whose run was given the spec itself (it started before playbooks
        went by version), store that version so that every worker can run its next run."""
        await self._write_journal()
        if self._spec_given:
            await call("keep_playbook", KeepPlaybookInput(playbook=self.s.playbook,
                                                          now=workflow.now()))
            self._spec_given = False

    async def _enroll(self) -> None:
        now = workflow.now()
        self._note("enrolled", source=self.s.lead.source or "unknown",
                   playbook=self.s.playbook.version)
        registered: RegisterLeadResult = await call(
            "register_lead", RegisterLeadInput(lead=self.s.lead, now=now), RegisterLeadResult,
            local=self._local)
        self.s.scores = reactions.rescore(self.s, now)
        journal.note_scores(self.s, None, now)
        if registered.suppressed_reason:
            await self._suppress(registered.suppressed_reason)
            return
        if registered.colleagues:
            await self._signal_committee(registered.colleagues)
        first = reactions.entry_track(self.s.playbook, self.s, now)
        await self._move(first, f"entry: source {self.s.lead.source or 'unknown'}",
                         roll_over=False)

    # --- the track -----------------------------------------------------------------------

    async def _run_step(self, step: Step) -> None:
        matched, timed_out = None, False
        wait = steps.wait_of(self.s, step, workflow.now())
        if wait is not None:
            self._listening = wait.listening
            outcome = await self._sleep(wait.until)
            matched, self._listening, self._matched = self._matched, [], None
            if outcome == ROLL_OVER:
                raise _ContinueAsNew()
            if self._interrupt is not None:
                return
            timed_out = outcome == TIMEOUT
        decision = steps.decide(self.s, step, workflow.now(), timed_out=timed_out,
                                matched=matched)
        if isinstance(decision, steps.Deliver):
            await self._deliver(decision.key, decision.template, decision.ctx, decision.event,
                                decision.track, decision.step)
            await self._goto(decision.then)
        elif isinstance(decision, steps.Goto):
            await self._goto(decision.step)
        elif isinstance(decision, steps.Transition):
            await self._perform(decision.action)
        elif isinstance(decision, steps.Exit):
            track = self.s.position.track if self.s.position else None
            self._set_phase(Phase.EXITED, decision.reason)
            self._note("exit", reason=decision.reason, track=track)
            self.s.position = None
            await self._record_position()

    async def _goto(self, step_id: str | None) -> None:
        steps.goto(self.s, step_id)
        if workflow.patched(RECORD_EACH_STEP):  # since 0.2.0: reports see the step
            await self._record_position()

    async def _perform(self, action: Action) -> None:
        if isinstance(action, MoveAction):
            await self._move(action.track, action.reason)
        elif isinstance(action, EscalateAction):
            await self._escalate(action.tier, action.reason)
        elif isinstance(action, SuppressAction):
            await self._suppress(action.reason)

    async def _move(self, track_name: str, reason: str, *, roll_over: bool = True) -> None:
        track = self.s.playbook.track(track_name)
        self.s.position = Position(track=track_name, step=track.steps[0].id,
                                   seq=self.s.next_seq())
        changed = self._set_phase(track.phase, reason)
        await self._record_position()
        if changed and roll_over:
            raise _ContinueAsNew()

    async def _suppress(self, reason: str) -> None:
        s = self.s
        if s.phase == Phase.SUPPRESSED:
            return
        s.position, s.outbox, s.suppressed_reason = None, [], reason
        self._set_phase(Phase.SUPPRESSED, reason)
        self._note("suppressed", reason=reason)
        await self._suppress_address(reason)
        await self._record_position()

    # --- with sales ----------------------------------------------------------------------

    async def _sales_wait(self) -> None:
        """Wait for sales' answer under the SLA: breach → re-notify, then re-route, and
        recycle with reason 'no response' when the follow-up window closes."""
        escalation = self.s.escalation
        assert escalation is not None
        if escalation.stage == "closing":
            await workflow.wait_condition(lambda: self._decision is not None)
            return
        outcome = await self._sleep(sla.wake_at(escalation))
        if outcome == ROLL_OVER:
            raise _ContinueAsNew()
        if outcome != TIMEOUT or self.s.escalation is not escalation:
            return
        due = sla.due(escalation, workflow.now())
        if due == "no_response":
            await self._answered(sla.no_response(self.s), "recycled")
        elif due == "breach":
            await self._breach()
        elif due == "reroute":
            await self._reroute()

    async def _follow_decision(self) -> None:
        """Carry out sales' answer: SQL, suppression, another track, or a rest."""
        assert self._decision is not None
        (answer, plan, result), self._decision = self._decision, None
        s = self.s
        where = sla.follow(s, answer, plan, result, workflow.now())
        if where.kind == "sql":
            self._set_phase(Phase.SQL, where.reason)
            s.position, s.outbox = None, []
            await self._record_position()
        elif where.kind == "suppress":
            await self._suppress(where.reason)
        elif where.kind == "rest":
            assert answer.until is not None
            s.position, s.outbox = None, []
            s.resting_until = outbox.morning_of(s, answer.until)
            s.resume_track = where.track
            self._set_phase(Phase.RECYCLED, where.reason)
            await self._record_position()
        else:
            await self._move(where.track or s.playbook.default_track, where.reason)

    async def _rest(self) -> None:
        """A recycled lead rests until its date, then its reactivation track starts."""
        s = self.s
        assert s.resting_until is not None
        outcome = await self._sleep(s.resting_until)
        if outcome == ROLL_OVER:
            raise _ContinueAsNew()
        if outcome != TIMEOUT or s.phase != Phase.RECYCLED:
            return
        track = s.resume_track or s.playbook.default_track
        s.resting_until, s.resume_track = None, None
        await self._move(track, "the date sales gave has come")
