"""Whether each lead's work is done: what its acknowledged calls promise, what its workflow
and the database show, and waiting (on conditions, never on the clock) until they agree.

A lead is *caught up* when every call acknowledged for it (up to some moment) has reached
its workflow and nothing it was due is late: no email claimed and unfinished, no email or
notice its step owes, no step overdue (the pause between its two emails may still run).
It is *settled* when, besides, it is where its calls lead in the end: suppressed (a bad
mailbox), with sales (it asked for a demo) or done after both emails (everyone else).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from temporalio.client import Client

from engine.client import workflow_id_for
from engine.runtime.notices import NOTICE_TEMPLATE
from tests.chaos.books import Books, read_books
from tests.chaos.load import Call, Lead, Plan
from tests.chaos.playbook import PAUSE
from tests.chaos.site import Site

SLACK = 2.0
"""Seconds past the pause a lead's next step may take before it counts as late."""
LAG = 3.0
"""Seconds a call may take from its acknowledgement to its lead's workflow while the
system keeps up."""
DESCRIBE_SECONDS = 5.0


@dataclass
class Promise:
    """What a lead's acknowledged calls promise."""

    lead: Lead
    identified: bool = False
    events: set[str] = field(default_factory=set)  # event ids (the calls' messageIds)
    calls: set[str] = field(default_factory=set)  # every call's messageId, identify too
    demo: bool = False

    @property
    def end(self) -> str:
        """The phase the lead must end in."""
        if self.lead.bounce:
            return "suppressed"
        return "sales" if self.demo else "exited"


def promises(plan: Plan, calls: Iterable[Call]) -> dict[str, Promise]:
    """What these (acknowledged) calls promise, lead by lead."""
    found: dict[str, Promise] = {}
    for call in calls:
        promise = found.setdefault(call.lead, Promise(plan.lead(call.lead)))
        promise.calls.add(call.message_id)
        if call.kind == "identify":
            promise.identified = True
        else:
            promise.events.add(call.message_id)
            promise.demo = promise.demo or call.event == "demo_requested"
    return found


def acknowledged_before(plan: Plan, moment: float, since: float = 0.0) -> dict[str, Promise]:
    """The promises of the calls acknowledged before `moment` (and from `since` on), in
    seconds since the epoch."""
    return promises(plan, [c for c in plan.calls
                           if c.acked_at is not None and since <= c.acked_at < moment])


def missing_calls(promise: Promise, view: dict[str, Any] | None) -> list[str]:
    """Acknowledged calls the lead's workflow does not show (from its state as JSON)."""
    if view is None or view.get("source", "workflow") != "workflow":
        return sorted(promise.events) + (["identify"] if promise.identified else [])
    seen = {event["id"] for event in view.get("recent_events", [])}
    missing = sorted(promise.events - seen)
    if promise.identified and (view.get("lead") or {}).get("email") != promise.lead.email:
        missing.append("identify")
    return missing


def lateness(promise: Promise, books: Books, now: float) -> str | None:
    """What the lead is late with, or None when it is caught up."""
    lead = promise.lead.id
    position = books.positions.get(lead)
    if position is None:
        return "not registered"
    sends = books.sends_of(lead)
    unfinished = [send.template for send in sends if send.unfinished]
    if unfinished:
        return f"email {unfinished[0]} claimed, not finished"
    if position.phase in ("exited", "suppressed"):
        return None
    if position.phase == "sales":
        if not books.escalations.get(lead):
            return "with sales but no task"
        if not any(send.template.startswith(NOTICE_TEMPLATE) for send in sends):
            return "its task's owner not told"
        return None
    waited = now - position.updated_at
    if position.step == "pause" and waited < PAUSE.total_seconds() + SLACK:
        return None
    return f"at {position.phase}/{position.step} for {waited:.1f} s"


