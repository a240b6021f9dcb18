"""The plays the replay corpus records: every path a lead's workflow can take.

Run by `record.py` with the recorded commit's code first on `PYTHONPATH`, so `engine`,
`worker` and `workflows` are that commit's. It therefore uses only the engine's front doors
(`engine.client` or, in 0.1.0, `engine.runtime`; `worker.assembly`; `workflows.PLAYBOOK`)
and the workflows' wire names (`feedback`), which every release keeps. Each play runs on a
time-skipping server of its own, so a 90-day life takes seconds, and writes one JSON
history per workflow run.

    python tests/replay/plays.py OUT_DIR [PLAY ...]
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import sys
import threading
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, time, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from engine.events import Event
from engine.leads import LeadProfile
from engine.mail import MemoryTransport

try:  # the typed client's home from 0.2.0 on; release 0.1.0 kept it in engine.runtime
    from engine.client import enroll, lead_state, send_events, workflow_id_for
except ImportError:
    from engine.runtime import enroll, lead_state, send_events, workflow_id_for  # type: ignore
from engine.settings import Settings
from engine.store import Store
from worker.assembly import build_activities, build_worker
from worker.simulate import quiet_runtime, test_server_path
from workflows import PLAYBOOK

NEW_YORK = ZoneInfo("America/New_York")
# Signals land a few minutes off whole hours: the time-skipping server strands a run whose
# task cancels a timer that fired while the task was with the worker (sdk-java#3088).
NUDGE = timedelta(minutes=7)


class Play:
    """One recorded play: a worker on a fresh time-skipping server, and the leads it ran."""

    def __init__(self, env: WorkflowEnvironment, store: Store, transport: MemoryTransport,
                 queue: str) -> None:
        self.env, self.store, self.transport, self.queue = env, store, transport, queue
        self.workflow_ids: list[str] = []

    @property
    def client(self) -> Client:
        return self.env.client

    async def now(self) -> datetime:
        return (await self.env.get_current_time()).astimezone(UTC)

    async def sleep(self, **duration: float) -> None:
        await self.env.sleep(timedelta(**duration))

    async def sleep_until(self, moment: datetime) -> None:
        gap = moment - await self.now()
        if gap > timedelta(0):
            await self.env.sleep(gap)

    async def start(self, person: LeadProfile, *events: str, history_limit: int | None = None
                    ) -> None:
        now = await self.now()
        batch = [Event(id=f"{person.id}:{kind}:0", type=kind, at=now) for kind in events]
        extra = {"history_limit": history_limit} if history_limit else {}
        await enroll(self.client, person, PLAYBOOK, task_queue=self.queue, events=batch,
                     **extra)
        self.workflow_ids.append(workflow_id_for(person.id))
        await self.env.sleep(timedelta(seconds=5))

    async def event(self, person: LeadProfile, kind: str, **properties: Any) -> None:
        now = await self.now()
        await send_events(self.client, person.id, [Event(
            id=f"{kind}-{uuid.uuid4().hex[:8]}", type=kind, at=now, properties=properties)])
        await self.env.sleep(timedelta(seconds=5))

    async def answer(self, person: LeadProfile, **feedback: Any) -> dict[str, Any]:
        """Sales' answer on the open task, through the workflow's `feedback` update."""
        handle = self.client.get_workflow_handle(workflow_id_for(person.id))
        result: dict[str, Any] = await handle.execute_update("feedback", feedback)
        await self.env.sleep(timedelta(seconds=5))
        return result

    def open_task(self, person: LeadProfile) -> Any:
        (task,) = [t for t in self.store.sales_tasks(person.id)
                   if t.kind == "escalation" and t.status == "open"]
        return task

    async def phase(self, person: LeadProfile) -> str:
        return str((await lead_state(self.client, person.id)).phase)


def lead(**overrides: Any) -> LeadProfile:
    key = overrides.pop("key", "ana")
    base: dict[str, Any] = {
        "id": f"lead-{key}", "email": f"{key}@acme.io", "first_name": "Ana",
        "last_name": "Ruiz", "title": "VP Marketing", "company": "Acme",
        "company_domain": f"acme-{key}.io", "company_size": 500, "industry": "saas",
        "country": "US", "timezone": "America/New_York", "source": "newsletter"}
    return LeadProfile(**(base | overrides))


def small(**overrides: Any) -> LeadProfile:
    """A lead whose fit alone never makes it sales-ready."""
    return lead(**({"title": "Analyst", "company_size": 30, "industry": "retail",
                    "country": "BR", "timezone": "America/Sao_Paulo"} | overrides))


def next_local(after: datetime, weekday: int, at: time) -> datetime:
    """The next `weekday` (0 = Monday) at `at` New York time, strictly after `after`."""
    local, day = after.astimezone(NEW_YORK), after.astimezone(NEW_YORK).date()
    while True:
        moment = datetime.combine(day, at, NEW_YORK)
        if day.weekday() == weekday and moment > local:
            return moment.astimezone(UTC)
        day += timedelta(days=1)


def expect(condition: bool, what: str) -> None:
    """A play that did not go as scripted must not be recorded as if it had."""
    if not condition:
        raise AssertionError(f"the play did not go as scripted: {what}")


# --- qualification plays ---------------------------------------------------------------------

async def webinar_attendee(play: Play) -> None:
    """Webinar path: replay within 48 h, a related resource, a case study."""
    person = lead(key="webinar", source="webinar")
    await play.start(person, "webinar_attended")
    await play.sleep(days=15)
    sent = [e.template for e in (await lead_state(play.client, person.id)).emails]
    expect(sent[:3] == ["webinar_replay", "webinar_related_resource", "webinar_case_study"],
           f"webinar emails {sent}")


async def webinar_case_study_accelerates(play: Play) -> None:
    """A webinar attendee who reads the case study moves to acceleration (a new run)."""
    person = small(key="webinar-accel", source="webinar")
    await play.start(person, "webinar_attended")
    await play.sleep(days=1, minutes=7)
    await play.event(person, "case_study_viewed", industry="retail")
    await play.sleep(days=3)
    expect(await play.phase(person) == "acceleration", "no acceleration")


async def pricing_visitor(play: Play) -> None:
    """Pricing-page path: proof, ROI, buying guide, implementation; no beginner content."""
    person = small(key="pricing", source="pricing_page", title="Ops Specialist")
    await play.start(person)
    await play.sleep(days=20)
    sent = [e.template for e in (await lead_state(play.client, person.id)).emails]
    expect(sent[:2] == ["pricing_case_study", "pricing_roi"], f"pricing emails {sent}")


async def content_syndication(play: Play) -> None:
    """Syndicated-content path: reminder, one idea, diagnostic, segmentation."""
    person = lead(key="syndication", source="content_syndication")
    await play.start(person)
    await play.sleep(days=20)
    sent = [e.template for e in (await lead_state(play.client, person.id)).emails]
    expect(sent[:2] == ["syndication_reminder", "syndication_one_idea"], f"emails {sent}")


async def cadence_30_60_90(play: Play) -> None:
    """A quiet lead through 90 days of the welcome/education cadence."""
    person = lead(key="quiet")
    await play.start(person)
    await play.sleep(days=90)
    expect(len((await lead_state(play.client, person.id)).emails) >= 5, "too few emails")


async def re_engagement_after_21_days(play: Play) -> None:
    """An engaged lead that goes quiet for 21 days switches to re-engagement."""
    person = small(key="quiet-after-click", title="Consultant", company_size=8)
    await play.start(person)
    await play.sleep(days=2, minutes=7)
    await play.event(person, "email_clicked")
    await play.sleep(days=30)
    expect(await play.phase(person) == "re_engagement", "no re-engagement")


async def reactivation_engaged(play: Play) -> None:
    """An engaged lead dark for 60 days: re-engagement, then the 'engaged' reactivation."""
    person = small(key="dark-engaged", title="Consultant", company_size=8)
    await play.start(person)
    await play.sleep(days=2, minutes=7)
    await play.event(person, "email_clicked")
    await play.sleep(days=70)
    state = await lead_state(play.client, person.id)
    expect(state.track == "reactivation", f"track {state.track}")
    expect("reactivate_engaged" in [e.template for e in state.emails], "no engaged angle")


async def reactivation_never_engaged(play: Play) -> None:
    """A lead that never engaged reaches reactivation with the 'fresh' angle, then rests."""
    person = small(key="dark-fresh", title="Consultant", company_size=8)
    await play.start(person)
    await play.sleep(days=2, minutes=7)
    await play.event(person, "blog_viewed")
    await play.sleep(days=100)
    sent = [e.template for e in (await lead_state(play.client, person.id)).emails]
    expect("reactivate_never_engaged" in sent, f"emails {sent}")


async def triggers_and_committee(play: Play) -> None:
    """Triggers beat the clock: industry proof, a pricing alert, a colleague's signal."""
    person = small(key="triggered", company_domain="globex.io", email="raj@globex.io")
    await play.start(person)
    await play.sleep(days=9, minutes=7)
    await play.event(person, "case_study_downloaded", industry="retail")
    await play.sleep(days=1)
    colleague = small(key="colleague", company_domain="globex.io", email="mia@globex.io",
                      first_name="Mia", title="Head of Sales Ops")
    await play.start(colleague)
    await play.event(person, "pricing_page_viewed")
    await play.sleep(days=3)
    state = await lead_state(play.client, person.id)
    expect("trigger_industry_proof" in [e.template for e in state.emails], "no proof")
    expect(bool(state.alerts), "no alert")


