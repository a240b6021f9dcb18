"""What the burst bench reads back after a phase: every run of each lead's workflow (its
continue-as-new chain, from the first run), the workflow tasks that failed or timed out and
why, the task still pending and its attempt, and what the worker logged meanwhile.

Temporal writes only a task's first failure to the history: retries of a task that keeps
failing are not recorded until one succeeds. So a frozen lead shows one failure there, and
the attempt of its pending task (from describe) and the worker's log say how many followed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from statistics import median

from ingest_stack import PROBES
from temporalio.api.enums.v1 import EventType, TimeoutType, WorkflowTaskFailedCause
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import Client
from temporalio.service import RPCError

# What the server's failure causes mean here; the worker's own failures carry a message.
CAUSES = {"FORCE_CLOSE_COMMAND": "closed by the server, which does that to a running task "
          "once more than 100 signals wait behind it",
          "UNHANDLED_COMMAND": "signals came in while the task was closing the run"}
TIMEOUTS = {"SCHEDULE_TO_START": "the worker did not pick the task up from its sticky queue "
            "within 10 s, so it went to the shared queue, with the whole history"}
FAILED_ACTIVATION = "Failed handling activation"  # what the SDK logs for each failed task
DEADLOCK = "[TMPRL1101]"
WORKER_FAILED = "WORKFLOW_WORKER_UNHANDLED_FAILURE"


@dataclass
class RunStats:
    """One run of a workflow: its history's size, the events its workflow tasks took (counted
    in the signals' payloads), and its troubled workflow tasks.

    Signals that arrive while a task runs are written after it closes, so a task holds the
    events of the signals written since the last task that completed, before it started.
    (Events a run carries over from the one before are not counted.)
    """

    events: int = 0             # history events
    signals: int = 0
    sent: int = 0               # lead events in those signals
    taken: int = 0              # lead events taken by workflow tasks that completed
    most_taken: int = 0         # the most one completed task took
    least_failed: int | None = None  # the fewest a task the worker failed held
    failed: Counter[str] = field(default_factory=Counter)
    timed_out: Counter[str] = field(default_factory=Counter)
    highest_attempt: int = 1
    waiting: int = 0            # lead events no completed task has taken yet
    held: int = 0               # lead events the task started last holds

    def add(self, event: HistoryEvent) -> str:
        """Count one history event; the next run's id if this one continued as new."""
        self.events += 1
        kind = event.event_type
        if kind == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED:
            carried = _lead_events(event)
            self.signals += 1
            self.sent += carried
            self.waiting += carried
        elif kind == EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED:
            self.highest_attempt = max(self.highest_attempt,
                                       event.workflow_task_scheduled_event_attributes.attempt)
        elif kind == EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED:
            self.held = self.waiting
        elif kind == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
            self.taken += self.held
            self.most_taken = max(self.most_taken, self.held)
            self.waiting -= self.held
        elif kind == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED:
            failed = event.workflow_task_failed_event_attributes
            cause = WorkflowTaskFailedCause.Name(failed.cause)
            cause = cause.removeprefix("WORKFLOW_TASK_FAILED_CAUSE_")
            why = failed.failure.message or CAUSES.get(cause, "no message")
            self.failed[f"{cause}: {_first_line(why)}"] += 1
            if cause == WORKER_FAILED:
                self.least_failed = self.held if self.least_failed is None else \
                    min(self.least_failed, self.held)
        elif kind == EventType.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT:
            timeout = event.workflow_task_timed_out_event_attributes.timeout_type
            self.timed_out[TimeoutType.Name(timeout).removeprefix("TIMEOUT_TYPE_")] += 1
        elif kind == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW:
            return event.workflow_execution_continued_as_new_event_attributes.new_execution_run_id
        return ""


@dataclass
class LeadHistory:
    """Every run of one lead's workflow, oldest first, and how its latest run stands."""

    workflow_id: str
    runs: list[RunStats] = field(default_factory=list)
    status: str = "unknown"
    pending_attempt: int = 0  # the attempt of a workflow task not yet completed, else 0
    unread: str = ""


def _lead_events(signalled: HistoryEvent) -> int:
    """How many lead events an `events` signal carries (its payload is JSON)."""
    payloads = signalled.workflow_execution_signaled_event_attributes.input.payloads
    try:
        return len(json.loads(payloads[0].data).get("events", [])) if payloads else 0
    except (ValueError, AttributeError):
        return 0


def _n(count: int, noun: str) -> str:
    return f"{count:,} {noun}{'s' * (count != 1)}"


def _first_line(text: str, width: int = 110) -> str:
    line = text.strip().splitlines()[0] if text.strip() else "(no message)"
    return line if len(line) <= width else line[:width - 1] + "…"


