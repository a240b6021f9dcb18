"""The relay: carries accepted inbound messages from the store to lead workflows, in order.

The API only persists; the relay delivers. One relay at a time holds a lease in the
database (run as many API processes as you like), reads pending messages in `seq` order,
links anonymous ids to leads, merges traits into the contact, and sends each lead's
backlog in one signal — signal-with-start for a lead not yet enrolled. Rows are marked
delivered only after Temporal took the signal, so a crash or an outage delays events but
never loses them; the workflow ignores an event id it has seen, so a redelivery after a
crash never doubles one. While Temporal is unreachable the relay backs off and retries.

A pass reads up to `batch` (5,000) pending rows: under a burst, each lead's share of it goes
in one signal, and a lead's workflow task costs the server the same however many events
its signal carries, so the more of a burst one pass takes, the fewer tasks it costs (with
2,000, a 5,000-event burst over 500 leads took three passes and 1,414 signals; with 5,000,
two and 959: `bench/ingest.py`). A pass of 5,000 rows holds a few megabytes.

New leads' workflows are started at the pace the workers keep up with (`engine.client.
pacing`): a lead over the pass's allowance keeps its rows pending for a later pass, while
leads already running get their events at once, also when more new leads wait than a pass
reads (a pass then adds the oldest pending rows of running leads to the oldest rows).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import ValidationError
from temporalio.api.workflowservice.v1 import GetSystemInfoRequest
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from engine.client.holders import holder_gone, holder_name
from engine.client.leads import signal_events, start_with_events
from engine.client.pacing import StartPacer, read_queue
from engine.dsl.spec import PlaybookSpec
from engine.events import Event
from engine.leads import LeadProfile
from engine.runtime.messages import EventsSignal
from engine.store import InboundKind, InboundRow, LeadDelivery, Store
from engine.store.tables import ContactRow

log = logging.getLogger("nurture.relay")

LEASE = "relay"
TEMPORAL_RETRY_MAX = 2.0  # seconds between two attempts while Temporal is unreachable
LEASE_TTL = timedelta(seconds=6)
"""How long the relay's lease outlives its holder's last word: another API process's relay
takes over within this after the holder dies on another machine (at once on the same
machine, `engine.client.holders`). The holder renews it every third of it, also mid-pass."""
HEALTH_EVERY = 1.0  # seconds between two of /health's questions to Temporal
HEALTH_TIMEOUT = timedelta(seconds=1)
MAX_EVENTS_PER_SIGNAL = 200
GIVE_UP_AFTER = 8
_DOWN = frozenset({RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED,
                   RPCStatusCode.CANCELLED, RPCStatusCode.RESOURCE_EXHAUSTED})


class TemporalUnavailable(Exception):
    """The Temporal server cannot be reached; nothing was marked delivered."""


@dataclass
class _Backlog:
    """One lead's share of a pass: its rows in order."""

    lead_id: str
    rows: list[InboundRow] = field(default_factory=list)


@dataclass
class _Plan:
    """What a pass will do for one lead: its merged traits, events and profile."""

    backlog: _Backlog
    contact: ContactRow | None
    traits: dict[str, Any]
    before: dict[str, Any]
    events: list[Event]
    profile: LeadProfile | None

    @property
    def enrolled(self) -> bool:
        """Whether the lead's workflow was started by an earlier pass."""
        return bool(self.contact and self.contact.enrolled)

    @property
    def starts(self) -> bool:
        """Whether delivering starts the lead's workflow (what pacing counts)."""
        return self.profile is not None and not self.enrolled