async def unsubscribe(play: Play) -> None:
    """An unsubscribe suppresses at once; nothing is sent after."""
    person = lead(key="unsubscriber")
    await play.start(person)
    await play.sleep(days=5, minutes=7)
    await play.event(person, "unsubscribed")
    await play.sleep(days=10)
    expect(await play.phase(person) == "suppressed", "not suppressed")


async def continued_as_new(play: Play) -> None:
    """A busy lead with a small history budget: several runs carry the state over."""
    person = small(key="busy")
    await play.start(person, history_limit=40)
    kinds = ["blog_viewed", "email_opened", "page_viewed", "email_clicked"]
    for day in range(6):
        await play.sleep(days=2, minutes=7)
        now = await play.now()
        await send_events(play.client, person.id, [
            Event(id=f"busy-{day}-{i}", type=kinds[i % len(kinds)],
                  at=now + timedelta(minutes=i)) for i in range(8)])
    await play.sleep(hours=1)
    state = await lead_state(play.client, person.id)
    expect(state.runs >= 2, f"only {state.runs} runs")


async def burst_in_one_signal(play: Play) -> None:
    """650 events in one signal, then the same again: the lead applies them over several
    workflow tasks, a batch at a time, and each event once."""
    person = small(key="burst")
    await play.start(person)
    await play.sleep(hours=3)
    now = await play.now()
    burst = [Event(id=f"burst-{i}", type=("page_viewed", "blog_viewed", "email_opened")[i % 3],
                   at=now + timedelta(seconds=i)) for i in range(650)]
    await send_events(play.client, person.id, burst)
    await send_events(play.client, person.id, burst[:50])
    await play.sleep(hours=1)
    state = await lead_state(play.client, person.id)
    expect(state.event_count == 650, f"{state.event_count} events applied, not 650")


