"""Upgrading from the last release: leads left mid-journey by the release's stack carry on
under the current code, on the same Temporal server and the same database.

The release's `nurture api` and `nurture worker` (a checkout of its commit) enroll five leads
on a short-clock playbook: one waits in a step, one listens for a reply, one has continued
as new into another phase, one waits on a tier-1 sales SLA and one rests after sales
recycled it. Then everything stops, Temporal included; the current code starts on the same
data; and every lead goes on: its timers fire on the new worker, the next emails and sales
notices go out once, and no workflow task fails on the histories the release wrote.
"""

from __future__ import annotations

import secrets
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowQueryFailedError
from temporalio.service import RPCError

from engine.client import lead_state as query_state
from engine.client import workflow_id_for
from tests.releases import latest_release, release_tree
from tests.upgrade.release_stack import (
    ROOT,
    WRITE_KEY,
    ReleaseStack,
    TimedOut,
    email_ledger,
    eventually,
    has_command,
    nurture_env,
    open_timers,
    run_nurture,
    workflow_task_failures,
)
from tests.upgrade.upgrade_playbook import PAUSE, REP
from worker.dev import free_port
from worker.smtp_sink import SMTPSink, outbox_messages
from worker.temporal_server import TemporalDevServer

LEADS = {"up-waiting": "waiting", "up-listening": "listening", "up-opening": "opening",
         "up-sla": "handover", "up-resting": "handover"}
WAITING_POINTS = {  # (track, step, phase, runs) of each lead when the release stops
    "up-waiting": ("waiting", "pause", "qualification", 1),
    "up-listening": ("listening", "listen", "qualification", 1),
    "up-opening": ("onward", "pause", "acceleration", 2),
    "up-sla": (None, None, "sales", 1),
    "up-resting": (None, None, "recycled", 1),
}
JOURNEY_EMAILS = Counter({
    ("up-waiting", "welcome_confirmation"): 1, ("up-waiting", "activation_value"): 1,
    ("up-listening", "welcome_confirmation"): 1, ("up-listening", "education_pipeline"): 1,
    ("up-opening", "welcome_confirmation"): 1, ("up-opening", "accel_comparison"): 1,
    ("up-opening", "activation_value"): 1,
})
REST = timedelta(days=30)
SETTLE_SECONDS = 60.0
AFTER_UPGRADE_SECONDS = PAUSE.total_seconds() + 90


@dataclass
class Site:
    """What outlives the processes: Temporal and its files, the database, the outbox."""

    data: Path
    temporal: TemporalDevServer
    settings: dict[str, str]
    rep_token: str = ""
    before: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def database(self) -> Path:
        return self.data / "nurture.db"

    def stack(self, tree: Path) -> ReleaseStack:
        """The API and worker of `tree`, set up for this site."""
        return ReleaseStack(tree, self.env(tree), self.data / "logs", self.api())

    def env(self, tree: Path) -> dict[str, str]:
        return nurture_env(tree, self.settings)

    def api(self) -> str:
        return self.settings["NURTURE_BASE_URL"]

    def sent(self, after: datetime, **match: str) -> bool:
        """Whether the ledger holds an email sent after `after` with these column values."""
        return any(row["status"] == "sent" and row["sent_at"] > after
                   and all(row[k] == v for k, v in match.items())
                   for row in email_ledger(self.database))


async def lead_state(client: Client, lead_id: str) -> dict[str, Any] | None:
    """The lead's state as JSON, or None before its workflow exists."""
    try:
        snapshot = await query_state(client, lead_id)
    except RPCError:
        return None
    return snapshot.model_dump(mode="json")


async def all_states(client: Client) -> dict[str, dict[str, Any]]:
    states = {lead: await lead_state(client, lead) for lead in LEADS}
    return {lead: state for lead, state in states.items() if state is not None}


