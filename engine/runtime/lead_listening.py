"""How a lead waits and listens: events are applied the moment they land, and a wait ends
at its deadline, on an interrupt (a trigger, the silence rule, a bounce), on an event a
wait-for step listens for, on sales' answer, on a move to another playbook version, or
when the history needs a fresh run.

`LeadListening` is the waiting half of `LeadWorkflow` (which inherits it); what an event
means is decided by `engine.journey.reactions`.
"""

from __future__ import annotations

import asyncio
import functools
from datetime import datetime, timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from engine.dsl.sales import NextStep
    from engine.dsl.spec import Action, EventBranch, MoveAction, NotifySalesAction, SendAction
    from engine.events import Event
    from engine.feedback import Feedback, FeedbackResult
    from engine.journey import journal, outbox, reactions

from engine.runtime.lead_effects import LeadEffects

TIMEOUT, INTERRUPT, ROLL_OVER = "timeout", "interrupt", "continue_as_new"
"""How a wait ended."""

BATCH = 200
"""With constant cost: the most events applied between two workflow tasks. A backlog drains
over several tasks, each well inside the worker's deadlock budget, and so does its replay."""
SIGNALS_PER_RUN = 5_000
"""With constant cost: a run rolls over after this many signals (the server refuses
signals to a run past 10,000)."""
JOURNAL_BATCH = 50
"""With constant cost: unwritten timeline lines that make a lead write them before it
waits (they also ride on every position the lead records, and go before a roll-over)."""
YIELD = timedelta(milliseconds=1)
CALM = timedelta(seconds=1)
"""With constant cost: a run that should roll over waits for this long without a signal."""
MUST_ROLL_OVER = 40_000
"""...unless its history is this long (Temporal's hard limit is 51,200 events). A run's
signals cannot outgrow the server's cap (10,000); once refused, producers retry and the
pause lets the run roll over."""


