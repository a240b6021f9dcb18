"""What the scale bench watches while it runs and reads back afterwards: memory, the lead
task queue's backlog, enrolled leads in the app database, each lead's first workflow task
(from its history) and when an event was applied (from the end of its history)."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from ingest_stack import PROBES
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.enums.v1 import EventType, TaskQueueType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import (
    DescribeTaskQueueRequest,
    GetWorkflowExecutionHistoryRequest,
    GetWorkflowExecutionHistoryReverseRequest,
)
from temporalio.client import Client
from temporalio.service import RPCError

from engine.client import workflow_id_for

FIRST_PAGE = 40  # history events read per lead: enrolment fits in far fewer
LAST_PAGE = 12   # history events read from the end, to find an event's signal and task


def rss_mib(pid: int, field_name: str = "VmRSS") -> float:
    """A process's resident memory (VmRSS) or its peak (VmHWM), in MiB; 0 once it is gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0.0
    for line in status.splitlines():
        if line.startswith(field_name + ":"):
            return int(line.split()[1]) / 1024
    return 0.0


def file_mib(*paths: Path) -> float:
    """The size of a database with its write-ahead log, in MiB."""
    return sum(p.stat().st_size for p in paths if p.exists()) / 1024 ** 2


def sqlite_mib(path: Path) -> float:
    """A SQLite database file with its -wal and -shm files, in MiB."""
    return file_mib(path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm"))


async def backlog(client: Client, task_queue: str) -> tuple[int, float] | None:
    """The workflow task queue's approximate backlog: (tasks, age of the oldest in s)."""
    try:
        answer = await client.workflow_service.describe_task_queue(DescribeTaskQueueRequest(
            namespace=client.namespace, task_queue=TaskQueue(name=task_queue),
            task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW, report_stats=True))
    except RPCError:
        return None
    stats = answer.stats
    age = stats.approximate_backlog_age
    return int(stats.approximate_backlog_count), age.seconds + age.nanos / 1e9


def enrolled(db_file: Path, prefix: str) -> tuple[int, str | None]:
    """Leads with this id prefix whose position is recorded, and the latest such update."""
    with contextlib.closing(sqlite3.connect(f"file:{db_file}?mode=ro", uri=True,
                                            timeout=30)) as db:
        count, latest = db.execute(
            "SELECT count(*), max(updated_at) FROM leads WHERE id >= ? AND id < ? "
            "AND step IS NOT NULL", (prefix, prefix + "\uffff")).fetchone()
    return int(count), latest


@dataclass
class Peaks:
    """The highest values seen by a Watch."""

    backlog_count: int = 0
    backlog_age: float = 0.0
    samples: int = 0
    unread: int = 0


class Watch:
    """Samples the lead task queue's backlog once a second and prints progress lines."""

    def __init__(self, client: Client, task_queue: str, pids: dict[str, int],
                 progress: str = "") -> None:
        self.client, self.task_queue, self.pids = client, task_queue, pids
        self.peaks = Peaks()
        self.line = progress
        self.status = ""
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        began, printed = time.perf_counter(), 0.0
        while True:
            seen = await backlog(self.client, self.task_queue)
            if seen is None:
                self.peaks.unread += 1
            else:
                self.peaks.samples += 1
                self.peaks.backlog_count = max(self.peaks.backlog_count, seen[0])
                self.peaks.backlog_age = max(self.peaks.backlog_age, seen[1])
            now = time.perf_counter()
            if now - printed >= 15:
                printed = now
                memory = ", ".join(f"{name} {rss_mib(pid):,.0f}" for name, pid in
                                   self.pids.items() if name != "bench")
                queue = f"{seen[0]:,} tasks, oldest {seen[1]:.1f} s" if seen else "unread"
                print(f"  [{now - began:6.0f} s] {self.status}; backlog {queue}; "
                      f"RSS MiB {memory}", flush=True)
            await asyncio.sleep(1.0)

    def __enter__(self) -> Watch:
        self._task = asyncio.create_task(self._run())
        return self

    def __exit__(self, *exc: object) -> None:
        if self._task is not None:
            self._task.cancel()


def _time(event: HistoryEvent) -> float:
    return event.event_time.seconds + event.event_time.nanos / 1e9


@dataclass
class Enrolment:
    """One lead's enrolment as its history tells it (seconds)."""

    first_wait: float        # first workflow task: scheduled → started
    worst_wait: float        # the longest scheduled → started of its workflow tasks
    tasks: int               # workflow tasks in the page read
    task_timeouts: int
    task_failures: int


def read_enrolment(events: Sequence[HistoryEvent]) -> Enrolment | None:
    """The waits of a lead's workflow tasks in the first events of its history."""
    scheduled: float | None = None
    first: float | None = None
    worst, tasks, timeouts, failures = 0.0, 0, 0, 0
    for event in events:
        kind = event.event_type
        if kind == EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED:
            scheduled = _time(event)
        elif kind == EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED and scheduled is not None:
            wait = _time(event) - scheduled
            first = wait if first is None else first
            worst, tasks = max(worst, wait), tasks + 1
        elif kind == EventType.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT:
            timeouts += 1
        elif kind == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED:
            failures += 1
    if first is None:
        return None
    return Enrolment(first, worst, tasks, timeouts, failures)


async def read_enrolments(client: Client, leads: Sequence[str]) -> list[Enrolment | None]:
    """Each lead's enrolment from the first page of its history, PROBES at a time."""
    gate = asyncio.Semaphore(PROBES)

    async def one(lead: str) -> Enrolment | None:
        async with gate:
            try:
                page = await client.workflow_service.get_workflow_execution_history(
                    GetWorkflowExecutionHistoryRequest(
                        namespace=client.namespace, maximum_page_size=FIRST_PAGE,
                        execution=WorkflowExecution(workflow_id=workflow_id_for(lead))))
            except RPCError:
                return None
        return read_enrolment(page.history.events)

    return list(await asyncio.gather(*(one(lead) for lead in leads)))


def applied_at(newest_first: Sequence[HistoryEvent], marker: bytes) -> float | None | str:
    """When the workflow task after the signal carrying `marker` completed (Unix time);
    None when that task has not completed yet; "missing" when the signal is not among
    these events."""
    completed: float | None = None
    for event in newest_first:
        kind = event.event_type
        if kind == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
            completed = _time(event)  # walking back: ends at the first one after the signal
        elif kind == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED:
            payloads = event.workflow_execution_signaled_event_attributes.input.payloads
            if any(marker in p.data for p in payloads):
                return completed
    return "missing"


@dataclass
class Applied:
    """Where each lead's event stands, read from the ends of histories."""

    at: dict[str, float] = field(default_factory=dict)
    pending: set[str] = field(default_factory=set)
    missing: set[str] = field(default_factory=set)


async def read_applied(client: Client, leads: Sequence[str], marker: str,
                       into: Applied) -> None:
    """Read the last events of each lead's history: applied (when), pending or missing."""
    gate = asyncio.Semaphore(PROBES)

    async def one(lead: str) -> None:
        async with gate:
            try:
                page = await client.workflow_service.get_workflow_execution_history_reverse(
                    GetWorkflowExecutionHistoryReverseRequest(
                        namespace=client.namespace, maximum_page_size=LAST_PAGE,
                        execution=WorkflowExecution(workflow_id=workflow_id_for(lead))))
            except RPCError:
                into.pending.add(lead)
                return
        found = applied_at(page.history.events, f"{marker}{lead}\"".encode())
        into.pending.discard(lead)
        into.missing.discard(lead)
        if isinstance(found, float):
            into.at[lead] = found
        elif found is None:
            into.pending.add(lead)
        else:
            into.missing.add(lead)

    await asyncio.gather(*(one(lead) for lead in leads))


def unix(text: str) -> float:
    """A time stored by the app database (UTC, ISO format) as a Unix time."""
    moment = datetime.fromisoformat(text)
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()
