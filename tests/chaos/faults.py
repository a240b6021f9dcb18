"""The faults a chaos run injects, one scenario each, and what each one cost.

| scenario        | what happens                                                          |
|-----------------|-----------------------------------------------------------------------|
| worker-kill     | SIGKILL a worker (the next one each time) mid-send, start it again    |
| temporal-kill   | SIGKILL the Temporal dev server mid-send, restart it on its port/file |
| api-kill        | SIGKILL an API while a batch is in flight, start it again             |
| smtp-451        | the SMTP server answers 451 to every message for a window             |
| smtp-outage     | the SMTP server refuses connections for a window                      |
| db-lock         | another connection holds the database's write lock for a window       |
| smtp-refusals   | (for the whole run) 550 5.1.1 and 550 5.7.1 for chosen addresses       |

Each injected fault is a `Fault`: when it began, when the process was back up (or the window
closed), when work was first seen flowing after that, and when the backlog it left was
drained and new calls reached their workflows within seconds again (`tests.chaos.harness`).
Only restarts of a process count against the recovery bound; the windows are reported
beside them.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from tests.chaos.load import Answers, Producer
from tests.chaos.site import Site

RESTARTS = ("worker-kill", "temporal-kill", "api-kill")
WINDOWS = ("smtp-451", "smtp-outage", "db-lock")
SCENARIOS = (*RESTARTS, *WINDOWS, "smtp-refusals")
"""Every scenario a run can be asked for."""
LOCK_SLACK = 3.0
"""Seconds beyond NURTURE_API_DATABASE_WAIT an API may take to answer under a held lock."""
ANSWER_WAIT = 60.0
"""Seconds to wait for the answers to the requests sent while the lock was held."""
MID_FLIGHT_WAIT = 15.0
"""Seconds a kill waits for work in flight (a batch request for an API, an email being
taken in for a worker) before it strikes anyway."""


@dataclass
class Fault:
    """One injected fault and what it cost."""

    scenario: str
    target: str
    began: float  # seconds since the epoch
    up: float  # back up, or the window closed
    detail: str = ""
    first_flow: float | None = None
    recovered: float | None = None
    behind: dict[str, str] = field(default_factory=dict)  # still behind when given up on
    answers: Answers | None = None  # the API's answers to requests sent during a window

    @property
    def restart(self) -> bool:
        """Whether a process was restarted (its recovery is held to the bound)."""
        return self.scenario in RESTARTS

    @property
    def to_first_flow(self) -> float | None:
        """Seconds from back up to work seen flowing (0 if it never stopped)."""
        return None if self.first_flow is None else max(0.0, self.first_flow - self.up)

    @property
    def to_recovery(self) -> float | None:
        """Seconds from back up to the backlog drained (0 if nothing was left behind)."""
        return None if self.recovered is None else max(0.0, self.recovered - self.up)


@dataclass
class Windows:
    """How long each window lasts and how long Temporal stays dead."""

    smtp: float = 4.0
    lock: float = 4.0
    temporal_down: float = 2.0


class Injector:
    """Injects scenarios into a running site, in turn; restarts rotate over the processes."""

    def __init__(self, site: Site, producer: Producer, windows: Windows | None = None) -> None:
        self.site, self.producer = site, producer
        self.windows = windows or Windows()
        self._kills = {"worker-kill": 0, "api-kill": 0}

    async def inject(self, scenario: str) -> Fault:
        """Inject one scenario now; return once the process is back or the window closed."""
        actions: dict[str, Callable[[], Awaitable[Fault]]] = {
            "worker-kill": self._kill_worker, "temporal-kill": self._kill_temporal,
            "api-kill": self._kill_api, "smtp-451": self._smtp_451,
            "smtp-outage": self._smtp_outage, "db-lock": self._lock}
        if scenario not in actions:
            raise ValueError(f"no scenario {scenario!r}; choose from {', '.join(actions)}")
        return await actions[scenario]()

    def _next(self, scenario: str, count: int) -> int:
        number = self._kills[scenario] % count
        self._kills[scenario] += 1
        return number

    async def _kill_worker(self) -> Fault:
        number = self._next("worker-kill", len(self.site.workers))
        sending: list[int] = []

        def mid_send() -> bool:
            sending[:] = self.site.sending_workers()
            return bool(sending)

        mid_send_found = await _until(mid_send)
        if sending and number not in sending:
            number = sending[0]
        began = time.time()
        await self.site.kill_worker(number)
        up = await self.site.restart_worker(number)
        return Fault("worker-kill", f"worker-{number}", began, up,
                     detail="mid-send" if mid_send_found else "no email was being sent")

    async def _kill_temporal(self) -> Fault:
        mid_send = await _until(lambda: bool(self.site.smtp.in_data))
        began = time.time()
        await self.site.kill_temporal()
        await asyncio.sleep(self.windows.temporal_down)  # how long it stays dead
        up = await self.site.restart_temporal()
        return Fault("temporal-kill", "temporal", began, up,
                     detail=f"{'mid-send, ' if mid_send else ''}down "
                            f"{self.windows.temporal_down:g} s before the restart")

    async def _kill_api(self) -> Fault:
        number = self._next("api-kill", len(self.site.apis))
        mid_batch = await _until(lambda: self.producer.batches_in_flight > 0)
        began = time.time()
        await self.site.kill_api(number)
        up = await self.site.restart_api(number)
        return Fault("api-kill", f"api-{number}", began, up,
                     detail="mid-batch" if mid_batch else "no batch was in flight")

    async def _smtp_451(self) -> Fault:
        seconds = self.windows.smtp
        began = time.time()
        self.site.smtp.answer_temporarily(seconds)
        await asyncio.sleep(seconds)  # the window's length, not a wait for a result
        return Fault("smtp-451", "smtp", began, time.time(), detail=f"451 for {seconds:g} s")

    async def _smtp_outage(self) -> Fault:
        seconds = self.windows.smtp
        began = time.time()
        await self.site.smtp.go_down()
        await asyncio.sleep(seconds)  # the outage's length
        await self.site.smtp.come_up()
        return Fault("smtp-outage", "smtp", began, time.time(),
                     detail=f"connections refused for {seconds:g} s")

    async def _lock(self) -> Fault:
        seconds = self.windows.lock
        # A request the moment the lock is held: it must be answered 503 once the API's
        # database wait runs out (while the lock still holds, given a window longer than
        # the wait), however the load falls.
        taken, released = await self.site.hold_write_lock(seconds, self.producer.probe)
        await _until(lambda: self.producer.answered_before(released), ANSWER_WAIT)
        during = self.producer.answers.between(taken, released)
        statuses = ", ".join(f"{status} ×{n}" for status, n in sorted(
            during.statuses.items()))
        return Fault("db-lock", "database", taken, released, answers=during,
                     detail=f"write lock held {released - taken:.1f} s; answers to requests "
                            f"sent meanwhile: {statuses or 'none'}, slowest "
                            f"{during.slowest:.1f} s")


async def _until(condition: Callable[[], bool], seconds: float = MID_FLIGHT_WAIT) -> bool:
    """Wait (at most `seconds`) until `condition` holds; whether it did."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.002)
    return True
