"""Heartbeats for every activity that asks for them, so a dead worker's work moves on fast.

A lead's remote activities (sending email, sales tasks, notices) are scheduled with a short
heartbeat timeout: when the worker running one is killed, Temporal gives the attempt up
after that timeout and retries it on a live worker, instead of waiting out the whole
start-to-close timeout (a minute). The activities themselves know nothing of it: this
interceptor heartbeats for them while they run.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from temporalio import activity
from temporalio.worker import (
    ActivityInboundInterceptor,
    ExecuteActivityInput,
    Interceptor,
)

MIN_EVERY = 0.2  # seconds: never heartbeat more often than this


class Heartbeating(Interceptor):
    """Worker interceptor: heartbeat each running activity that has a heartbeat timeout."""

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _HeartbeatingActivity(next)


class _HeartbeatingActivity(ActivityInboundInterceptor):
    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        info = activity.info()
        timeout = info.heartbeat_timeout
        if info.is_local or not timeout or not asyncio.iscoroutinefunction(input.fn):
            return await super().execute_activity(input)
        every = max(MIN_EVERY, timeout.total_seconds() / 5)
        beating = asyncio.create_task(_beat(every))
        try:
            return await super().execute_activity(input)
        finally:
            beating.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await beating


async def _beat(every: float) -> None:
    while True:
        activity.heartbeat()
        await asyncio.sleep(every)
