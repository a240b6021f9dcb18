"""The traffic the ingest bench sends: Segment calls, batches, concurrent senders, and the
waits until workflows have caught up."""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from ingest_stack import AGENT, CALLS_PER_BATCH, FEATURES, PROBES, SENDERS, WRITE_KEY
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowQueryFailedError
from temporalio.service import RPCError

from engine.client import lead_state, workflow_id_for


def track_call(lead: str, message_id: str, rng: random.Random, event: str = "Feature Used",
               properties: dict[str, Any] | None = None) -> dict[str, Any]:
    """A realistic Segment track call (a product-usage event unless told otherwise)."""
    feature = rng.choice(FEATURES)
    at = datetime.now(UTC) - timedelta(seconds=rng.uniform(0.5, 30))
    return {"type": "track", "userId": lead, "messageId": message_id, "event": event,
            "timestamp": at.isoformat(),
            "properties": properties or {"feature": feature, "path": f"/app/{feature}",
                                         "plan": "trial", "seats": rng.randint(1, 40),
                                         "duration_ms": rng.randint(200, 90_000)},
            "context": {"library": {"name": "analytics-node", "version": "2.1.0"},
                        "ip": f"198.51.100.{rng.randint(1, 254)}", "userAgent": AGENT,
                        "locale": "en-US"}}


def night_zone() -> str:
    """A time zone where it is about 1 a.m.: the welcome email waits hours for its window,
    so workflows sit idle in qualification while they are measured."""
    offset = (1 - datetime.now(UTC).hour) % 24
    offset = offset - 24 if offset > 12 else offset
    return f"Etc/GMT{-offset:+d}" if offset else "Etc/UTC"


def identify_call(lead: str, rng: random.Random, zone: str) -> dict[str, Any]:
    """An identify call; each lead works at its own company, so no buying committees form."""
    first, last = rng.choice(("Ana", "Ben", "Chloe", "Dev")), rng.choice(("Ruiz", "Okafor"))
    slug = f"{rng.choice(('acme', 'globex', 'initech', 'umbrella'))}-{lead}"
    return {"type": "identify", "userId": lead, "messageId": f"identify-{lead}",
            "traits": {"email": f"{first.lower()}@{slug}.io", "firstName": first,
                       "lastName": last, "title": rng.choice(("VP Marketing", "Director of "
                                                              "Revenue Operations")),
                       "company": slug.title(), "employees": rng.choice((80, 450, 2_000)),
                       "industry": "saas", "country": "US", "timezone": zone}}


def batches(calls: Sequence[dict[str, Any]]) -> list[tuple[bytes, int]]:
    """Request bodies of CALLS_PER_BATCH calls, serialised ahead of the clock."""
    return [(json.dumps({"batch": list(calls[i:i + CALLS_PER_BATCH])}).encode(),
             len(calls[i:i + CALLS_PER_BATCH])) for i in range(0, len(calls), CALLS_PER_BATCH)]


@dataclass
class Load:
    """What a burst of /v1/batch requests achieved."""

    accepted: int = 0
    refused: Counter[int] = field(default_factory=Counter)
    started: float = 0.0
    first_ok: float | None = None
    finished: float = 0.0

    @property
    def rate(self) -> float:
        """Calls accepted per second while sending."""
        return self.accepted / max(self.finished - self.started, 1e-9)


async def post_batches(http: httpx.AsyncClient, bodies: list[tuple[bytes, int]],
                       senders: int = SENDERS) -> Load:
    """Send the bodies with `senders` requests in flight; only 200 answers count."""
    load, queue = Load(), iter(bodies)

    async def sender() -> None:
        for body, calls in queue:
            answer = await http.post("/v1/batch", content=body,
                                     headers={"content-type": "application/json"})
            if answer.status_code != 200:
                load.refused[answer.status_code] += calls
                continue
            load.accepted += calls
            load.first_ok = load.first_ok or time.perf_counter()

    load.started = time.perf_counter()
    await asyncio.gather(*(sender() for _ in range(senders)))
    load.finished = time.perf_counter()
    return load


