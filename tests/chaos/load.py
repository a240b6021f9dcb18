"""The chaos run's event producer: leads identified and their behavior sent through the
Segment-compatible API, retried like an SDK retries, every acknowledgement written down.

`plan_load` lays out who does what and when (offsets from the start of the load); `Producer`
sends it: each call at its time, alone (`/v1/identify`, `/v1/track`) or, for a share of the
calls, with others in one `/v1/batch` flushed every half second (as SDKs batch), to the
APIs in turn. A call counts as acknowledged only
when a request carrying it got a 2xx; anything else (a refused connection, a reset, a 429
or 503, a timeout) is retried with the same `messageId`, after `Retry-After` when the API
gave one, on the next API, until it is acknowledged or the producer gives up.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx

from tests.chaos.playbook import PING
from tests.stack import daytime_zone

DEMO = "Demo Requested"
REQUEST_TIMEOUT = 30.0
"""Seconds a request may take before the producer gives it up and retries."""
MOST_PER_BATCH = 10
FLUSH = 0.5
"""Seconds a call waits for others to share its batch, as an SDK's flush interval."""


@dataclass
class Lead:
    """One lead of the run and what the SMTP server will do with its mail."""

    id: str
    email: str
    bounce: bool = False  # its mailbox does not exist: 550 5.1.1
    refuse: bool = False  # policy refuses mail to it: 550 5.7.1
    demo: bool = False  # it asks for a demo at some point


@dataclass
class Call:
    """One Segment call and what became of it."""

    message_id: str
    lead: str
    kind: str  # "identify" or "track"
    due: float  # seconds after the load starts
    body: dict[str, Any]
    event: str | None = None  # the event type a track call becomes
    acked_at: float | None = None  # seconds since the epoch
    attempts: int = 0
    refused: str | None = None  # a 4xx that retrying cannot fix: the producer's bug or ours


@dataclass
class Plan:
    """Every lead and every call of a run, calls in the order they fall due."""

    leads: list[Lead]
    calls: list[Call]
    duration: float

    def __post_init__(self) -> None:
        self._by_id = {lead.id: lead for lead in self.leads}

    def lead(self, lead_id: str) -> Lead:
        """The lead with this id."""
        return self._by_id[lead_id]


