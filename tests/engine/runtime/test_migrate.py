"""Moving leads in flight to a new playbook version, on the time-skipping server."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from temporalio.client import WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment

from engine.client import enroll, lead_journal, lead_state, send_events
from engine.client.leads import migrate_lead
from engine.client.migration import MigrationError, plan_migration, run_migration
from engine.dsl import end, send, track, wait
from engine.dsl.spec import PlaybookSpec
from engine.events import Event
from engine.journey.migration import MigrateRequest
from engine.leads import LeadProfile
from engine.mail import MemoryTransport
from engine.settings import Settings
from engine.store import Store
from worker.assembly import build_activities, build_worker
from workflows import PLAYBOOK

TRIAL_A = track("trial", phase="qualification", steps=[
    send("hello", "welcome_confirmation"),
    wait("pause", days=5),
    send("nudge", "activation_value"),
    end("done", "trial over"),
])
# Version B renames the wait (so `pause` needs a map), makes it 7 days, and changes the email.
TRIAL_B = track("trial", phase="qualification", steps=[
    send("hello", "welcome_confirmation"),
    wait("rest", days=7),
    send("nudge", "education_pipeline"),
    end("done", "trial over"),
])


def version(trial: Any) -> PlaybookSpec:
    return PLAYBOOK.model_copy(update={"tracks": {**PLAYBOOK.tracks, "trial": trial},
                                       "entry": [], "default_track": "trial"})


A, B = version(TRIAL_A), version(TRIAL_B)


@dataclass
class Fleet:
    env: WorkflowEnvironment
    store: Store
    transport: MemoryTransport
    queue: str

    async def now(self) -> datetime:
        return (await self.env.get_current_time()).astimezone(UTC)

    async def start(self, **profile: Any) -> LeadProfile:
        key = uuid.uuid4().hex[:8]
        lead = LeadProfile(**({"id": f"lead-{key}", "email": f"ana.{key}@acme.io",
                               "first_name": "Ana", "title": "Analyst", "company": "Acme",
                               "company_size": 30, "industry": "retail", "country": "US",
                               "timezone": "UTC"} | profile))
        await enroll(self.env.client, lead, A, task_queue=self.queue)
        for _ in range(26):  # the first email waits for the send window (08:00-19:00)
            await self.env.sleep(timedelta(hours=1))
            if self.sent(lead):
                return lead
        raise AssertionError("the first email never went out")

    def sent(self, lead: LeadProfile) -> list[tuple[str, datetime]]:
        return [(row.template, row.created_at) for row in self.store.sends_for(lead.id)]


@pytest.fixture(name="fleet")
async def _fleet(fresh_env: WorkflowEnvironment) -> AsyncIterator[Fleet]:
    store, transport, queue = Store.temporary(), MemoryTransport(), f"m-{uuid.uuid4().hex[:6]}"
    store.save_playbook(A, now=datetime.now(UTC))
    async with build_worker(fresh_env.client, build_activities(Settings(), store, transport),
                            queue):
        yield Fleet(fresh_env, store, transport, queue)
    store.dispose()


async def test_a_lead_mid_wait_continues_at_the_mapped_step_keeping_its_elapsed_wait(
        fleet: Fleet) -> None:
    lead = await fleet.start()
    entered = (await lead_state(fleet.env.client, lead.id)).emails[0].at
    row = fleet.store.lead_row(lead.id)
    assert row is not None and (row.playbook_version, row.track, row.step) == (
        A.version, "trial", "pause")
    await fleet.env.sleep(timedelta(days=2))

    # The dry run lists where the lead would land and changes nothing.
    dry = plan_migration(fleet.store, B, step_map={"pause": "rest"})
    (group,) = dry.groups
    assert (group.step, group.to_step, group.leads, group.moves) == (
        "pause", "rest", [lead.id], True)
    assert (await lead_state(fleet.env.client, lead.id)).playbook_version == A.version
    # Without a map the gone step keeps the lead where it is, and says so.
    (unmapped,) = plan_migration(fleet.store, B).groups
    assert not unmapped.moves and "--map pause=STEP" in unmapped.why

    report = await run_migration(fleet.env.client, dry, from_version=None, track=None,
                                 step_map={"pause": "rest"}, by="ops")
    assert report.moved == [lead.id] and not report.refused
    state = await lead_state(fleet.env.client, lead.id)
    assert (state.playbook_version, state.track, state.step) == (B.version, "trial", "rest")
    (moved,) = [e for e in (await lead_journal(fleet.env.client, lead.id)).entries
                if e.kind == "migrated"]
    assert moved.data["detail"] == (f"moved from version {A.version} step pause to version "
                                    f"{B.version} step rest")

    # B's wait is 7 days from when the lead entered it, not from the move (that would be
    # day 9) and not A's 5 days.
    await fleet.env.sleep(entered + timedelta(days=7) - await fleet.now() - timedelta(hours=1))
    assert [t for t, _ in fleet.sent(lead)] == ["welcome_confirmation"]
    await fleet.env.sleep(timedelta(days=1, hours=2))
    assert [t for t, _ in fleet.sent(lead)] == ["welcome_confirmation", "education_pipeline"]
    nudge_at = fleet.sent(lead)[1][1]
    assert entered + timedelta(days=7) <= nudge_at < entered + timedelta(days=8)


async def test_a_second_identical_move_changes_nothing_and_bad_steps_are_refused(
        fleet: Fleet) -> None:
    lead = await fleet.start()
    await fleet.env.sleep(timedelta(days=1))
    with pytest.raises(MigrationError, match="has no step 'nowhere'"):
        plan_migration(fleet.store, B, step_map={"pause": "nowhere"})
    with pytest.raises(MigrationError, match="unknown version 'abc'"):
        plan_migration(fleet.store, B, from_version="abc")
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await migrate_lead(fleet.env.client, lead.id, MigrateRequest(playbook=B))
    assert "step 'pause' of track 'trial' is gone" in str(refused.value.cause)

    request = MigrateRequest(playbook=B, step_map={"pause": "rest"}, by="ops")
    first = await migrate_lead(fleet.env.client, lead.id, request)
    journal_after_first = (await lead_journal(fleet.env.client, lead.id)).entries
    second = await migrate_lead(fleet.env.client, lead.id, request)
    assert (first.status, second.status) == ("moved", "unchanged")
    assert (await lead_journal(fleet.env.client, lead.id)).entries == journal_after_first
    assert plan_migration(fleet.store, B, step_map={"pause": "rest"}).moving == []


async def test_a_lead_with_sales_is_not_moved(fleet: Fleet) -> None:
    lead = await fleet.start(title="VP Marketing", company_size=500, industry="saas")
    await send_events(fleet.env.client, lead.id, [
        Event(id="demo", type="demo_requested", at=await fleet.now())])
    await fleet.env.sleep(timedelta(minutes=5))
    assert (await lead_state(fleet.env.client, lead.id)).phase == "sales"

    plan = plan_migration(fleet.store, B, step_map={"pause": "rest"})
    (group,) = plan.groups
    assert not group.moves and group.why == "left alone: with sales" and plan.moving == []
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await migrate_lead(fleet.env.client, lead.id, MigrateRequest(playbook=B))
    assert "the lead is with sales: left alone" in str(refused.value.cause)
    assert (await lead_state(fleet.env.client, lead.id)).playbook_version == A.version