def api_client(port: int) -> httpx.AsyncClient:
    """An HTTP client for the API with room for every sender."""
    return httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", auth=(WRITE_KEY, ""),
                             timeout=120, limits=httpx.Limits(max_connections=SENDERS * 2,
                                                              keepalive_expiry=2))


async def settle(ids: Sequence[str], done: Callable[[str], Awaitable[bool]], *,
                 timeout: float = 600, stall: float | None = None) -> float:
    """The moment (perf_counter) the last id was first seen done.

    A sample of 16 is polled four times a second until all of it is done; only then is
    everything swept (and the stragglers re-swept), so polling stays a small share of CPU.
    TimeoutError after `timeout` s, or after `stall` s in which nothing new got done.
    """
    seen: dict[str, float] = {}
    limit = asyncio.Semaphore(PROBES)
    deadline = time.perf_counter() + timeout

    async def probe(key: str) -> None:
        async with limit:  # not started yet, or too busy to answer: not done
            with contextlib.suppress(RPCError, WorkflowQueryFailedError, TimeoutError):
                if await asyncio.wait_for(done(key), 10):
                    seen[key] = time.perf_counter()

    for group, pause in ((random.Random(7).sample(list(ids), min(16, len(ids))), 0.25),
                         (list(ids), 0.1)):
        while todo := [key for key in group if key not in seen]:
            now, progress = time.perf_counter(), max(seen.values(), default=deadline - timeout)
            if now > deadline or (stall is not None and now - progress > stall):
                raise TimeoutError(f"{len(ids) - len(seen)} of {len(ids)} not done after "
                                   f"{now - deadline + timeout:.0f} s")
            await asyncio.gather(*(probe(key) for key in todo))
            await asyncio.sleep(pause)
    return max(seen.values())


def wall(moment: float) -> float:
    """A perf_counter moment as a Unix time, to compare with times the server recorded."""
    return time.time() - (time.perf_counter() - moment)


async def last_task_done(client: Client, workflow_ids: Sequence[str]) -> float:
    """When (Unix time) the last of these workflows completed its latest workflow task, read
    from their histories: when the last signal was applied, without the polling delay."""
    gate = asyncio.Semaphore(PROBES)

    async def latest(workflow_id: str) -> float:
        found = 0.0
        async with gate:
            async for event in client.get_workflow_handle(workflow_id).fetch_history_events():
                if event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
                    found = event.event_time.seconds + event.event_time.nanos / 1e9
        return found

    return max(await asyncio.gather(*(latest(i) for i in workflow_ids)))


class Stalled(Exception):
    """The stack stopped making progress; the run reports what it measured until then."""


def rss(pid: int) -> float:
    """A process's resident memory in GiB."""
    status = Path(f"/proc/{pid}/status").read_text()
    return int(status.split("VmRSS:")[1].split()[0]) / 1024 ** 2


async def enroll(http: httpx.AsyncClient, client: Client, leads: list[str],
                 rng: random.Random, worker: int) -> float:
    """Identify the leads and wait until each workflow runs its entry track; seconds taken."""
    zone = night_zone()
    load = await post_batches(http, batches([identify_call(lead, rng, zone) for lead in leads]))
    if load.refused:
        raise RuntimeError(f"identify calls refused: {dict(load.refused)}")

    async def enrolled(lead: str) -> bool:
        state = await lead_state(client, lead)
        return state.phase == "qualification" and state.step is not None

    try:
        return await settle(leads, enrolled, timeout=90 + len(leads) / 5,
                            stall=60) - load.started
    except TimeoutError as err:
        timeouts = 0
        for lead in leads[:5]:
            with contextlib.suppress(RPCError):
                async for event in client.get_workflow_handle(
                        workflow_id_for(lead)).fetch_history_events():
                    timeouts += event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT
        raise Stalled(f"enrolling {len(leads)} leads: {err}; {timeouts} workflow-task timeouts "
                      f"in the first 5 leads' histories; worker RSS {rss(worker):.1f} GiB"
                      ) from None


# --- the measurements ----------------------------------------------------------------------------
