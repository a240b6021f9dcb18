"""Leads name their playbook by version: a lead that carried the spec (started before that)
hands over to runs that name it, and every worker can run them; a version nobody has fails
the lead's workflow task by name and runs nothing else."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import pytest
from temporalio.client import WorkflowFailureError
from temporalio.testing import WorkflowEnvironment

from engine.client import enroll, lead_state, send_events, workflow_id_for
from engine.client.leads import lead_playbook
from engine.dsl import library
from engine.events import Event
from engine.leads import LeadProfile
from engine.mail import MemoryTransport
from engine.runtime import LeadWorkflow
from engine.runtime.messages import LeadWorkflowInput
from engine.settings import Settings
from engine.store import Store
from worker.assembly import build_activities, build_worker
from workflows import PLAYBOOK


def person(lead_id: str) -> LeadProfile:
    return LeadProfile(id=lead_id, email=f"{lead_id}@initech.com", first_name="Peter",
                       title="Analyst", company="Initech", company_size=40, industry="retail",
                       country="US", timezone="America/Chicago", source="newsletter")


async def test_a_lead_that_carried_its_spec_stores_it_before_naming_it(
        env: WorkflowEnvironment, monkeypatch: pytest.MonkeyPatch) -> None:
    store, queue, lead_id = Store.temporary(), f"q-{uuid.uuid4().hex[:6]}", "carried-spec"
    # A version no process knows and no database keeps, as a lead from before has it.
    spec = PLAYBOOK.model_copy(update={"name": f"before versions {uuid.uuid4().hex[:6]}"})
    assert not library.known(spec.version) and store.stored_playbook(spec.version) is None
    activities = build_activities(Settings(), store, MemoryTransport())
    async with build_worker(env.client, activities, queue):
        handle = await env.client.start_workflow(
            LeadWorkflow.run, LeadWorkflowInput(lead=person(lead_id), playbook=spec,
                                                history_limit=20),
            id=workflow_id_for(lead_id), task_queue=queue)
        start = await env.get_current_time()
        for day in range(1, 8):
            await env.sleep(timedelta(days=1, minutes=7))
            await send_events(env.client, lead_id, [
                Event(id=f"{lead_id}-{day}-{i}", type="blog_viewed",
                      at=start + timedelta(days=day, minutes=i)) for i in range(5)])
        await env.sleep(timedelta(hours=1))
        state = await lead_state(env.client, lead_id)
        await handle.terminate(reason="test finished")
    assert state.runs >= 3 and state.event_count == 35
    assert state.playbook_version == spec.version
    assert store.stored_playbook(spec.version) == spec  # any worker on this database has it
    store.dispose()


async def test_a_version_no_worker_has_fails_the_task_and_runs_nothing(
        fresh_env: WorkflowEnvironment) -> None:
    """On a server of its own: a task that keeps failing would hold a shared clock."""
    env = fresh_env
    store, queue, lead_id = Store.temporary(), f"q-{uuid.uuid4().hex[:6]}", "unknown-version"
    activities = build_activities(Settings(), store, MemoryTransport())
    async with build_worker(env.client, activities, queue):
        handle = await env.client.start_workflow(
            LeadWorkflow.run, LeadWorkflowInput(lead=person(lead_id),
                                                playbook_version="feedfacecafe"),
            id=workflow_id_for(lead_id), task_queue=queue)
        failure = None
        for _ in range(100):
            history = await handle.fetch_history()
            failed = [e for e in history.events if e.HasField(
                "workflow_task_failed_event_attributes")]
            if failed:
                failure = failed[0].workflow_task_failed_event_attributes.failure.message
                break
            await asyncio.sleep(0.1)
        await handle.terminate(reason="test finished")
    assert failure is not None and "feedfacecafe" in failure
    assert not any(e.HasField("activity_task_scheduled_event_attributes")
                   for e in history.events)
    assert store.get_lead(lead_id) is None  # nothing ran: not even registered
    with pytest.raises(WorkflowFailureError):
        await handle.result()
    store.dispose()


async def test_a_new_lead_starts_with_its_profile_and_a_version_under_2_kb(
        env: WorkflowEnvironment) -> None:
    store, queue, lead_id = Store.temporary(), f"q-{uuid.uuid4().hex[:6]}", "small-start"
    activities = build_activities(Settings(), store, MemoryTransport())
    async with build_worker(env.client, activities, queue):
        handle = await enroll(env.client, person(lead_id), PLAYBOOK, task_queue=queue)
        await env.sleep(timedelta(minutes=5))
        history = await handle.fetch_history()
        playbook = await lead_playbook(env.client, lead_id)
        await handle.terminate(reason="test finished")
    started = history.events[0].workflow_execution_started_event_attributes
    size = sum(len(p.data) for p in started.input.payloads)
    assert size < 2_048, f"start input is {size:,} bytes"
    assert PLAYBOOK.version.encode() in started.input.payloads[0].data
    assert playbook == PLAYBOOK  # the whole spec, from the version
    store.dispose()