# --- sales plays -----------------------------------------------------------------------------

async def escalate(play: Play, person: LeadProfile, when: datetime | None = None) -> Any:
    if when is not None:
        await play.sleep_until(when)
    await play.start(person)
    await play.event(person, "demo_requested")
    return play.open_task(person)


async def sales_breach_reroute_accept(play: Play) -> None:
    """Tier 1: breach → re-notify → re-route to the manager → accepted (SQL)."""
    person = lead(key="breach", source="webinar")
    task = await escalate(play, person, next_local(await play.now(), 1, time(10)))
    await play.sleep_until(task.due_at + timedelta(minutes=1))
    await play.sleep_until(task.due_at + timedelta(minutes=31))
    moved = play.open_task(person)
    expect(moved.reroutes == 1, "not re-routed")
    result = await play.answer(person, task_id=task.id, action="accept", by=moved.owner)
    expect(result["phase"] == "sql", f"phase {result['phase']}")


async def sales_timing_reject_rest_reactivate(play: Play) -> None:
    """Timing reject with a date: rest (a pricing visit changes nothing), reactivation on the
    date, and a demo request opens a second task."""
    person = lead(key="timing")
    task = await escalate(play, person)
    until = (await play.now()).date() + timedelta(days=30)
    await play.answer(person, task_id=task.id, action="reject", reason="timing_not_active",
                      until=until.isoformat(), note="budget cycle next month", by=task.owner)
    await play.sleep_until(datetime.combine(until - timedelta(days=2), time(12, 7), UTC))
    await play.event(person, "pricing_page_viewed")
    await play.sleep_until(datetime.combine(until + timedelta(days=1), time(23, 7), UTC))
    expect(await play.phase(person) == "reactivation", "not reactivated")
    await play.event(person, "demo_requested")
    expect(await play.phase(person) == "sales", "no second escalation")


