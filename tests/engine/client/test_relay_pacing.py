"""The relay starts new leads' workflows at the pacer's allowance, oldest first, and keeps
the rest pending; leads already running get their events in the same pass.

Temporal is a stand-in that records what it is asked, and the relay's clock is a number the
test moves: nothing depends on timing.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import pytest
from google.protobuf.duration_pb2 import Duration
from temporalio.api.taskqueue.v1 import TaskQueueStats
from temporalio.api.workflowservice.v1 import DescribeTaskQueueResponse
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from engine.client import Relay
from engine.client.pacing import StartPacer
from engine.store import Inbound, InboundKind, Store
from workflows import PLAYBOOK

NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)


class FakeTemporal:
    """Records starts, signals and task queue questions; answers with `backlog`."""

    namespace = "default"

    def __init__(self, backlog: tuple[int, float] | None = None) -> None:
        self.backlog = backlog
        self.started: list[str] = []
        self.signalled: list[str] = []
        self.asked = 0
        self.workflow_service = self

    async def start_workflow(self, run: Any, arg: Any, *, id: str, **options: Any) -> None:
        self.started.append(id)

    def get_workflow_handle_for(self, run: Any, workflow_id: str) -> Any:
        temporal = self

        class Handle:
            async def signal(self, handler: Any, arg: Any) -> None:
                temporal.signalled.append(workflow_id)

        return Handle()

    async def describe_task_queue(self, request: Any) -> DescribeTaskQueueResponse:
        self.asked += 1
        if self.backlog is None:
            raise RPCError("not implemented", RPCStatusCode.UNIMPLEMENTED, b"")
        count, age = self.backlog
        return DescribeTaskQueueResponse(stats=TaskQueueStats(
            approximate_backlog_count=count, approximate_backlog_age=Duration(seconds=int(age))))


class Clock:
    """Seconds the test moves by hand."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(name="store")
def _store(tmp_path: Path) -> Iterator[Store]:
    store = Store(f"sqlite:///{tmp_path}/relay.db", upgrade=True)
    yield store
    store.dispose()


def identify(lead: str) -> Inbound:
    return Inbound(message_id=f"identify-{lead}", kind=InboundKind.PROFILE, lead_id=lead,
                   payload={"call": "identify", "traits": {"email": f"{lead}@acme.io"}})


def track(lead: str, n: int) -> Inbound:
    return Inbound(message_id=f"{lead}-{n}", kind=InboundKind.EVENT, lead_id=lead, payload={
        "id": f"{lead}-{n}", "type": "blog_viewed", "at": NOW.isoformat(), "properties": {}})


def relay_for(store: Store, temporal: FakeTemporal, clock: Clock, *, rate: float,
              batch: int = 5000) -> Relay:
    async def connect() -> Client:
        return cast(Client, temporal)

    return Relay(store, PLAYBOOK, connect, clock=clock, batch=batch,
                 pacer=StartPacer(rate=rate, max_rate=rate, now=clock.now))


async def test_new_leads_over_the_allowance_stay_pending_for_a_later_pass_oldest_first(
        store: Store) -> None:
    temporal, clock = FakeTemporal(), Clock()
    relay = relay_for(store, temporal, clock, rate=1)  # a bucket of two starts
    store.accept_inbound([identify(f"lead-{n}") for n in range(5)], now=NOW)

    await relay.deliver_once()
    assert temporal.started == ["lead:lead-0", "lead:lead-1"]
    assert relay.deferred == 3
    assert [r.message_id for r in store.pending_inbound()] == [
        "identify-lead-2", "identify-lead-3", "identify-lead-4"]

    await relay.deliver_once()  # no time has passed: nothing more is allowed
    assert len(temporal.started) == 2

    clock.now += 1.0
    await relay.deliver_once()
    assert temporal.started[2:] == ["lead:lead-2"]
    clock.now += 2.0
    await relay.deliver_once()
    assert temporal.started == [f"lead:lead-{n}" for n in range(5)]
    assert relay.deferred == 0 and store.pending_inbound() == []


async def test_running_leads_get_their_events_while_new_leads_wait(store: Store) -> None:
    temporal, clock = FakeTemporal(), Clock()
    relay = relay_for(store, temporal, clock, rate=0.5)  # a bucket of one start
    store.accept_inbound([identify("early")], now=NOW)
    await relay.deliver_once()  # "early" is running now
    store.accept_inbound([identify("late-1"), identify("late-2"), track("early", 1)], now=NOW)

    await relay.deliver_once()  # the allowance is spent: both new leads wait
    assert temporal.started == ["lead:early"]
    assert temporal.signalled == ["lead:early"]
    assert [r.message_id for r in store.pending_inbound()] == [
        "identify-late-1", "identify-late-2"]


async def test_running_leads_events_are_not_stuck_behind_more_new_leads_than_a_pass_reads(
        store: Store) -> None:
    temporal, clock = FakeTemporal(), Clock()
    relay = relay_for(store, temporal, clock, rate=0.5, batch=4)  # one start, 4 rows a pass
    store.accept_inbound([identify("early")], now=NOW)
    await relay.deliver_once()  # "early" is running now
    store.link_identity("browser-7", "early", now=NOW)
    store.accept_inbound([identify(f"new-{n}") for n in range(10)], now=NOW)
    store.accept_inbound([track("early", 1),
                          Inbound(message_id="seen-7", kind=InboundKind.EVENT,
                                  anonymous_id="browser-7", payload={
                                      "id": "seen-7", "type": "page_viewed",
                                      "at": NOW.isoformat(), "properties": {}}),
                          track("early", 2)], now=NOW)

    await relay.deliver_once()  # the allowance is spent, and the import fills the pass
    assert temporal.started == ["lead:early"]
    assert temporal.signalled == ["lead:early"]  # its three events, in one signal
    assert [r.message_id for r in store.pending_inbound(100)] == [
        f"identify-new-{n}" for n in range(10)]


async def test_a_lead_without_an_email_is_held_without_spending_the_allowance(
        store: Store) -> None:
    temporal, clock = FakeTemporal(), Clock()
    relay = relay_for(store, temporal, clock, rate=1)
    store.accept_inbound([track("anonymous-ish", 1), identify("lead-a")], now=NOW)

    await relay.deliver_once()
    assert temporal.started == ["lead:lead-a"]
    assert store.pending_inbound() == []  # the event waits for an identify, not for pacing


async def test_first_tasks_waiting_long_on_the_queue_slow_the_starts(store: Store) -> None:
    temporal, clock = FakeTemporal(backlog=(900, 40.0)), Clock()
    relay = relay_for(store, temporal, clock, rate=30)
    relay.pacer.max_rate = 100
    store.accept_inbound([identify(f"lead-{n}") for n in range(3)], now=NOW)

    await relay.deliver_once()
    assert temporal.asked == 1
    assert relay.pacer.rate == pytest.approx(20)


async def test_a_server_without_queue_statistics_is_asked_once(store: Store) -> None:
    temporal, clock = FakeTemporal(backlog=None), Clock()
    relay = relay_for(store, temporal, clock, rate=1)
    store.accept_inbound([identify(f"lead-{n}") for n in range(3)], now=NOW)
    for _ in range(3):
        clock.now += 5.0
        await relay.deliver_once()
    assert temporal.started == [f"lead:lead-{n}" for n in range(3)]
    assert temporal.asked == 1