async def enroll_on_the_release(site: Site, client: Client, old_tree: Path) -> None:
    """Enroll the leads through the release's API and bring each to where it waits; recycle
    the resting lead through the sales API, with a rep token the release's CLI issued."""
    site.rep_token = (await run_nurture(old_tree, site.env(old_tree), "tasks", "token",
                                        REP)).split()[0]
    rep = {"Authorization": f"Bearer {site.rep_token}"}
    async with httpx.AsyncClient(base_url=site.api(), timeout=30) as http:
        for lead, entry in LEADS.items():
            answer = await http.post("/v1/identify", auth=(WRITE_KEY, ""), json={
                "userId": lead, "messageId": f"identify-{lead}", "traits": {
                    "email": f"ana@{lead}.example", "firstName": "Ana", "lastName": "Ruiz",
                    "company": f"Company {lead}", "source": entry}})
            assert answer.status_code == 200, answer.text

        async def escalated() -> str | None:
            listed = await http.get("/sales/tasks", headers=rep)
            assert listed.status_code == 200, listed.text
            task = next((t["id"] for t in listed.json()["tasks"]
                         if t["lead_id"] == "up-resting"), None)
            # An activity writes the row; the workflow takes answers on the task once it
            # has that activity's result (on a loaded machine, a moment later).
            state = await lead_state(client, "up-resting")
            waiting = state is not None and (state.get("escalation") or {}).get(
                "task_id") == task
            return task if waiting else None

        task = await eventually(escalated, "the resting lead's sales task", SETTLE_SECONDS)
        recycled = await http.post(f"/sales/tasks/{task}/recycle", headers=rep, json={
            "until": (date.today() + REST).isoformat(), "note": "back next month"})
        assert recycled.status_code == 200 and recycled.json()["status"] == "recycled", \
            recycled.text

    async def in_place() -> dict[str, dict[str, Any]] | None:
        states = await all_states(client)
        ledger = email_ledger(site.database)
        quiet = len(ledger) == 6 and all(row["status"] == "sent" for row in ledger)
        where = {lead: (s["track"], s["step"], s["phase"], s["runs"])
                 for lead, s in states.items()}
        return states if quiet and where == WAITING_POINTS else None

    site.before = await eventually(in_place, "every lead to reach its waiting point",
                                   SETTLE_SECONDS)
    for lead in LEADS:  # the timing this test relies on: nothing has fired yet
        timers = await open_timers(client.get_workflow_handle(workflow_id_for(lead)))
        assert timers, f"{lead} should wait on a timer when the release stops"


async def upgrade(site: Site, old: ReleaseStack, new_tree: Path
                  ) -> tuple[ReleaseStack, Client, datetime]:
    """The upgrade as an operator does it: stop the release's processes and Temporal, start
    Temporal again on its data, upgrade the schema (once this code has `nurture db`), start
    the current processes. Returns them, a client, and when the release's worker stopped."""
    await old.stop()
    stopped_at = datetime.now(UTC)
    await site.temporal.stop()
    client = await site.temporal.start()
    if has_command("db"):
        await run_nurture(new_tree, site.env(new_tree), "db", "upgrade")
    new = site.stack(new_tree)
    await new.start()
    return new, client, stopped_at


async def carry_on(site: Site, client: Client, stopped_at: datetime) -> None:
    """Events reach the leads through the new API, their timers fire on the new worker, and
    each takes its next step, without a single failed workflow task."""
    async with httpx.AsyncClient(base_url=site.api(), timeout=30) as http:
        for lead, event in (("up-listening", "Email Replied"),
                            ("up-resting", "Webinar Registered")):
            answer = await http.post("/v1/track", auth=(WRITE_KEY, ""), json={
                "userId": lead, "event": event, "messageId": f"after-upgrade-{lead}"})
            assert answer.status_code == 200, answer.text
    before = site.before
    sla_task = before["up-sla"]["escalation"]["task_id"]

    unanswered: list[str] = []

    async def moved_on() -> bool:
        failures = await workflow_task_failures(client)
        assert not failures, "workflow tasks failed after the upgrade:\n" + "\n".join(failures)
        try:
            states = await all_states(client)
        except WorkflowQueryFailedError as err:  # e.g. a history the new code cannot replay
            unanswered[:] = [str(err)]
            return False
        sla = states.get("up-sla", {}).get("escalation") or {}
        return all([
            site.sent(stopped_at, lead_id="up-waiting", template="activation_value"),
            site.sent(stopped_at, lead_id="up-listening", template="education_pipeline"),
            site.sent(stopped_at, lead_id="up-opening", template="activation_value"),
            site.sent(stopped_at, key=f"{sla_task}:notice:2"),  # the breach re-notifies
            sla.get("stage") == "breached",
            states.get("up-resting", {}).get("event_count", 0)
            > before["up-resting"]["event_count"],
        ])

    try:
        await eventually(moved_on, "every lead's next step on the current code",
                         AFTER_UPGRADE_SECONDS)
    except TimedOut as err:
        raise TimedOut(f"{err}; the state query last failed with: {unanswered}"
                       if unanswered else str(err)) from None
    states = await all_states(client)
    assert {lead: state["phase"] for lead, state in states.items()} == {
        "up-waiting": "exited", "up-listening": "exited", "up-opening": "exited",
        "up-sla": "sales", "up-resting": "recycled"}
    assert states["up-opening"]["runs"] == 2, "the run the release continued into goes on"
    for lead in LEADS:
        described = await client.get_workflow_handle(workflow_id_for(lead)).describe()
        assert described.status == WorkflowExecutionStatus.RUNNING, (lead, described.status)
    await still_resting(client, states["up-resting"], before["up-resting"])
    await sla_task_breached(site, sla_task, stopped_at)
    assert await workflow_task_failures(client) == []