async def sales_competitor_reject(play: Play) -> None:
    """A competitor reject suppresses; 40 days later a pricing visit changes nothing."""
    person = lead(key="rival")
    task = await escalate(play, person)
    await play.answer(person, task_id=task.id, action="reject", reason="student_vendor_competitor",
                      note="works at a rival", by=task.owner)
    await play.sleep(days=40, minutes=7)
    await play.event(person, "pricing_page_viewed")
    expect(await play.phase(person) == "suppressed", "not suppressed")


async def sales_no_response_recycle(play: Play) -> None:
    """No outcome in the follow-up window: recycled by the system, then the value note."""
    person = lead(key="silent")
    task = await escalate(play, person)
    await play.sleep_until(task.follow_up_until + timedelta(minutes=5))
    await play.sleep(days=1)
    await play.event(person, "blog_viewed")
    state = await lead_state(play.client, person.id)
    expect(state.track == "no_response_follow_up", f"track {state.track}")


async def sales_retier_on_hand_raise(play: Play) -> None:
    """A tier-3 task made tier 1 by a demo request while it waits, then recycled."""
    person = lead(key="retier", title="Marketing Coordinator", company_size=8,
                  industry="retail")
    await play.sleep_until(next_local(await play.now(), 1, time(10)))
    await play.start(person)
    for kind in ("roi_calculator_used", "pricing_page_viewed", "comparison_viewed",
                 "pricing_page_viewed", "case_study_downloaded"):
        await play.event(person, kind)
    task = play.open_task(person)
    expect(task.tier == 3, f"tier {task.tier}")
    await play.event(person, "demo_requested")
    expect(play.open_task(person).tier == 1, "not re-tiered")
    await play.answer(person, task_id=task.id, action="recycle", by=task.owner,
                      note="call again after their reorg")
    await play.sleep(days=2)


async def migrated_mid_wait(play: Play) -> None:
    """A lead waiting in the welcome track moves to an edited playbook (a longer wait) and
    goes on from the same step (needs the `migrate` update: 0.2.0 on)."""
    from engine.client.leads import migrate_lead
    from engine.journey.migration import MigrateRequest

    person = small(key="migrated")
    await play.start(person)
    await play.sleep(days=1, minutes=7)
    welcome = PLAYBOOK.track("welcome")
    steps = [step.model_copy(update={"duration": timedelta(days=4)}) if step.id == "settle"
             else step for step in welcome.steps]
    edited = PLAYBOOK.model_copy(update={"tracks": {
        **PLAYBOOK.tracks, "welcome": welcome.model_copy(update={"steps": steps})}})
    result = await migrate_lead(play.client, person.id, MigrateRequest(playbook=edited))
    expect(result.status == "moved", f"migrate said {result.status}")
    await play.sleep(days=10)
    state = await lead_state(play.client, person.id)
    expect(state.playbook_version == edited.version, "still on the old version")


class _Hook(BaseHTTPRequestHandler):
    """A CRM endpoint that is down for the first delivery, then accepts."""

    calls = 0

    def do_POST(self) -> None:  # noqa: N802 - the http.server hook name
        self.rfile.read(int(self.headers.get("content-length", 0)))
        type(self).calls += 1
        self.send_response(503 if type(self).calls == 1 else 204)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


async def sales_webhook(play: Play) -> None:
    """The owner's notice as a signed webhook: refused once, retried, delivered."""
    person = lead(key="hooked")
    await escalate(play, person)
    await play.sleep(minutes=10)
    expect(_Hook.calls >= 2, f"{_Hook.calls} webhook calls")


PLAYS: dict[str, Callable[[Play], Awaitable[None]]] = {
    play.__name__: play for play in (
        webinar_attendee, webinar_case_study_accelerates, pricing_visitor, content_syndication,
        cadence_30_60_90, re_engagement_after_21_days, reactivation_engaged,
        reactivation_never_engaged, triggers_and_committee, unsubscribe, continued_as_new,
        sales_breach_reroute_accept, sales_timing_reject_rest_reactivate,
        sales_competitor_reject, sales_no_response_recycle, sales_retier_on_hand_raise,
        sales_webhook, migrated_mid_wait, burst_in_one_signal)}
# Plays of behaviour a release may not have, and the module that shows it has it.
NEEDS = {"migrated_mid_wait": "engine.journey.migration",
         "burst_in_one_signal": "engine.journey.dedupe"}


# --- recording -------------------------------------------------------------------------------

