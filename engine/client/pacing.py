"""Start pacing: how many lead workflows the relay may start, by what the workers keep up with.

Starting a workflow is cheap for the relay and the server; its first workflow task is the
expensive part, and it runs on the workers. A relay that starts workflows as fast as the
server takes them (an import of 100,000 identify calls, say) queues thousands of first tasks
in front of the workers: each waits minutes, the tasks that follow an activity's result wait
behind them, and once more leads are in flight than a worker caches, every task replays its
lead from the history. Enrolment then gets slower the more there is to do.

So the relay starts workflows from a token bucket whose rate follows the task queue, as
Temporal reports it (the backlog's size and the age of its oldest task, which is how long a
new lead's first task waits right now):

- oldest task older than `target_wait` and the backlog not shrinking: the workers fell
  behind, so the rate falls by a third (never below `min_rate`);
- oldest task younger than half of `target_wait` and the relay used most of its rate:
  there is room, so the rate grows by a tenth (never above `max_rate`);
- otherwise the rate holds: a backlog a few seconds deep keeps every worker busy.

Without a reading (a server that does not report task queue statistics) the rate stays
where it is. Only starts are paced: events for running leads go out at once.

`StartPacer` is arithmetic on the times and readings it is given, so tests drive it
without a clock; `read_queue` is the one call to Temporal.
"""

from __future__ import annotations

from dataclasses import dataclass

from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

GROWTH = 1.25
CUT = 2 / 3
DEEPEST_CUT = 1 / 4
DRAIN = 0.9  # of what the workers took, while a backlog is too old
TRUSTED_SPAN = 30.0  # seconds between two readings over which their difference means much
BURST_SECONDS = 2.0  # tokens the bucket holds: two seconds of the rate, so a relay that
# waits for a full bucket reads its pending rows at most every two seconds while paced


@dataclass(frozen=True)
class QueueReading:
    """The lead task queue as Temporal reports it."""

    backlog: int
    """Workflow tasks waiting for a worker."""
    oldest: float
    """Seconds the oldest of them has waited."""


class StartPacer:
    """A token bucket of workflow starts whose rate follows the task queue's backlog."""

    def __init__(self, *, target_wait: float = 5.0, max_rate: float = 200.0,
                 min_rate: float = 0.5, rate: float = 10.0, now: float = 0.0) -> None:
        if not 0 < min_rate <= max_rate:
            raise ValueError("need 0 < min_rate <= max_rate")
        self.target_wait, self.max_rate, self.min_rate = target_wait, max_rate, min_rate
        self.rate = min(max(rate, min_rate), max_rate)
        self.tokens = self.capacity
        self._filled_at = now
        self._last: QueueReading | None = None
        self._read_at = self._grown_at = now
        self._since_reading = self._since_growth = 0  # starts since then

    @property
    def capacity(self) -> float:
        """The most tokens the bucket holds: two seconds of the rate, at least one start."""
        return max(1.0, self.rate * BURST_SECONDS)

    def _fill(self, now: float) -> None:
        elapsed = max(0.0, now - self._filled_at)
        self.tokens = min(self.capacity, self.tokens + elapsed * self.rate)
        self._filled_at = now

    def allowance(self, now: float) -> int:
        """How many workflows may be started now."""
        self._fill(now)
        return int(self.tokens)

    def started(self, count: int) -> None:
        """`count` workflows were started (they spend tokens)."""
        self.tokens -= count
        self._since_reading += count
        self._since_growth += count

    def wait_for(self, count: int, now: float) -> float:
        """Seconds until `count` starts, or a full bucket if that is fewer, are allowed."""
        self._fill(now)
        wanted = min(float(count), self.capacity)
        return max(0.0, (wanted - self.tokens) / self.rate)

    def observe(self, reading: QueueReading | None, now: float) -> None:
        """Follow the task queue: slower while first tasks wait too long, faster while
        there is room and the rate was used. The server caches its answer for a few
        seconds, so only a reading that differs from the last one can cut the rate."""
        if reading is None:
            return
        last, since, started = self._last, now - self._read_at, self._since_reading
        fresh = reading != last
        if fresh:
            self._last, self._read_at, self._since_reading = reading, now, 0
        if reading.oldest > self.target_wait:
            if fresh and (last is None or reading.backlog >= last.backlog):  # not draining
                cut = self.rate * CUT
                if last is not None and 0 < since <= TRUSTED_SPAN:
                    # What the workers took off the queue meanwhile: the starts that did
                    # not add to the backlog. Start a little below that, so it drains.
                    taken = max(0.0, started - (reading.backlog - last.backlog)) / since
                    drain = DRAIN * min(1.0, 2 * self.target_wait / reading.oldest)
                    cut = max(self.rate * DEEPEST_CUT, min(cut, drain * taken))
                self._set_rate(cut)
            return
        if not fresh and reading.backlog:
            return  # the workers may be falling behind already: wait for news
        used, elapsed = self._since_growth, max(1e-9, now - self._grown_at)
        self._since_growth, self._grown_at = 0, now
        if reading.oldest < self.target_wait / 2 and used >= 0.5 * self.rate * elapsed:
            self._set_rate(self.rate * GROWTH)

    def _set_rate(self, rate: float) -> None:
        self.rate = min(max(rate, self.min_rate), self.max_rate)
        self.tokens = min(self.tokens, self.capacity)


async def read_queue(client: Client, task_queue: str) -> tuple[QueueReading | None, bool]:
    """The workflow task queue's backlog, and whether asking again can help (False from a
    server that keeps no task queue statistics, such as the time-skipping test server)."""
    try:
        answer = await client.workflow_service.describe_task_queue(DescribeTaskQueueRequest(
            namespace=client.namespace, task_queue=TaskQueue(name=task_queue),
            task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW, report_stats=True))
    except RPCError as err:
        return None, err.status != RPCStatusCode.UNIMPLEMENTED
    if not answer.HasField("stats"):
        return None, False
    age = answer.stats.approximate_backlog_age
    return QueueReading(backlog=int(answer.stats.approximate_backlog_count),
                        oldest=age.seconds + age.nanos / 1e9), True