async def still_resting(client: Client, now: dict[str, Any], before: dict[str, Any]) -> None:
    """The recycled lead still rests until the morning sales gave, on a live timer."""
    assert now["resting_until"] == before["resting_until"]
    rest_ends = datetime.fromisoformat(now["resting_until"])
    assert rest_ends.date() == date.today() + REST
    timers = await open_timers(client.get_workflow_handle(workflow_id_for("up-resting")))
    assert any(abs(fires - rest_ends) < timedelta(minutes=1) for fires in timers), \
        f"the rest should end at {rest_ends}; open timers fire at {timers}"


async def sla_task_breached(site: Site, task_id: str, stopped_at: datetime) -> None:
    """The rep's token from the release still works, and shows the task breached since."""
    async with httpx.AsyncClient(base_url=site.api(), timeout=30) as http:
        shown = await http.get(f"/sales/tasks/{task_id}",
                               headers={"Authorization": f"Bearer {site.rep_token}"})
    assert shown.status_code == 200, shown.text
    task, timeline = shown.json()["task"], shown.json()["task_timeline"]
    assert task["status"] == "open" and task["breached_at"] is not None
    assert datetime.fromisoformat(task["breached_at"]) > stopped_at
    assert "sla_breached" in [entry["kind"] for entry in timeline]


def nothing_sent_twice(site: Site) -> None:
    """Every ledger row was sent and reached the SMTP sink once; each lead got each email of
    its journey exactly once, whichever release sent it."""
    ledger = email_ledger(site.database)
    assert all(row["status"] == "sent" for row in ledger), ledger
    journeys = Counter((row["lead_id"], row["template"]) for row in ledger
                       if row["template"] != "sales_notice")
    assert journeys == JOURNEY_EMAILS
    arrived = Counter(str(message["Message-ID"]).strip("<>")
                      for message in outbox_messages(site.data / "outbox"))
    assert arrived == Counter(row["message_id"].strip("<>") for row in ledger)
    assert set(arrived.values()) == {1}


async def test_leads_enrolled_on_the_last_release_carry_on_after_an_upgrade(
        tmp_path: Path) -> None:
    data = tmp_path / "site"
    data.mkdir()
    api_port = free_port()
    with release_tree(latest_release().version) as old_tree:
        async with SMTPSink(data / "outbox") as sink:
            temporal = TemporalDevServer(
                data / "temporal.db", data / "temporal.log", host="127.0.0.1",
                port=free_port(avoid={api_port}), ui_port=free_port(avoid={api_port}),
                start_timeout=90)
            site = Site(data=data, temporal=temporal, settings={
                "TEMPORAL_ADDRESS": temporal.address,
                "NURTURE_DATABASE_URL": f"sqlite:///{data / 'nurture.db'}",
                "NURTURE_SMTP_HOST": sink.host, "NURTURE_SMTP_PORT": str(sink.port),
                "NURTURE_WRITE_KEYS": WRITE_KEY, "NURTURE_SECRET": secrets.token_urlsafe(24),
                "NURTURE_BASE_URL": f"http://127.0.0.1:{api_port}",
                "NURTURE_API_PORT": str(api_port)})
            old, new = site.stack(old_tree), None
            try:
                client = await temporal.start()
                await old.start()
                await enroll_on_the_release(site, client, old_tree)
                new, client, stopped_at = await upgrade(site, old, ROOT)
                await carry_on(site, client, stopped_at)
            except BaseException:
                print(old.output(), new.output() if new else "", sep="\n")
                raise
            finally:
                if new is not None:
                    await new.stop()
                await old.stop()
                await temporal.stop()
            nothing_sent_twice(site)