async def _runs(client: Client, workflow_id: str) -> list[tuple[str, str]]:
    """(run id, history JSON) of every run of a workflow, first to last."""
    handle = client.get_workflow_handle(workflow_id)
    first = (await handle.describe()).raw_description.workflow_execution_info
    run_id = first.first_run_id or first.execution.run_id
    runs: list[tuple[str, str]] = []
    while run_id:
        history = await client.get_workflow_handle(workflow_id, run_id=run_id).fetch_history()
        runs.append((run_id, history.to_json()))
        last = history.events[-1]
        run_id = last.workflow_execution_continued_as_new_event_attributes.new_execution_run_id \
            if last.HasField("workflow_execution_continued_as_new_event_attributes") else ""
    return runs


async def _webhook_ids(play: Play) -> list[str]:
    from engine.runtime.notices import webhook_workflow_id

    ids = []
    for workflow_id in play.workflow_ids:
        lead_id = workflow_id.split(":", 1)[1]
        for task in play.store.sales_tasks(lead_id):
            for notice in range(8):
                candidate = webhook_workflow_id(task.id, notice)
                try:
                    await play.client.get_workflow_handle(candidate).describe()
                except Exception:  # noqa: BLE001 - no webhook for that notice
                    continue
                ids.append(candidate)
    return ids


async def record(name: str, out: Path) -> list[Path]:
    """Run one play and write its histories as `<play>[.<n>].json`, with a manifest entry."""
    settings: dict[str, Any] = {}
    server = None
    if name == "sales_webhook":
        server = ThreadingHTTPServer(("127.0.0.1", 0), _Hook)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        settings["webhook_url"] = f"http://127.0.0.1:{server.server_address[1]}/hooks"
    env = await WorkflowEnvironment.start_time_skipping(
        data_converter=pydantic_data_converter, runtime=quiet_runtime(),
        test_server_existing_path=test_server_path())
    written: list[Path] = []
    try:
        async with env:
            store, transport = Store.temporary(), MemoryTransport()
            queue = f"replay-{name}"
            activities = build_activities(Settings(**settings), store, transport)
            async with build_worker(env.client, activities, queue):
                play = Play(env, store, transport, queue)
                await PLAYS[name](play)
                ids = [*play.workflow_ids, *await _webhook_ids(play)]
                for workflow_id in ids:
                    handle = env.client.get_workflow_handle(workflow_id)
                    if (await handle.describe()).status == 1:  # still running
                        await handle.terminate(reason="recording finished")
                histories = [(wid, run, text) for wid in ids
                             for run, text in await _runs(env.client, wid)]
            store.dispose()
    finally:
        if server is not None:
            server.shutdown()
    for index, (workflow_id, run_id, text) in enumerate(histories):
        path = out / (f"{name}.json" if len(histories) == 1 else f"{name}.{index + 1}.json")
        path.write_text(json.dumps({"play": name, "doc": (PLAYS[name].__doc__ or "").strip(),
                                    "workflow_id": workflow_id, "run_id": run_id,
                                    "history": json.loads(text)}, indent=1) + "\n")
        written.append(path)
    return written


def _keep_playbooks(out: Path) -> None:
    """Write the playbook versions the plays ran beside their histories: runs that name
    their playbook by version replay only where those versions are known."""
    if not _has("engine.dsl.library"):
        return  # a release whose workflows carry the spec itself
    from engine.dsl import library

    path = out / "playbooks.json"
    kept = json.loads(path.read_text()) if path.exists() else {}
    kept |= {spec.version: spec.model_dump(mode="json") for spec in library.specs()}
    path.write_text(json.dumps(kept, indent=1, sort_keys=True) + "\n")


def _has(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False


async def main(out: Path, names: list[str]) -> None:
    unknown = [n for n in names if n not in PLAYS]
    if unknown:
        raise SystemExit(f"unknown play(s): {', '.join(unknown)}; known: {', '.join(PLAYS)}")
    out.mkdir(parents=True, exist_ok=True)
    for name in names or list(PLAYS):
        if name in NEEDS and not _has(NEEDS[name]):
            print(f"{name}: skipped (not in this release)", flush=True)
            continue
        for old in out.glob(f"{name}.*json"):
            old.unlink()
        paths = await record(name, out)
        _keep_playbooks(out)
        print(f"{name}: {len(paths)} histor{'y' if len(paths) == 1 else 'ies'}", flush=True)


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1]), sys.argv[2:]))
