"""A lead that lives a year: continue-as-new keeps histories small and loses nothing;
recorded histories replay deterministically."""

from __future__ import annotations

import uuid
from datetime import timedelta

from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer

from engine.client import enroll, lead_state, send_events, workflow_id_for
from engine.events import Event
from engine.leads import LeadProfile
from engine.mail import MemoryTransport
from engine.runtime import LeadWorkflow
from engine.runtime.sandbox import lead_workflow_runner
from engine.settings import Settings
from engine.store import Store
from worker.assembly import build_activities, build_worker
from workflows import PLAYBOOK

TYPES = ["blog_viewed", "email_opened", "email_clicked", "page_viewed", "case_study_viewed"]


def profile(lead_id: str) -> LeadProfile:
    return LeadProfile(id=lead_id, email=f"{lead_id}@globex.com", first_name="Raj",
                       title="Analyst", company="Globex", company_size=30, industry="retail",
                       country="BR", timezone="America/Sao_Paulo", source="newsletter")


async def test_a_year_with_thousands_of_events_keeps_runs_small_and_state_whole(
        env: WorkflowEnvironment) -> None:
    store, queue, lead_id = Store.temporary(), f"q-{uuid.uuid4().hex[:6]}", "year-long"
    activities = build_activities(Settings(), store, MemoryTransport())
    async with build_worker(env.client, activities, queue):
        start = await env.get_current_time()
        handle = await enroll(env.client, profile(lead_id), PLAYBOOK, task_queue=queue,
                              history_limit=100)
        sent, per_batch = 0, 140
        for day in range(0, 365, 5):
            # Not a whole number of days: the time-skipping server strands a run whose task
            # cancels a timer that fired while the task was with the worker (sdk-java#3088),
            # so signals must not land just as a whole-day wait started on a signal fires.
            await env.sleep(timedelta(days=5, minutes=7))
            batch = [Event(id=f"{lead_id}-{day}-{i}", type=TYPES[i % len(TYPES)],
                           at=start + timedelta(days=day, minutes=i),
                           properties={"n": i, "url": f"https://globex.example/p/{i}"})
                     for i in range(per_batch)]
            await send_events(env.client, lead_id, batch)
            sent += len(batch)
        # An event delivered again after many runs is still applied once.
        await send_events(env.client, lead_id, [Event(id=f"{lead_id}-360-0",
                                                      type="blog_viewed", at=start)])
        await env.sleep(timedelta(hours=1))
        state = await lead_state(env.client, lead_id)
        history = await env.client.get_workflow_handle(workflow_id_for(lead_id)).fetch_history()
        await handle.terminate(reason="test finished")
    assert sent >= 10_000
    assert state.event_count == sent
    assert state.runs > 3, "continue-as-new never happened"
    assert len(history.events) < 300
    assert state.phase  # still a living lead with a phase after a year
    # What the run carried over from the last: the state without the playbook (by version)
    # and a short journal tail; the rest of the journal is in the store.
    started = history.events[0].workflow_execution_started_event_attributes
    carried = sum(len(p.data) for p in started.input.payloads)
    assert carried < 64 * 1024, f"carried state is {carried:,} bytes"
    lines = store.lead_journal(lead_id)
    assert len(lines) > 100 and [line.seq for line in lines] == sorted({x.seq for x in lines})
    store.dispose()


async def test_recorded_history_replays_deterministically(env: WorkflowEnvironment) -> None:
    """Record a short life now and replay it (the committed corpus: tests/replay)."""
    store, queue, lead_id = Store.temporary(), f"q-{uuid.uuid4().hex[:6]}", "replayed"
    activities = build_activities(Settings(), store, MemoryTransport())
    async with build_worker(env.client, activities, queue):
        start = await env.get_current_time()
        handle = await enroll(env.client, profile(lead_id), PLAYBOOK, task_queue=queue)
        await env.sleep(timedelta(days=4))
        await send_events(env.client, lead_id, [
            Event(id="r1", type="email_clicked", at=start + timedelta(days=4)),
            Event(id="r2", type="case_study_viewed", at=start + timedelta(days=4),
                  properties={"industry": "retail"})])
        await env.sleep(timedelta(days=3))
        history = await handle.fetch_history()
        await handle.terminate(reason="test finished")
    replayer = Replayer(workflows=[LeadWorkflow], data_converter=pydantic_data_converter,
                        workflow_runner=lead_workflow_runner())
    await replayer.replay_workflow(history)
    store.dispose()
