"""The burst bench's traffic and its wait: events sent one signal each through the typed
client or as track calls through /v1/batch, then each lead's `event_count` polled until it
reaches what the lead was sent, the time runs out, or nothing moves any more."""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx
from ingest_load import batches, post_batches
from ingest_stack import PROBES, SIGNALLERS
from temporalio.client import Client, WorkflowQueryFailedError
from temporalio.service import RPCError

from engine.client import lead_state, send_events
from engine.events import Event, normalize_event_type


def as_event(call: dict[str, Any]) -> Event:
    """A Segment track call as the engine's event, named as the API would name it."""
    return Event(id=call["messageId"], type=normalize_event_type(call["event"]),
                 at=datetime.fromisoformat(call["timestamp"]), properties=call["properties"])


@dataclass
class Sent:
    """How sending a phase's events went."""

    accepted: int = 0
    refused: Counter[str] = field(default_factory=Counter)
    started: float = 0.0
    first: float | None = None
    finished: float | None = None


async def signal_each(client: Client, traffic: list[tuple[str, Event]], sent: Sent) -> None:
    """One signal per event through the typed client, SIGNALLERS in flight."""
    queue = iter(traffic)

    async def signaller() -> None:
        for lead, event in queue:
            try:
                await send_events(client, lead, [event])
            except RPCError as err:  # counted and reported, never retried
                sent.refused[str(err).splitlines()[0][:100]] += 1
                continue
            sent.accepted += 1
            sent.first = sent.first or time.perf_counter()

    sent.started = time.perf_counter()
    await asyncio.gather(*(signaller() for _ in range(SIGNALLERS)))
    sent.finished = time.perf_counter()


async def post_all(http: httpx.AsyncClient, calls: list[dict[str, Any]], sent: Sent) -> None:
    """Track calls through /v1/batch, for the relay to deliver."""
    sent.started = time.perf_counter()
    load = await post_batches(http, batches(calls))
    sent.accepted, sent.first, sent.finished = load.accepted, load.first_ok, load.finished
    sent.refused.update({f"HTTP {status}": n for status, n in load.refused.items()})


@dataclass
class Progress:
    """Each lead's `event_count` as last read, and when it reached what it was sent."""

    expected: dict[str, int]
    applied: dict[str, int] = field(default_factory=dict)
    done_at: dict[str, float] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def total(self) -> int:
        """Events applied, as far as read."""
        return sum(self.applied.values())

    async def read(self, client: Client, lead: str) -> None:
        """Ask the lead's workflow; a frozen one cannot answer, and its error is kept."""
        try:
            count = (await asyncio.wait_for(lead_state(client, lead), 10)).event_count
        except (RPCError, WorkflowQueryFailedError, TimeoutError) as err:
            self.errors[lead] = f"{type(err).__name__}: {str(err).splitlines()[0][:100]}" \
                if str(err) else type(err).__name__
            return
        self.errors.pop(lead, None)
        self.applied[lead] = count
        if count >= self.expected[lead]:
            self.done_at.setdefault(lead, time.perf_counter())

    async def read_all(self, client: Client, leads: Sequence[str]) -> None:
        """Read these leads, PROBES at a time."""
        gate = asyncio.Semaphore(PROBES)

        async def one(lead: str) -> None:
            async with gate:
                await self.read(client, lead)

        await asyncio.gather(*(one(lead) for lead in leads))


async def wait_applied(client: Client, progress: Progress, deadline: float,
                       stall: float) -> str:
    """Poll until every lead has applied its events: "" then, else why the wait ended.

    A sample of 16 is polled four times a second until it is done, then all leads twice a
    second, so polling stays a small share of the CPU.
    """
    moved = time.perf_counter()
    sample = random.Random(7).sample(sorted(progress.expected), min(16, len(progress.expected)))
    for group, pause in ((sample, 0.25), (list(progress.expected), 0.5)):
        while todo := [lead for lead in group if lead not in progress.done_at]:
            now = time.perf_counter()
            if now > deadline:
                return "the phase's time limit (--timeout) ran out"
            if stall and now - moved > stall:
                return f"no event was applied for {stall:.0f} s (--stall)"
            before = progress.total
            await progress.read_all(client, todo)
            if progress.total > before:
                moved = time.perf_counter()
            await asyncio.sleep(pause)
    return ""


def exactly_once(progress: Progress) -> str:
    """How many leads applied exactly what they were sent, fewer, or more; a lead whose
    state cannot be read at the end is counted apart."""
    exact = fewer = more = missing = extra = 0
    for lead, expected in progress.expected.items():
        if lead in progress.errors:
            continue
        count = progress.applied.get(lead, 0)
        exact += count == expected
        if count < expected:
            fewer, missing = fewer + 1, missing + expected - count
        elif count > expected:
            more, extra = more + 1, extra + count - expected
    line = (f"exactly once: {exact:,} of {len(progress.expected):,} leads applied exactly "
            f"what was sent; {fewer:,} fewer ({missing:,} events short), {more:,} more "
            f"({extra:,} events twice)")
    if progress.errors:
        why = Counter(progress.errors.values()).most_common(1)[0][0]
        line += (f"; {len(progress.errors):,} unknown, their state unreadable at the end "
                 f"(e.g. {why})")
    return line