class Arrivals:
    """Whether promised calls have reached their leads' workflows, asked of the Temporal
    server alone (so a dead worker cannot slow the asking): a call has arrived once the
    relay marked it delivered (Temporal took the signal) and, after that, the lead's
    workflow has no workflow task pending (every signal it took has been handled). A lead
    whose calls all arrived is not asked again: what reached a workflow stays there."""

    def __init__(self, client_of: Callable[[], Client | None]) -> None:
        self._client_of = client_of
        self._limit = asyncio.Semaphore(16)
        self.arrived: dict[str, set[str]] = {}  # lead → messageIds seen arrived

    async def idle(self, lead: str) -> bool:
        """Whether the lead's workflow exists and has no workflow task pending."""
        client = self._client_of()
        if client is None:
            return False
        async with self._limit:
            try:
                described = await asyncio.wait_for(
                    client.get_workflow_handle(workflow_id_for(lead)).describe(),
                    DESCRIBE_SECONDS)
            except Exception:  # noqa: BLE001 - no workflow yet, or Temporal is down
                return False
        return not described.raw_description.HasField("pending_workflow_task")

    async def missing(self, promises: dict[str, Promise], books: Books
                      ) -> dict[str, list[str]]:
        """Per lead, the promised calls that have not arrived yet (`books` read before)."""
        found: dict[str, list[str]] = {}
        asking: list[str] = []
        for lead, promise in promises.items():
            left = sorted(promise.calls - self.arrived.get(lead, set()))
            if not left:
                continue
            undelivered = [call for call in left if books.inbound.get(call) != "delivered"]
            if undelivered:
                found[lead] = undelivered
            else:
                asking.append(lead)
        answers = await asyncio.gather(*(self.idle(lead) for lead in asking))
        for lead, idle in zip(asking, answers, strict=True):
            if idle:
                self.arrived[lead] = set(promises[lead].calls)
            else:
                found[lead] = ["delivered, its workflow task still pending"]
        return found


async def behind(site: Site, arrivals: Arrivals, promises: dict[str, Promise], *,
                 settle: bool, newer: dict[str, Promise] | None = None) -> dict[str, str]:
    """Leads not caught up (or, with `settle`, not settled), and why; and, among `newer`
    (calls that should have arrived by now), those whose calls have not."""
    assert site.store is not None
    books = await asyncio.to_thread(read_books, site.store)
    missing = await arrivals.missing(promises, books)
    now = time.time()
    found = {lead: f"calls not applied: {', '.join(calls)}" for lead, calls in missing.items()}
    for lead, promise in promises.items():
        if lead in found:
            continue
        why = lateness(promise, books, now)
        if why is None and settle:
            phase = books.positions[lead].phase
            why = None if phase == promise.end else f"{phase}, expected {promise.end}"
        if why is not None:
            found[lead] = why
    for lead, calls in (await arrivals.missing(newer, books) if newer else {}).items():
        found.setdefault(lead, f"calls acknowledged over {LAG:g} s ago not applied: "
                               f"{', '.join(calls)}")
    return found


async def until_caught_up(site: Site, arrivals: Arrivals, promises: dict[str, Promise], *,
                          settle: bool, deadline: float, every: float = 0.5,
                          newer: Callable[[float], dict[str, Promise]] | None = None
                          ) -> tuple[float | None, dict[str, str]]:
    """Poll until no lead is behind (and, with `newer`, every call it names for a moment
    has arrived: those acknowledged until LAG seconds before it); when that was first seen
    (None if `deadline`, in seconds since the epoch, came first) and who was still behind
    then. A lead once caught up is not asked again."""
    left = dict(promises)
    why: dict[str, str] = {}
    while True:
        moment = time.time()
        why = await behind(site, arrivals, left, settle=settle,
                           newer=newer(moment - LAG) if newer else None)
        if not why:
            return moment, {}
        left = {lead: promise for lead, promise in left.items() if lead in why}
        if time.time() > deadline:
            return None, why
        await asyncio.sleep(every)