def plan_load(count: int, duration: float, *, seed: int = 1, prefix: str = "c",
              bad_share: float = 0.05, demo_share: float = 0.3,
              follow_within: float = 8.0) -> Plan:
    """`count` leads identified over the first four fifths of `duration` seconds, each
    followed within `follow_within` seconds by one to three pings and, for a share of them,
    a demo request.
    Of every 1/`bad_share` leads (in the order they start) one has a mailbox that does not exist and
    another's mail is refused by policy; a lead with a bad mailbox never asks for a demo,
    so it ends suppressed whatever the timing."""
    rng = random.Random(seed)
    zone = daytime_zone(datetime.now(UTC))
    every = round(1 / bad_share) if bad_share > 0 else 0
    starts = sorted(rng.uniform(0, duration * 0.8) for _ in range(count))
    leads, calls = [], []
    for number, start in enumerate(starts):
        lead_id = f"{prefix}-{number:05d}"
        lead = Lead(id=lead_id, email=f"{lead_id}@{lead_id}.chaos-co.io",
                    bounce=bool(every) and number % every == 2,
                    refuse=bool(every) and number % every == every // 2 + 2)
        lead.demo = not lead.bounce and rng.random() < demo_share
        leads.append(lead)
        calls.append(Call(f"{lead_id}:identify", lead_id, "identify", start, {
            "userId": lead_id, "messageId": f"{lead_id}:identify", "traits": {
                "email": lead.email, "firstName": rng.choice(("Ana", "Ben", "Chloe", "Dev")),
                "lastName": rng.choice(("Ruiz", "Okafor", "Lindqvist")),
                "title": rng.choice(("VP Marketing", "Head of Growth", "Marketing Manager")),
                "company": f"Chaos Co {number}", "employees": rng.choice((80, 450, 2_000)),
                "industry": "saas", "country": "US", "timezone": zone}}))
        events = [PING] * rng.randint(1, 3) + ([DEMO] if lead.demo else [])
        for n, event in enumerate(events):
            message_id = f"{lead_id}:{'demo' if event == DEMO else 'ping'}:{n}"
            at = start + rng.uniform(follow_within / 16, follow_within)
            calls.append(Call(message_id, lead_id, "track", at, {
                "userId": lead_id, "messageId": message_id, "event": event,
                "properties": {"n": n}}, event="demo_requested" if event == DEMO else PING))
    calls.sort(key=lambda call: call.due)
    return Plan(leads, calls, duration)


@dataclass
class Answer:
    """One request's answer: when it was sent, how long it took, what came back."""

    sent: float  # seconds since the epoch
    took: float
    status: str  # "200", "503", or the transport error's name
    retry_after: bool = False


@dataclass
class Answers:
    """What the APIs answered, request by request."""

    log: list[Answer] = field(default_factory=list)

    @property
    def statuses(self) -> Counter[str]:
        """Answers by status."""
        return Counter(answer.status for answer in self.log)

    @property
    def retry_after(self) -> int:
        """429/503 answers that said when to come back."""
        return sum(1 for answer in self.log if answer.retry_after)

    @property
    def slowest(self) -> float:
        """Seconds the slowest answered request took."""
        return max((a.took for a in self.log if a.status.isdigit()), default=0.0)

    @property
    def slow_refusals(self) -> float:
        """Seconds the slowest 503 took to come."""
        return max((a.took for a in self.log if a.status == "503"), default=0.0)

    def between(self, start: float, end: float) -> Answers:
        """The answers to requests sent from `start` to `end` (seconds since the epoch)."""
        return Answers([answer for answer in self.log if start <= answer.sent <= end])


class Producer:
    """Sends a plan's calls to the APIs at their times and keeps sending each until it is
    acknowledged (or `give_up` seconds after the load started)."""

    def __init__(self, plan: Plan, urls: Sequence[str], write_key: str, *,
                 batch_share: float = 0.3, concurrency: int = 16, give_up: float = 600.0,
                 seed: int = 1, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.plan, self.urls, self.write_key = plan, list(urls), write_key
        self.batch_share, self.give_up = batch_share, give_up
        self.answers = Answers()
        self.batches_in_flight = 0
        self._in_flight: dict[int, float] = {}  # request → when it was sent
        self._stopping = False
        self._probes = 0
        self._begun = time.monotonic()
        self._probing: list[asyncio.Task[None]] = []
        self._limit = asyncio.Semaphore(concurrency)
        self._next_api = itertools.cycle(range(len(self.urls)))
        self._rng = random.Random(seed)
        self._http: httpx.AsyncClient | None = None
        self._transport = transport  # tests hand in a mock; None: real TCP

    @property
    def acknowledged(self) -> list[Call]:
        """Calls some API answered with a 2xx."""
        return [call for call in self.plan.calls if call.acked_at is not None]

    def stop(self) -> None:
        """Start no more leads: calls of leads already identified still go out."""
        self._stopping = True

    def probe(self) -> Call | None:
        """Send a ping now, for the lead identified last (None before any was): a request
        that is sure to meet whatever the API is going through right now."""
        started = [call.lead for call in self.plan.calls
                   if call.kind == "identify" and call.acked_at is not None]
        if not started or self._http is None:
            return None
        lead = started[-1]
        self._probes += 1
        message_id = f"{lead}:probe:{self._probes}"
        call = Call(message_id, lead, "track", time.monotonic() - self._begun, {
            "userId": lead, "messageId": message_id, "event": PING,
            "properties": {"probe": self._probes}}, event=PING)
        self.plan.calls.append(call)
        self._probing.append(asyncio.create_task(self._deliver([call], self._begun)))
        return call

    def answered_before(self, moment: float) -> bool:
        """Whether every request sent before `moment` (seconds since the epoch) has been
        answered (or has failed)."""
        return all(sent >= moment for sent in self._in_flight.values())

    @property
    def sent(self) -> list[Call]:
        """Calls sent at least once."""
        return [call for call in self.plan.calls if call.attempts]

    async def run(self) -> None:
        """Send every call at its time (until stopped: then only those of leads already
        identified) and wait until each is acknowledged or given up."""
        begun = self._begun = time.monotonic()
        sending: list[asyncio.Task[None]] = []
        async with httpx.AsyncClient(timeout=REQUEST_TIMEOUT, transport=self._transport,
                                     limits=httpx.Limits(max_keepalive_connections=8)) as http:
            self._http = http
            queue = list(self.plan.calls)
            started: set[str] = set()
            batch: list[Call] = []
            batch_since = 0.0
            while queue or batch:
                if self._stopping:
                    queue = [call for call in queue if call.lead in started]
                now = time.monotonic() - begun
                due = [call for call in queue if call.due <= now]
                queue = queue[len(due):]
                started |= {call.lead for call in due if call.kind == "identify"}
                for call in due:
                    if self._rng.random() >= self.batch_share:
                        sending.append(asyncio.create_task(self._deliver([call], begun)))
                        continue
                    batch_since = batch_since if batch else now
                    batch.append(call)
                if batch and (len(batch) >= MOST_PER_BATCH or now - batch_since >= FLUSH
                              or not queue):
                    sending.append(asyncio.create_task(self._deliver(batch, begun)))
                    batch = []
                await asyncio.sleep(0.02)
            await asyncio.gather(*sending)
            await asyncio.gather(*self._probing)
            self._http = None

    async def _deliver(self, calls: list[Call], begun: float) -> None:
        """Send one request until it is acknowledged, refused for good, or given up."""
        pause = 0.25
        while time.monotonic() - begun < self.give_up:
            url = self.urls[next(self._next_api)]
            async with self._limit:
                wait = await self._attempt(url, calls)
            if wait is None:
                return
            await asyncio.sleep(wait if wait > 0 else pause)
            pause = min(pause * 2, 4.0)

    async def _attempt(self, url: str, calls: list[Call]) -> float | None:
        """One request; None when done with these calls, else seconds to wait (0: back
        off as the producer does)."""
        assert self._http is not None
        if len(calls) == 1:
            call = calls[0]
            path, body = f"/v1/{call.kind}", call.body
        else:
            path = "/v1/batch"
            body = {"batch": [{"type": call.kind, **call.body} for call in calls]}
        now = time.time()
        for call in calls:
            call.attempts += 1
        started = time.monotonic()
        self.batches_in_flight += len(calls) > 1
        request = id(calls)
        self._in_flight[request] = now
        try:
            answer = await self._http.post(url + path, json=body, auth=(self.write_key, ""))
        except httpx.TransportError as err:
            self.answers.log.append(Answer(now, time.monotonic() - started,
                                           type(err).__name__))
            return 0.0
        finally:
            self.batches_in_flight -= len(calls) > 1
            del self._in_flight[request]
        after = answer.headers.get("retry-after", "")
        self.answers.log.append(Answer(now, time.monotonic() - started,
                                       str(answer.status_code),
                                       retry_after=after.isdigit()))
        if answer.is_success:
            acked = time.time()
            for call in calls:
                call.acked_at = call.acked_at or acked
            return None
        if answer.status_code == 429 or answer.status_code >= 500:
            return float(after) if after.isdigit() else 0.0
        for call in calls:  # a 4xx: sending it again would not help
            call.refused = f"{answer.status_code} {answer.text[:200]}"
        return None