class LeadListening(LeadEffects):
    """The lead's inbox of events, the interrupt they want, and the wait that ends on them."""

    _inbox: list[Event]
    _interrupt: Action | None
    _listening: list[EventBranch]
    _matched: EventBranch | None
    _side: list[tuple[Action, Event]]
    _rescore: bool
    _decision: tuple[Feedback, NextStep | None, FeedbackResult] | None
    _history_limit: int
    _moved: bool
    _applied: int
    _signals: int
    _signalled_at: datetime | None
    _alarm: tuple[datetime, asyncio.Task[None]] | None
    """With fewer commands: the timer a wait set, and the moment it was set for; kept
    across the wakes of one `_sleep` while that moment is still the one to wake at."""

    async def _drain(self) -> None:
        """Apply every pending event, then run the side actions they triggered; with
        constant cost, BATCH events at most in one workflow task."""
        if self._rescore:
            self._rescore = False
            before, now = self.s.scores, workflow.now()
            self.s.scores = reactions.rescore(self.s, now)
            journal.note_scores(self.s, before, now)
            for action in reactions.ready(self.s):
                self._want(action)
        while (self._inbox and not self._batch_done()) or self._side:
            while self._inbox and not self._batch_done():
                self._applied += 1
                event = self._inbox.pop(0)
                reaction = reactions.react(self.s, event, workflow.now(), self._listening)
                for action in reaction.wants:
                    self._want(action)
                self._side.extend((action, event) for action in reaction.side)
                if self._matched is None:
                    self._matched = reaction.matched
            while self._side:
                action, event = self._side.pop(0)
                if isinstance(action, SendAction):
                    outbox.queue(self.s, action, event, workflow.now())
                elif isinstance(action, NotifySalesAction):
                    await self._alert(action)

    async def _catch_up(self) -> None:
        """Apply what came in before deciding anything: a backlog drains a batch per
        workflow task, until an interrupt is wanted or the run should roll over."""
        await self._drain()
        while self.s.constant_cost and self._inbox and self._interrupt is None \
                and not self._needs_roll_over():
            await self._next_task()
            await self._drain()

    def _batch_done(self) -> bool:
        """With constant cost: this workflow task has applied its BATCH of events."""
        return self.s.constant_cost and self._applied >= BATCH

    async def _next_task(self) -> None:
        """End this workflow task and go on in the next (a timer that fires at once)."""
        await workflow.sleep(YIELD)
        self._applied = 0

    def _calm(self) -> bool:
        """No signal for CALM (or the history cannot wait): a roll-over now will not race
        a signal landing while its workflow task completes (the server refuses to close a
        run with signals it has not seen, and the refused task costs a replay)."""
        if workflow.info().get_current_history_length() > MUST_ROLL_OVER:
            return True
        return self._signalled_at is None or workflow.now() - self._signalled_at >= CALM

    def _want(self, action: Action) -> None:
        self._interrupt = reactions.decisive(self._interrupt, action)

    async def _sleep(self, deadline: datetime | None) -> str:
        """Wait until `deadline`, an interrupt, a matched event or a needed roll-over."""
        try:
            return await self._wait_out(deadline)
        finally:
            self._disarm()

    async def _wait_out(self, deadline: datetime | None) -> str:
        while True:
            await self._drain()
            await self._flush_outbox()
            if self._interrupt is not None:
                return INTERRUPT
            if self._matched is not None or self._decision is not None or self._moved:
                return INTERRUPT
            now, silence_rule = workflow.now(), self.s.playbook.silence
            silence = reactions.silence_deadline(self.s)
            if silence is not None and now >= silence and silence_rule:
                self._want(MoveAction(track=silence_rule.track, reason="no engagement for "
                                      f"{silence_rule.after.days} days"))
                return INTERRUPT
            if deadline is not None and now >= deadline:
                return TIMEOUT
            roll = self._needs_roll_over()
            if roll and (not self.s.constant_cost or (not self._inbox and self._calm())):
                return ROLL_OVER
            if self.s.constant_cost and self._inbox:
                await self._next_task()  # a backlog: the next batch in the next task
                continue
            wakes = [t for t in (deadline, silence, *(p.not_before for p in self.s.outbox))
                     if t is not None]
            if roll and self._signalled_at is not None:
                wakes.append(self._signalled_at + CALM)  # a flood: roll over once it pauses
            wake = min(wakes) if wakes else None
            if self.s.constant_cost:
                if await self._write_journal(at_least=JOURNAL_BATCH):
                    continue  # time passed and events may have come: look again
                self._applied = 0  # the wait below ends this workflow task
            if self._local:
                await workflow.wait_condition(
                    functools.partial(self._rung, roll, self._arm(wake, now)))
                continue
            try:
                await workflow.wait_condition(
                    functools.partial(self._woken, roll),
                    timeout=max(wake - now, timedelta(seconds=1)) if wake else None)
            except TimeoutError:
                pass

    def _arm(self, wake: datetime | None, now: datetime) -> asyncio.Task[None] | None:
        """The timer for `wake`: the one already set for that moment, or a new one (the
        old one cancelled); a second at least, as before."""
        if self._alarm is not None and (self._alarm[0] != wake or self._alarm[1].done()):
            self._disarm()
        if wake is not None and self._alarm is None:
            self._alarm = (wake, asyncio.ensure_future(
                workflow.sleep(max(wake - now, timedelta(seconds=1)))))
        return self._alarm[1] if self._alarm else None

    def _disarm(self) -> None:
        if self._alarm is not None:
            if not self._alarm[1].done():
                self._alarm[1].cancel()
            self._alarm = None

    def _woken(self, rolling: bool) -> bool:
        """What ends a wait: events, a rescore, sales' answer, a move, or (unless the run
        already waits to roll over) a roll-over becoming due."""
        return bool(self._inbox) or self._rescore or self._decision is not None \
            or self._moved or (not rolling and self._needs_roll_over())

    def _rung(self, rolling: bool, alarm: asyncio.Task[None] | None) -> bool:
        """What ends a wait with a kept timer: what `_woken` says, or the timer."""
        return self._woken(rolling) or (alarm is not None and alarm.done())

    def _needs_roll_over(self) -> bool:
        info = workflow.info()
        return info.is_continue_as_new_suggested() or \
            info.get_current_history_length() > self._history_limit or \
            (self.s.constant_cost and self._signals > SIGNALS_PER_RUN)