async def read_lead(client: Client, workflow_id: str) -> LeadHistory:
    """Walk the workflow's continue-as-new chain from its first run to its latest."""
    lead = LeadHistory(workflow_id)
    try:
        latest = client.get_workflow_handle(workflow_id)
        described = await latest.describe()
        lead.status = described.status.name if described.status else "unknown"
        raw = described.raw_description
        if raw.HasField("pending_workflow_task"):
            lead.pending_attempt = raw.pending_workflow_task.attempt
        run_id = ""
        async for event in latest.fetch_history_events():  # the first event names run one
            run_id = event.workflow_execution_started_event_attributes.first_execution_run_id
            break
        while run_id:
            run, following = RunStats(), ""
            handle = client.get_workflow_handle(workflow_id, run_id=run_id)
            async for event in handle.fetch_history_events():
                following = run.add(event) or following
            lead.runs.append(run)
            run_id = following
    except RPCError as err:
        lead.unread = _first_line(str(err))
    return lead


async def read_leads(client: Client, workflow_ids: Sequence[str]) -> list[LeadHistory]:
    """Every lead's chain, PROBES at a time."""
    gate = asyncio.Semaphore(PROBES)

    async def one(workflow_id: str) -> LeadHistory:
        async with gate:
            return await read_lead(client, workflow_id)

    return list(await asyncio.gather(*(one(i) for i in workflow_ids)))


async def terminate(client: Client, workflow_ids: Sequence[str], reason: str) -> int:
    """Terminate whichever of these workflows still run; how many were."""
    gate = asyncio.Semaphore(PROBES)

    async def one(workflow_id: str) -> bool:
        async with gate:
            with contextlib.suppress(RPCError):  # closed already, or never started
                await client.get_workflow_handle(workflow_id).terminate(reason=reason)
                return True
        return False

    return sum(await asyncio.gather(*(one(i) for i in workflow_ids)))


def worker_log_tally(text: str) -> str:
    """Failed activations the worker logged, and how many of them were deadlocks."""
    failed = text.count(FAILED_ACTIVATION)
    deadlocks = sum(DEADLOCK in line for line in text.splitlines()
                    if not line.startswith(" "))  # the message line, not the traceback's
    return f"worker log: {failed:,} failed activations, {deadlocks:,} of them {DEADLOCK} deadlocks"


def describe(leads: Sequence[LeadHistory]) -> list[str]:
    """Report lines: failed and timed-out tasks by cause, pending retries, runs, sizes."""
    runs = [run for lead in leads for run in lead.runs]
    failed = sum((run.failed for run in runs), Counter[str]())
    timed_out = sum((run.timed_out for run in runs), Counter[str]())
    troubled = sum(1 for lead in leads if any(r.failed or r.timed_out for r in lead.runs))
    lines = [f"workflow tasks failed: {failed.total():,}, timed out: {timed_out.total():,} "
             f"(in {_n(len(runs), 'run')}; {troubled:,} of {_n(len(leads), 'lead')} hit)"]
    lines += [f"  {n:,}× failed, {cause}" for cause, n in failed.most_common()]
    lines += [f"  {n:,}× timed out, {kind}" + (f": {TIMEOUTS[kind]}" if kind in TIMEOUTS else "")
              for kind, n in timed_out.most_common()]
    pending = [lead.pending_attempt for lead in leads if lead.pending_attempt > 1]
    if pending:
        lines.append(f"  retrying at the end (not in the histories): the workflow task of "
                     f"{_n(len(pending), 'lead')} at attempt {min(pending):,}–{max(pending):,}")
    retried = max((run.highest_attempt for run in runs), default=1)
    if retried > 1:
        lines.append(f"  highest attempt of a workflow task in the histories: {retried:,}")
    unread = Counter(lead.unread for lead in leads if lead.unread)
    lines += [f"  histories of {_n(n, 'lead')} unreadable: {why}" for why, n in unread.items()]
    if runs:
        per_lead = [len(lead.runs) for lead in leads if lead.runs]
        sizes = sorted(run.events for run in runs)
        lines.append(f"runs per lead: {min(per_lead)}–{max(per_lead)} (mean "
                     f"{sum(per_lead) / len(per_lead):.2f}; {len(runs) - len(per_lead):,} "
                     f"continue-as-new in all); history events per run: min {sizes[0]:,}, "
                     f"median {median(sizes):,.0f}, max {sizes[-1]:,}")
        signals, sent = sum(run.signals for run in runs), sum(run.sent for run in runs)
        taken, most = sum(run.taken for run in runs), max(run.most_taken for run in runs)
        least = min((r.least_failed for r in runs if r.least_failed is not None), default=None)
        lines.append(f"events in the histories' {signals:,} signals: {sent:,}; taken by "
                     f"workflow tasks that completed: {taken:,}; the most one completed task "
                     f"took: {most:,}" + ("" if least is None else
                                         f"; the fewest a task the worker failed held: {least:,}"))
        states = Counter(lead.status for lead in leads)
        lines.append("latest runs: " + ", ".join(f"{n:,} {state.lower()}"
                                                 for state, n in states.items()))
    return lines

