"""The sales handoff loop on the time-skipping server: SLA timers in business hours,
breach → re-notify → re-route, feedback as an update, and where each answer sends the lead."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import pytest
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment

from engine.business_hours import BusinessHours
from engine.client import enroll, lead_journal, lead_state, send_events, workflow_id_for
from engine.events import Event
from engine.feedback import Feedback, FeedbackResult, RejectReason
from engine.journey.state import JournalEntry
from engine.leads import LeadProfile
from engine.mail import MemoryTransport
from engine.settings import Settings
from engine.store import Store
from worker.assembly import build_activities, build_worker
from workflows import PLAYBOOK

NEW_YORK = ZoneInfo("America/New_York")
T = TypeVar("T")


@dataclass
class Loop:
    """A worker on the shared time-skipping server, with its store and outbox."""

    env: WorkflowEnvironment
    store: Store
    transport: MemoryTransport
    queue: str

    @property
    def client(self) -> Client:
        return self.env.client

    async def now(self) -> datetime:
        return (await self.env.get_current_time()).astimezone(UTC)

    async def sleep_until(self, moment: datetime) -> None:
        gap = moment - await self.now()
        if gap > timedelta(0):
            await self.env.sleep(gap)

    async def start(self, lead: LeadProfile, playbook: Any = PLAYBOOK) -> None:
        await enroll(self.client, lead, playbook, task_queue=self.queue)

    async def event(self, lead: LeadProfile, kind: str, **properties: Any) -> None:
        now = await self.now()
        await send_events(self.client, lead.id, [Event(
            id=f"{kind}-{uuid.uuid4().hex[:8]}", type=kind, at=now, properties=properties)])
        await self.env.sleep(timedelta(seconds=5))

    async def answer(self, lead: LeadProfile, **feedback: Any) -> FeedbackResult:
        handle = self.client.get_workflow_handle(workflow_id_for(lead.id))
        result: FeedbackResult = await handle.execute_update(
            "feedback", Feedback(**feedback), result_type=FeedbackResult)
        return result

    async def journal(self, lead: LeadProfile, kind: str) -> list[JournalEntry]:
        page = await lead_journal(self.client, lead.id)
        return [entry for entry in page.entries if entry.kind == kind]

    async def eventually(self, check: Callable[[], T], seconds: float = 10) -> T:
        """`check()` once it is truthy (work started by another workflow lands later)."""
        deadline = asyncio.get_running_loop().time() + seconds
        while not (found := check()):
            assert asyncio.get_running_loop().time() < deadline, "condition never held"
            await asyncio.sleep(0.05)
        return found

    def mail_to(self, address: str) -> list[str]:
        return [str(m["Subject"]) for m in self.transport.sent if m["To"] == address]

    def open_task(self, lead: LeadProfile) -> Any:
        (task,) = [t for t in self.store.sales_tasks(lead.id)
                   if t.kind == "escalation" and t.status == "open"]
        return task


@pytest.fixture(name="loop")
async def _loop(fresh_env: WorkflowEnvironment) -> AsyncIterator[Loop]:
    # A server per test: the time-skipping test server's update support is partial, and a
    # run it strands (concurrent updates, a timer cancelled as it fires: sdk-java#3088)
    # would otherwise freeze the clock for every later test.
    env = fresh_env
    store, transport = Store.temporary(), MemoryTransport()
    queue = f"sales-{uuid.uuid4().hex[:6]}"
    async with build_worker(env.client, build_activities(Settings(), store, transport), queue):
        yield Loop(env, store, transport, queue)
    store.dispose()


def lead(**overrides: Any) -> LeadProfile:
    key = uuid.uuid4().hex[:8]
    base: dict[str, Any] = {
        "id": f"lead-{key}", "email": f"ana.{key}@acme.io", "first_name": "Ana",
        "last_name": "Ruiz", "title": "VP Marketing", "company": "Acme",
        "company_domain": f"acme-{key}.io", "company_size": 500, "industry": "saas",
        "country": "US", "timezone": "America/New_York", "source": "webinar"}
    return LeadProfile(**(base | overrides))


def next_local(after: datetime, weekday: int, at: time) -> datetime:
    """The next `weekday` (0 = Monday) at `at` New York time, strictly after `after`."""
    local = after.astimezone(NEW_YORK)
    day = local.date()
    while True:
        moment = datetime.combine(day, at, NEW_YORK)
        if day.weekday() == weekday and moment > local:
            return moment.astimezone(UTC)
        day += timedelta(days=1)


@asynccontextmanager
async def escalated(loop: Loop, person: LeadProfile, *, when: datetime | None = None,
                    playbook: Any = PLAYBOOK) -> AsyncIterator[Any]:
    """Start the lead (at `when`, if given), request a demo, and yield its open task."""
    if when is not None:
        await loop.sleep_until(when)
    await loop.start(person, playbook)
    await loop.event(person, "demo_requested")
    yield loop.open_task(person)
    await loop.client.get_workflow_handle(workflow_id_for(person.id)).terminate("test done")


async def test_breach_renotifies_then_reroutes_to_the_manager_and_accept_makes_an_sql(
        loop: Loop) -> None:
    tuesday_ten = next_local(await loop.now(), 1, time(10))
    person = lead()
    async with escalated(loop, person, when=tuesday_ten) as task:
        owner = task.owner
        assert owner in ("jordan", "sam") and task.route_rule.startswith(("territory US",
                                                                           "round-robin"))
        assert task.tier == 1
        assert abs(task.due_at - (tuesday_ten + timedelta(minutes=30))) < timedelta(seconds=10)
        assert task.handoff["owner"] and task.handoff["due_at"]
        assert "VP Marketing at a 500-person SaaS company (Acme)" in task.reason
        owner_mail = f"{owner}@northwind.example"
        assert len(loop.mail_to(owner_mail)) == 1  # the assignment

        await loop.sleep_until(task.due_at + timedelta(minutes=1))
        breached = loop.open_task(person)
        assert breached.breached_at is not None and breached.owner == owner
        assert [e["kind"] for e in breached.timeline][-1] == "sla_breached"
        assert len(loop.mail_to(owner_mail)) == 2  # re-notified
        assert "breach" in loop.mail_to(owner_mail)[-1].lower()

        await loop.sleep_until(task.due_at + timedelta(minutes=31))
        moved = loop.open_task(person)
        assert moved.owner == "priya" and moved.reroutes == 1
        assert moved.route_rule == f"manager of {owner}"
        assert moved.timeline[-1]["kind"] == "rerouted"
        assert moved.due_at > task.due_at
        assert len(loop.mail_to("priya@northwind.example")) == 1
        (rerouted,) = await loop.journal(person, "rerouted")
        assert rerouted.data["from"] == owner and rerouted.data["to"] == "priya"

        result = await loop.answer(person, task_id=task.id, action="accept", by="priya")
        assert result.status == "accepted" and result.phase == "sql"
        assert result.time_to_sql_seconds is not None and result.time_to_sql_seconds > 3600
        await loop.env.sleep(timedelta(seconds=5))
        state = await lead_state(loop.client, person.id)
        assert state.phase == "sql" and state.escalation is None
        (closed,) = loop.store.sales_tasks(person.id)
        assert closed.status == "accepted" and closed.closed_by == "priya"
        assert closed.time_to_sql_seconds == pytest.approx(result.time_to_sql_seconds)

        with pytest.raises(WorkflowUpdateFailedError) as refused:
            await loop.answer(person, task_id=task.id, action="reject",
                              reason=RejectReason.POOR_FIT, by="priya")
        assert "already accepted" in str(refused.value.cause)
        assert loop.store.sales_tasks(person.id)[0].status == "accepted"
        assert (await lead_state(loop.client, person.id)).phase == "sql"


async def test_timing_reject_rests_until_the_date_then_reactivates_and_escalates_again(
        loop: Loop) -> None:
    person = lead()
    async with escalated(loop, person) as task:
        with pytest.raises(WorkflowUpdateFailedError) as refused:
            await loop.answer(person, task_id=task.id, action="reject",
                              reason=RejectReason.TIMING, by="jordan")
        assert "needs the date" in str(refused.value.cause)
        assert loop.open_task(person).status == "open"

        today = (await loop.now()).date()
        until = today + timedelta(days=30)
        result = await loop.answer(person, task_id=task.id, action="reject",
                                   reason=RejectReason.TIMING, until=until,
                                   note="budget cycle starts next month", by=task.owner)
        assert result.status == "rejected" and result.phase == "recycled"
        assert "reactivation" in result.next_step
        await loop.env.sleep(timedelta(seconds=5))
        rested = await lead_state(loop.client, person.id)
        assert rested.phase == "recycled" and rested.resting_until is not None
        mails_before = len(loop.mail_to(person.email))

        # Resting: a pricing visit changes nothing and no email goes out.
        await loop.sleep_until(datetime.combine(until - timedelta(days=2), time(12), UTC))
        await loop.event(person, "pricing_page_viewed")
        assert len(loop.mail_to(person.email)) == mails_before
        assert (await lead_state(loop.client, person.id)).phase == "recycled"

        await loop.sleep_until(datetime.combine(until + timedelta(days=1), time(23), UTC))
        back = await lead_state(loop.client, person.id)
        assert back.phase == "reactivation" and back.track == "reactivation"
        assert len(loop.mail_to(person.email)) == mails_before + 1

        await loop.event(person, "demo_requested")
        again = await lead_state(loop.client, person.id)
        assert again.phase == "sales" and again.escalation is not None
        assert again.escalation.task_id != task.id
        (closed, reopened) = sorted(loop.store.sales_tasks(person.id),
                                    key=lambda t: t.created_at)
        assert closed.status == "rejected" and closed.outcome_reason == "timing_not_active"
        assert closed.recycle_until is not None
        assert reopened.status == "open"


async def test_competitor_reject_suppresses_and_no_email_follows(loop: Loop) -> None:
    person = lead()
    async with escalated(loop, person) as task:
        result = await loop.answer(person, task_id=task.id, action="reject",
                                   reason=RejectReason.NOT_A_BUYER, note="works at a rival",
                                   by=task.owner)
        assert result.phase == "suppressed"
        await loop.env.sleep(timedelta(seconds=5))
        mails = len(loop.mail_to(person.email))
        assert loop.store.suppression(person.email) is not None
        await loop.env.sleep(timedelta(days=40))
        await loop.event(person, "pricing_page_viewed")
        state = await lead_state(loop.client, person.id)
        assert state.phase == "suppressed"
        assert len(loop.mail_to(person.email)) == mails
        (closed,) = loop.store.sales_tasks(person.id)
        assert closed.status == "rejected" and closed.outcome_note == "works at a rival"


async def test_no_outcome_recycles_with_no_response_after_the_follow_up_window(
        loop: Loop) -> None:
    person = lead()
    async with escalated(loop, person) as task:
        assert task.follow_up_until is not None
        await loop.sleep_until(task.follow_up_until - timedelta(minutes=5))
        assert loop.open_task(person).status == "open"
        await loop.sleep_until(task.follow_up_until + timedelta(minutes=5))
        (closed,) = loop.store.sales_tasks(person.id)
        assert closed.status == "recycled" and closed.outcome_reason == "no_response"
        assert closed.closed_by == "system"
        state = await lead_state(loop.client, person.id)
        assert state.track == "no_response_follow_up"
        await loop.env.sleep(timedelta(days=1))
        later = await lead_state(loop.client, person.id)
        assert "followup_value_note" in [e.template for e in later.emails]
        # The old demo request no longer counts: new interest is needed for a new handoff.
        await loop.event(person, "blog_viewed")
        assert (await lead_state(loop.client, person.id)).phase == "conversion"
        with pytest.raises(WorkflowUpdateFailedError) as refused:
            await loop.answer(person, task_id=task.id, action="accept", by="jordan")
        assert "already recycled" in str(refused.value.cause)


async def test_sla_counts_business_hours_across_a_weekend_and_a_holiday(loop: Loop) -> None:
    friday = next_local(await loop.now(), 4, time(16, 50))
    monday = (friday.astimezone(NEW_YORK) + timedelta(days=3)).date()
    hours = BusinessHours(timezone="America/New_York", opens=time(9), closes=time(17),
                          holidays=[monday])
    policy = PLAYBOOK.sales.model_copy(update={"hours": hours})
    playbook = PLAYBOOK.model_copy(update={"sales": policy})
    person = lead(country="DE")  # Lena (Berlin) covers DE: her clock runs in her zone
    berlin = ZoneInfo("Europe/Berlin")
    async with escalated(loop, person, when=friday, playbook=playbook) as task:
        assert task.owner == "lena"
        # Friday 16:50 in New York is after hours in Berlin: Lena's 30 minutes start when
        # her Tuesday opens (Monday is the holiday), 09:00-09:30 Berlin time.
        expected = datetime.combine(monday + timedelta(days=1), time(9, 30), berlin)
        assert abs(task.due_at - expected.astimezone(UTC)) < timedelta(seconds=1)
        await loop.sleep_until(task.due_at - timedelta(minutes=2))
        assert loop.open_task(person).breached_at is None
        assert await loop.journal(person, "sla_breached") == []
        await loop.sleep_until(task.due_at + timedelta(minutes=2))
        (breach,) = await loop.journal(person, "sla_breached")
        assert breach.at >= task.due_at
        assert loop.open_task(person).breached_at is not None


async def test_same_zone_owner_skips_weekend_and_holiday(loop: Loop) -> None:
    friday = next_local(await loop.now(), 4, time(16, 50))
    monday = (friday.astimezone(NEW_YORK) + timedelta(days=3)).date()
    hours = BusinessHours(timezone="America/New_York", holidays=[monday])
    policy = PLAYBOOK.sales.model_copy(update={"hours": hours, "routing": None})
    playbook = PLAYBOOK.model_copy(update={"sales": policy})
    person = lead()
    async with escalated(loop, person, when=friday, playbook=playbook) as task:
        assert task.owner is None  # no routing rules: the team's queue
        # 10 minutes on Friday, then 20 on Tuesday (Monday is a holiday).
        expected = datetime.combine(monday + timedelta(days=1), time(9, 20), NEW_YORK)
        assert abs(task.due_at - expected.astimezone(UTC)) < timedelta(seconds=10)



@pytest.mark.parametrize(("reason", "track", "template"), [
    (RejectReason.BUDGET, "budget_business_case", "conv_roi_data"),
    (RejectReason.WRONG_CONTACT, "right_person", "followup_right_person"),
    (RejectReason.NO_RESPONSE, "no_response_follow_up", "followup_value_note"),
    (RejectReason.NO_NEED, "timing_stuck", "conv_timing_checkin"),
])
async def test_each_reject_reason_starts_the_track_the_playbook_names(
        loop: Loop, reason: RejectReason, track: str, template: str) -> None:
    person = lead()
    async with escalated(loop, person) as task:
        result = await loop.answer(person, task_id=task.id, action="reject", reason=reason,
                                   by=task.owner)
        assert result.next_step == f"back to nurture on track {track}"
        await loop.env.sleep(timedelta(days=2))
        state = await lead_state(loop.client, person.id)
        assert state.track == track and state.phase == "conversion"
        assert template in [e.template for e in state.emails]


async def test_recycle_without_a_date_goes_straight_to_reactivation(loop: Loop) -> None:
    person = lead()
    async with escalated(loop, person) as task:
        result = await loop.answer(person, task_id=task.id, action="recycle", by=task.owner,
                                   note="call again after their reorg")
        assert result.status == "recycled" and result.phase == "reactivation"
        await loop.env.sleep(timedelta(seconds=5))
        assert (await lead_state(loop.client, person.id)).track == "reactivation"
        (closed,) = loop.store.sales_tasks(person.id)
        assert closed.status == "recycled" and closed.outcome_note == "call again after their reorg"


async def test_two_answers_at_once_one_wins_and_the_other_is_refused(loop: Loop) -> None:
    person = lead()
    async with escalated(loop, person) as task:
        outcomes = await asyncio.gather(
            loop.answer(person, task_id=task.id, action="accept", by="jordan"),
            loop.answer(person, task_id=task.id, action="reject", by="sam",
                        reason=RejectReason.POOR_FIT),
            return_exceptions=True)
        won = [o for o in outcomes if isinstance(o, FeedbackResult)]
        refused = [o for o in outcomes if isinstance(o, WorkflowUpdateFailedError)]
        assert len(won) == 1 and len(refused) == 1
        (closed,) = loop.store.sales_tasks(person.id)
        assert closed.status == won[0].status


async def test_an_answer_for_a_task_that_is_not_the_open_one_is_refused(loop: Loop) -> None:
    person = lead()
    async with escalated(loop, person) as task:
        with pytest.raises(WorkflowUpdateFailedError) as refused:
            await loop.answer(person, task_id=f"{task.id}-other", action="accept", by="x")
        assert "is not open for this lead" in str(refused.value.cause)
        with pytest.raises(WorkflowUpdateFailedError) as past:
            await loop.answer(person, task_id=task.id, action="recycle", by="x",
                              until=(await loop.now()).date())
        assert "must be a future date" in str(past.value.cause)
        assert loop.open_task(person).status == "open"


async def test_a_demo_request_while_a_tier_3_task_waits_makes_it_tier_1(loop: Loop) -> None:
    tuesday_ten = next_local(await loop.now(), 1, time(10))
    person = lead(title="Marketing Coordinator", company_size=8, industry="retail")
    await loop.sleep_until(tuesday_ten)
    await loop.start(person)
    for kind in ("roi_calculator_used", "pricing_page_viewed", "comparison_viewed",
                 "pricing_page_viewed", "case_study_downloaded"):
        await loop.event(person, kind)
    task = loop.open_task(person)
    assert task.tier == 3
    try:
        await loop.event(person, "demo_requested")
        urgent = loop.open_task(person)
        assert urgent.id == task.id and urgent.tier == 1  # the same task, not a second one
        assert urgent.due_at < task.due_at
        assert abs(urgent.due_at - (tuesday_ten + timedelta(minutes=30))) < timedelta(minutes=1)
        assert urgent.timeline[-1]["kind"] == "retiered"
        (retiered,) = await loop.journal(person, "retiered")
        assert (retiered.data["from"], retiered.data["to"]) == (3, 1)
        owner_mail = f"{task.owner}@northwind.example"
        assert len(loop.mail_to(owner_mail)) == 2 and "Tier 1" in loop.mail_to(owner_mail)[-1]
    finally:
        await loop.client.get_workflow_handle(workflow_id_for(person.id)).terminate("done")


async def test_a_demo_request_after_a_breach_gives_the_task_a_fresh_tier_1_clock(
        loop: Loop) -> None:
    tuesday_ten = next_local(await loop.now(), 1, time(10))
    person = lead(title="Marketing Coordinator", company_size=8, industry="retail")
    await loop.sleep_until(tuesday_ten)
    await loop.start(person)
    for kind in ("roi_calculator_used", "pricing_page_viewed", "comparison_viewed",
                 "pricing_page_viewed", "case_study_downloaded"):
        await loop.event(person, kind)
    task = loop.open_task(person)
    assert task.tier == 3
    try:
        await loop.sleep_until(task.due_at + timedelta(hours=1))
        assert loop.open_task(person).breached_at is not None
        raised_at = await loop.now()
        await loop.event(person, "demo_requested")
        urgent = loop.open_task(person)
        # The SLA counts from the demo request, not from when the tier-3 task opened: its
        # old deadline had passed, and keeping it would breach the task again at once.
        assert urgent.tier == 1 and urgent.breached_at is None
        assert abs(urgent.due_at - (raised_at + timedelta(minutes=30))) < timedelta(minutes=1)
        assert len(await loop.journal(person, "sla_breached")) == 1
        (retiered,) = await loop.journal(person, "retiered")
        assert retiered.data["due_at"] == urgent.due_at.isoformat()
    finally:
        await loop.client.get_workflow_handle(workflow_id_for(person.id)).terminate("done")


async def test_alerts_reach_the_open_tasks_owner_or_the_routed_rep(loop: Loop) -> None:
    person = lead(source="newsletter")
    async with escalated(loop, person) as task:
        colleague = lead(company_domain=person.company_domain, first_name="Raj",
                         title="Head of Sales Ops", email=f"raj@{person.company_domain}")
        await loop.start(colleague)
        alerts = await loop.eventually(lambda: [
            t for t in loop.store.sales_tasks(person.id) if t.kind == "alert"])
        assert [(a.owner, a.route_rule) for a in alerts] == [
            (task.owner, "owner of the open task")]
        assert "same account" in alerts[0].reason

        await loop.event(colleague, "pricing_page_viewed")
        (routed,) = await loop.eventually(lambda: [
            t for t in loop.store.sales_tasks(colleague.id)
            if t.kind == "alert" and "pricing" in t.reason])
        assert routed.owner in ("jordan", "sam") and routed.route_rule.startswith("territory")
        await loop.client.get_workflow_handle(workflow_id_for(colleague.id)).terminate("done")