class Relay:
    """Delivers the inbound ledger to lead workflows until cancelled."""

    def __init__(self, store: Store, playbook: PlaybookSpec,
                 connect: Callable[[], Awaitable[Client]], *, task_queue: str = "nurture",
                 batch: int = 5000, concurrency: int = 32, poll: float = 1.0,
                 history_limit: int = 10_000, pacer: StartPacer | None = None,
                 check_every: float = 2.0, clock: Callable[[], float] = time.monotonic
                 ) -> None:
        self.store, self.playbook, self._connect = store, playbook, connect
        self.task_queue, self.batch, self.poll = task_queue, batch, poll
        self.history_limit = history_limit
        self.clock = clock  # seconds, for pacing only
        self.pacer = pacer or StartPacer(now=clock())
        self.check_every = check_every  # seconds between task queue readings
        self._checked_at: float | None = None
        self._readable = True  # False once the server said it keeps no queue statistics
        self.deferred = 0  # new leads the last pass left for later, over its allowance
        self.holder = holder_name(self)
        self._client: Client | None = None
        self._wake = asyncio.Event()
        self._limit = asyncio.Semaphore(concurrency)
        self.delivered = 0
        self.connected = False
        self._asked: tuple[float, bool] | None = None  # when /health last asked, and the answer
        self.lease_ttl = LEASE_TTL
        self._holding = False

    def wake(self) -> None:
        """New messages were accepted: deliver now rather than at the next poll."""
        self._wake.set()

    async def client(self) -> Client:
        """The Temporal client, connected on first use."""
        if self._client is None:
            try:
                self._client = await self._connect()
            except Exception as err:  # noqa: BLE001 - any connect failure means "not yet"
                raise TemporalUnavailable(str(err)) from err
            self.connected = True
        return self._client

    async def reachable(self) -> bool:
        """Whether Temporal answers right now (for `/health`): a cheap call on the relay's
        client, asked at most once a second; before the relay has a client, whether it
        ever connected."""
        now = self.clock()
        if self._asked is not None and now - self._asked[0] < HEALTH_EVERY:
            return self._asked[1]
        if self._client is None:
            return self.connected
        try:
            await self._client.workflow_service.get_system_info(
                GetSystemInfoRequest(), timeout=HEALTH_TIMEOUT)
            answered = True
        except Exception:  # noqa: BLE001 - any failure means "not reachable now"
            answered = False
        self._asked, self.connected = (now, answered), answered
        return answered

    async def run(self) -> None:
        """Deliver, wait for news or the poll interval, repeat; back off while Temporal is down."""
        pause = 0.5
        keeper = asyncio.create_task(self._keep_lease())
        try:
            while True:
                self._wake.clear()
                try:
                    moved = await self.deliver_once()
                    pause = 0.5
                except TemporalUnavailable as err:
                    # Asking again is one cheap call: at most every 2 s, so delivery resumes
                    # within 2 s of the server's return (not after a long backoff).
                    if self.connected or pause == 0.5:
                        log.warning("Temporal unreachable (%s); retrying every %.0fs until it "
                                    "answers", err, TEMPORAL_RETRY_MAX)
                    self.connected = False
                    await asyncio.sleep(pause)
                    pause = min(pause * 2, TEMPORAL_RETRY_MAX)
                    continue
                except Exception:  # noqa: BLE001 - a database hiccup must not kill the relay
                    log.exception("relay pass failed; retrying in %.1fs", pause)
                    await asyncio.sleep(pause)
                    pause = min(pause * 2, 15.0)
                    continue
                if self.deferred:  # paced: come back once a pass is worth its reads
                    await asyncio.sleep(max(0.05, self.pacer.wait_for(self.deferred,
                                                                      self.clock())))
                    continue
                if moved:
                    continue
                try:
                    await asyncio.wait_for(self._wake.wait(), self.poll)
                except TimeoutError:
                    pass
        finally:
            keeper.cancel()
            await asyncio.to_thread(self.store.release_lease, LEASE, self.holder)

    async def _hold_lease(self, now: datetime) -> bool:
        """Take or renew the lease (at once from a dead holder of this machine)."""
        return bool(await self._db(self.store.hold_lease, LEASE, self.holder,
                                   ttl=self.lease_ttl, now=now, gone=holder_gone))

    async def _keep_lease(self) -> None:
        """Renew the lease while this relay holds it, between passes and during a long one,
        so that it never lapses under a live holder however long a pass takes."""
        while True:
            await asyncio.sleep(self.lease_ttl.total_seconds() / 3)
            if self._holding:
                try:
                    self._holding = await self._hold_lease(datetime.now(UTC))
                except Exception:  # noqa: BLE001 - the next pass tries again and says why
                    self._holding = False

    async def deliver_once(self) -> int:
        """One pass over the oldest pending messages; how many rows it settled."""
        now = datetime.now(UTC)
        self.deferred = 0
        self._holding = await self._hold_lease(now)
        if not self._holding:
            return 0
        rows = await self._db(self.store.pending_inbound, self.batch, running_too=True)
        if not rows:
            return 0
        client = await self.client()
        backlogs, anonymous = await self._sort_out(rows, now)
        contacts = await self._db(self.store.contacts, [b.lead_id for b in backlogs])
        plans = [_plan(b, contacts.get(b.lead_id)) for b in backlogs]
        plans = await self._pace(client, plans)
        results = await asyncio.gather(*(self._deliver(client, p, now) for p in plans),
                                       return_exceptions=True)
        done = [r for r in results if isinstance(r, LeadDelivery)]
        # One transaction settles the whole pass: a crash before it only means a redelivery,
        # which the workflow ignores by event id.
        await self._db(self.store.settle_pass, done, anonymous=[r.seq for r in anonymous],
                       now=now)
        down = [r for r in results if isinstance(r, TemporalUnavailable)]
        for result in results:
            if isinstance(result, BaseException) and not isinstance(result, TemporalUnavailable):
                log.error("delivery failed: %r", result)
        if down and len(down) == len(results):
            raise down[0]
        settled = sum(len(r.delivered) + len(r.waiting) for r in done)
        self.delivered += settled
        return settled + len(anonymous)

    async def _sort_out(self, rows: list[InboundRow], now: datetime
                        ) -> tuple[list[_Backlog], list[InboundRow]]:
        """Give every row its lead (pulling in rows held for the ids this pass links)."""
        links: dict[str, str] = await self._db(
            self.store.identity, {r.anonymous_id for r in rows if r.anonymous_id})
        tying: dict[str, str] = {}
        for row in rows:
            if row.lead_id and row.anonymous_id:
                tying.setdefault(row.anonymous_id, row.lead_id)  # the first call's tie wins
        for anonymous_id, lead_id in tying.items():  # a call with both ids ties them
            if anonymous_id not in links:
                links[anonymous_id] = await self._db(
                    self.store.link_identity, anonymous_id, lead_id, now=now)
        # Rows held as anonymous wait for a call that ties their id to a lead (also when the
        # link itself was written by a pass that crashed before settling).
        held = await self._db(self.store.held_inbound, anonymous_ids=sorted(tying))
        profiled = {r.lead_id or "" for r in rows if r.kind == InboundKind.PROFILE}
        profiled |= {links[r.anonymous_id] for r in rows
                     if r.kind == InboundKind.PROFILE and r.anonymous_id in links}
        held += await self._db(self.store.held_inbound, lead_ids=sorted(profiled - {""}))
        everything = {r.seq: r for r in [*rows, *held]}
        backlogs: dict[str, _Backlog] = {}
        anonymous: list[InboundRow] = []
        for seq in sorted(everything):  # type: ignore[type-var]
            row = everything[seq]
            lead = row.lead_id or links.get(row.anonymous_id or "")
            if lead is None:
                anonymous.append(row)
            else:
                backlogs.setdefault(lead, _Backlog(lead)).rows.append(row)
        return list(backlogs.values()), anonymous

    async def _pace(self, client: Client, plans: list[_Plan]) -> list[_Plan]:
        """The plans this pass carries out: every running lead's, and as many new leads'
        (oldest first) as the pacer allows; the rest stay pending."""
        starts = [p for p in plans if p.starts]
        if not starts:
            return plans
        now = self.clock()
        if self._readable and (self._checked_at is None
                               or now - self._checked_at >= self.check_every):
            self._checked_at = now
            reading, self._readable = await read_queue(client, self.task_queue)
            self.pacer.observe(reading, now)
        allowed = min(len(starts), self.pacer.allowance(now))
        self.pacer.started(allowed)
        later = {id(p) for p in starts[allowed:]}
        self.deferred = len(later)
        return [p for p in plans if id(p) not in later]

    async def _deliver(self, client: Client, plan: _Plan, now: datetime) -> LeadDelivery:
        """Signal (or start) the lead's workflow; what the pass should record."""
        async with self._limit:
            backlog, contact, traits, before = plan.backlog, plan.contact, plan.traits, \
                plan.before
            seqs = [r.seq for r in backlog.rows if r.seq is not None]
            adopted = [r.seq for r in backlog.rows if r.lead_id is None and r.seq is not None]
            enrolled = plan.enrolled
            outcome = LeadDelivery(lead_id=backlog.lead_id, adopted=adopted,
                                   traits=traits if traits != before or contact is None
                                   else None, enrolled=enrolled)
            profile = plan.profile
            if profile is None:  # not enrollable yet: keep events until an identify says more
                outcome.waiting = [r.seq for r in backlog.rows
                                   if r.kind == InboundKind.EVENT and r.seq is not None]
                outcome.delivered = [s for s in seqs if s not in outcome.waiting]
                return outcome
            if enrolled and traits != before:
                # Stored before the workflow hears it: whoever sees the workflow's new
                # profile finds the new address stored too (the unsubscribe page reads it).
                await self._db(self.store.upsert_lead, profile, now=now)
            try:
                await self._signal(client, profile, plan.events, enrolled=enrolled,
                                   changed=traits != before)
            except RPCError as err:
                if err.status in _DOWN:
                    raise TemporalUnavailable(str(err)) from err
                await self._db(self.store.retry_inbound, seqs, error=str(err),
                               give_up_after=GIVE_UP_AFTER, now=now)
                raise
            except Exception as err:  # e.g. a payload Temporal refuses: count it, never loop
                await self._db(self.store.retry_inbound, seqs, error=repr(err),
                               give_up_after=GIVE_UP_AFTER, now=now)
                raise
            self.connected = True  # Temporal took it (also after an outage, same client)
            if not enrolled:
                outcome.enrolled, outcome.traits = True, traits
            if enrolled and traits != before:
                outcome.profile = profile
            outcome.delivered = seqs
            return outcome

    async def _signal(self, client: Client, profile: LeadProfile, events: list[Event], *,
                      enrolled: bool, changed: bool) -> None:
        chunks = [events[i:i + MAX_EVENTS_PER_SIGNAL]
                  for i in range(0, len(events), MAX_EVENTS_PER_SIGNAL)] or [[]]
        for number, chunk in enumerate(chunks):
            first = number == 0
            signal = EventsSignal(events=chunk, profile=profile if first and changed else None)
            if enrolled or not first:
                try:
                    await signal_events(client, profile.id, signal)
                    continue
                except RPCError as err:
                    if err.status != RPCStatusCode.NOT_FOUND:
                        raise
            await start_with_events(client, profile, self.playbook,
                                    EventsSignal(events=chunk, profile=profile),
                                    task_queue=self.task_queue,
                                    history_limit=self.history_limit)

    @staticmethod
    async def _db(work: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return await asyncio.to_thread(work, *args, **kwargs)


def _plan(backlog: _Backlog, contact: ContactRow | None) -> _Plan:
    """Merge the lead's new traits into what its contact holds, and collect its events."""
    traits = dict(contact.traits) if contact else {}
    before = dict(traits)
    events: list[Event] = []
    for row in backlog.rows:
        if row.kind == InboundKind.PROFILE:
            traits.update(row.payload.get("traits", {}))
        elif row.kind == InboundKind.EVENT:
            events.append(Event.model_validate(row.payload))
    return _Plan(backlog, contact, traits, before, events, _profile(backlog.lead_id, traits))


def _profile(lead_id: str, traits: dict[str, Any]) -> LeadProfile | None:
    """The lead profile the traits describe, or None while there is no usable email."""
    if not traits.get("email"):
        return None
    try:
        return LeadProfile.model_validate({**traits, "id": lead_id})
    except ValidationError as err:
        log.warning("lead %s: traits do not make a profile: %s", lead_id, err)
        return None
