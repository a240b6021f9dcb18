"""The sales JSON API: who may see which task, how answers are refused, and what a real
answer does to the lead's workflow and the task."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio.client import Client

from engine.api import create_app
from engine.client import Relay
from engine.events import Event
from engine.feedback import RejectReason
from engine.leads import LeadProfile
from engine.settings import Settings
from engine.store import SalesTaskRow, Store
from tests.stack import Stack, identify
from workflows import PLAYBOOK

XSS = "<script>alert(1)</script>"


@dataclass
class Desk:
    """An API over a seeded store whose Temporal is unreachable, and its sign-in tokens."""

    http: httpx.AsyncClient
    store: Store
    now: datetime
    tokens: dict[str, str]

    def auth(self, user: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[user]}"}

    def row(self, task_id: str) -> dict[str, Any]:
        task = self.store.sales_task(task_id)
        assert task is not None
        return task.model_dump()


def seed(store: Store, now: datetime) -> dict[str, str]:
    """Leads and tasks of two reps (the shipped routing's jordan and sam), one closed task,
    one alert; tokens for jordan, sam, priya (a manager in the routing rules) and boss (a
    manager by token)."""
    people = [("ana", "Ana", "Ruiz", "Acme"), ("bo", "Bo", "Chen", "Initrode"),
              ("cy", "Cy", "Diaz", "Globex"), ("dee", "Dee", "Ng", "Umbrella"),
              ("xss", XSS, "Smith", "Evil <img src=x onerror=alert(2)> Inc"),
              ("web/eve", "Eve", "Park", "Hooli")]
    for lead_id, first, last, company in people:
        store.upsert_lead(LeadProfile(
            id=lead_id, email=f"{lead_id.replace('/', '.')}@{company.split()[0].lower()}.io",
            first_name=first, last_name=last, title="VP Marketing", company=company,
            company_domain=f"{lead_id.replace('/', '-')}.example", source="webinar"), now=now)
    handoff = {"source": "webinar", "campaign": "pipeline-webinar-q3",
               "last_meaningful_action": "requested a demo (within the hour)",
               "content_engaged": ["case study: Globex cut reporting time 40%"],
               "likely_pain": "needs to justify the spend with numbers",
               "buying_role": "champion (budget influence)",
               "company_fit": "A fit 500-person saas company Acme in US",
               "engagement_pattern": "6 actions over 12 days, 4 in the last 7 days — accelerating",
               "related_contacts": ["Raj Patel (CFO)"], "recycle_path": "reactivation in 90 days",
               "scores": {"fit": 40, "intent": 55}}
    tasks = [("ana:escalation:2", "ana", "escalation", 1, "jordan", 23),
             ("bo:escalation:4", "bo", "escalation", 3, "jordan", 2 * 24 * 60),
             ("cy:escalation:3", "cy", "escalation", 2, "sam", -65),
             ("dee:escalation:5", "dee", "escalation", 2, "jordan", 90),
             ("ana:alert:7", "ana", "alert", 2, "jordan", 30),
             ("xss:escalation:1", "xss", "escalation", 2, "jordan", 3 * 24 * 60),
             ("web/eve:escalation:9", "web/eve", "escalation", 3, "jordan", 4 * 24 * 60)]
    for task_id, lead_id, kind, tier, owner, minutes in tasks:
        store.create_sales_task(
            id=task_id, lead_id=lead_id, kind=kind, tier=tier,
            reason=f"VP Marketing at {lead_id}'s company who requested a demo.",
            opener="Saw you asked for a demo — what prompted it?",
            handoff={**handoff, "tier": tier}, now=now - timedelta(minutes=5),
            due_at=now + timedelta(minutes=minutes), owner=owner,
            owner_name={"jordan": "Jordan Lee", "sam": "Sam Ortiz"}[owner],
            route_rule="territory US")
    store.close_task("dee:escalation:5", status="rejected", at=now - timedelta(minutes=2),
                     by="jordan", reason=RejectReason.DUPLICATE.value, note="same as dee-old",
                     next_step="suppressed: no further email")
    store.record_event("ana", Event(id="e-1", type="pricing_page_viewed",
                                    at=now - timedelta(hours=1), properties={"path": "/pricing"}),
                       now=now)
    return {"jordan": store.issue_token("jordan", now=now),
            "sam": store.issue_token("sam", now=now),
            "priya": store.issue_token("priya", now=now),
            "boss": store.issue_token("boss", role="manager", now=now)}


async def _unreachable() -> Client:
    raise ConnectionRefusedError("connection refused")


@asynccontextmanager
async def seeded_app(folder: Path, connect: Callable[[], Awaitable[Client]] = _unreachable,
                     **overrides: Any) -> AsyncIterator[Desk]:
    """The API over a seeded SQLite file, with a relay that cannot reach Temporal."""
    settings = Settings(write_keys="k", database_url=f"sqlite:///{folder}/sales.db", **overrides)
    store = Store(settings.database_url, upgrade=True)
    now = datetime.now(UTC)
    tokens = seed(store, now)
    app = create_app(settings, store=store, playbook=PLAYBOOK,
                     relay=Relay(store, PLAYBOOK, connect))
    base = settings.base_url
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url=base) as http:
            yield Desk(http, store, now, tokens)
    finally:
        store.dispose()


@pytest.fixture(name="desk")
async def _desk(tmp_path: Path) -> AsyncIterator[Desk]:
    async with seeded_app(tmp_path) as desk:
        yield desk


def ids(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return [task["id"] for task in response.json()["tasks"]]


# --- who may see what ----------------------------------------------------------------------


async def test_a_missing_wrong_or_revoked_token_is_401_with_a_bearer_challenge(
        desk: Desk) -> None:
    for headers in ({}, {"Authorization": "Bearer nt_nope"}, {"Authorization": "Basic a2V5Og=="},
                    {"Authorization": "Bearer "}):
        response = await desk.http.get("/sales/tasks", headers=headers)
        assert response.status_code == 401, headers
        assert response.headers["www-authenticate"].startswith("Bearer")
    assert (await desk.http.get("/sales/tasks", headers=desk.auth("jordan"))).status_code == 200

    desk.store.revoke_tokens("jordan", now=desk.now)
    response = await desk.http.get("/sales/tasks", headers=desk.auth("jordan"))
    assert response.status_code == 401
    assert response.json()["error"] == "unknown or revoked token"


async def test_a_rep_sees_only_their_own_open_escalations_soonest_due_first(desk: Desk) -> None:
    response = await desk.http.get("/sales/tasks", headers=desk.auth("jordan"))
    assert ids(response) == ["ana:escalation:2", "bo:escalation:4", "xss:escalation:1",
                             "web/eve:escalation:9"]
    body = response.json()
    assert body["total"] == 4 and body["viewer"] == {"user_id": "jordan", "role": "rep"}
    first = body["tasks"][0]
    assert first["sla"] in ("due in 22 min", "due in 23 min")
    assert first["lead_name"] == "Ana Ruiz" and first["lead_company"] == "Acme"
    assert first["owner_name"] == "Jordan Lee" and first["tier"] == 1
    assert ids(await desk.http.get("/sales/tasks", headers=desk.auth("sam"))) == [
        "cy:escalation:3"]


async def test_a_rep_may_not_list_another_reps_tasks(desk: Desk) -> None:
    response = await desk.http.get("/sales/tasks", params={"owner": "sam"},
                                   headers=desk.auth("jordan"))
    assert response.status_code == 403
    assert "only their own" in response.json()["error"]
    mine = await desk.http.get("/sales/tasks", params={"owner": "jordan"},
                               headers=desk.auth("jordan"))
    assert len(ids(mine)) == 4


async def test_another_reps_task_looks_exactly_like_a_missing_one(desk: Desk) -> None:
    theirs = await desk.http.get("/sales/tasks/cy:escalation:3", headers=desk.auth("jordan"))
    missing = await desk.http.get("/sales/tasks/zz:escalation:3", headers=desk.auth("jordan"))
    assert theirs.status_code == missing.status_code == 404
    assert theirs.json()["error"].replace("cy:", "zz:") == missing.json()["error"]
    before = desk.row("cy:escalation:3")
    answer = await desk.http.post("/sales/tasks/cy:escalation:3/accept",
                                  headers=desk.auth("jordan"))
    assert answer.status_code == 404
    assert desk.row("cy:escalation:3") == before
    assert (await desk.http.get("/sales/tasks/cy:escalation:3",
                                headers=desk.auth("sam"))).status_code == 200


@pytest.mark.parametrize("manager", ["priya", "boss"])
async def test_managers_see_every_task_and_filter_by_owner_tier_status_and_kind(
        desk: Desk, manager: str) -> None:
    auth = desk.auth(manager)

    async def listed(**params: Any) -> list[str]:
        return ids(await desk.http.get("/sales/tasks", params=params, headers=auth))

    assert await listed() == ["cy:escalation:3", "ana:escalation:2", "bo:escalation:4",
                              "xss:escalation:1", "web/eve:escalation:9"]
    assert await listed(owner="sam") == ["cy:escalation:3"]
    assert await listed(tier=3) == ["bo:escalation:4", "web/eve:escalation:9"]
    assert await listed(status="rejected") == ["dee:escalation:5"]
    assert len(await listed(status="all")) == 6
    assert await listed(kind="alert") == ["ana:alert:7"]
    page = await desk.http.get("/sales/tasks", params={"limit": 2, "offset": 1}, headers=auth)
    assert ids(page) == ["ana:escalation:2", "bo:escalation:4"] and page.json()["total"] == 5
    overdue = (await desk.http.get("/sales/tasks", headers=auth)).json()["tasks"][0]
    assert overdue["sla"] in ("overdue by 1 h 5 min", "overdue by 1 h 6 min")
    assert (await desk.http.get("/sales/tasks", headers=auth)).json()["viewer"]["role"] == \
        "manager"


@pytest.mark.parametrize("params", [{"tier": 4}, {"limit": 201}, {"status": "bogus"},
                                    {"kind": "note"}, {"offset": -1}])
async def test_query_values_out_of_range_are_422(desk: Desk, params: dict[str, Any]) -> None:
    response = await desk.http.get("/sales/tasks", params=params, headers=desk.auth("boss"))
    assert response.status_code == 422


# --- answers that are refused ----------------------------------------------------------------


async def test_an_unknown_reject_reason_is_422_naming_every_allowed_value(desk: Desk) -> None:
    before = desk.row("ana:escalation:2")
    response = await desk.http.post("/sales/tasks/ana:escalation:2/reject",
                                    json={"reason": "meh"}, headers=desk.auth("jordan"))
    assert response.status_code == 422
    body = response.json()
    assert body["error"] == "unknown reject reason 'meh'" and body["field"] == "reason"
    assert body["allowed"] == [reason.value for reason in RejectReason]
    missing = await desk.http.post("/sales/tasks/ana:escalation:2/reject", json={},
                                   headers=desk.auth("jordan"))
    assert missing.status_code == 422 and missing.json()["allowed"] == body["allowed"]
    assert desk.row("ana:escalation:2") == before


async def test_a_timing_reject_needs_the_date_to_come_back(desk: Desk) -> None:
    response = await desk.http.post("/sales/tasks/ana:escalation:2/reject",
                                    json={"reason": "timing_not_active"},
                                    headers=desk.auth("jordan"))
    assert response.status_code == 422 and response.json()["field"] == "until"


async def test_answering_a_closed_task_is_409_and_changes_nothing(desk: Desk) -> None:
    before = desk.row("dee:escalation:5")
    for action, body in (("accept", None), ("reject", {"reason": "no_response"}),
                         ("recycle", {"until": None})):
        response = await desk.http.post(f"/sales/tasks/dee:escalation:5/{action}", json=body,
                                        headers=desk.auth("jordan"))
        assert response.status_code == 409, action
        error = response.json()["error"]
        assert "already rejected (Duplicate record)" in error and "by jordan" in error
    assert desk.row("dee:escalation:5") == before


async def test_an_alert_cannot_be_answered(desk: Desk) -> None:
    response = await desk.http.post("/sales/tasks/ana:alert:7/accept",
                                    headers=desk.auth("jordan"))
    assert response.status_code == 409 and "alert" in response.json()["error"]


async def test_the_owner_dismisses_an_alert_over_the_api_and_it_leaves_the_open_list(
        desk: Desk) -> None:
    listed = await desk.http.get("/sales/tasks", params={"kind": "alert"},
                                 headers=desk.auth("jordan"))
    assert ids(listed) == ["ana:alert:7"]
    for user, code in (("sam", 404), ("priya", 403)):  # another rep; a manager, not its owner
        refused = await desk.http.post("/sales/tasks/ana:alert:7/dismiss",
                                       headers=desk.auth(user))
        assert refused.status_code == code, refused.text
    escalation = await desk.http.post("/sales/tasks/ana:escalation:2/dismiss",
                                      headers=desk.auth("jordan"))
    assert escalation.status_code == 409 and "accept, reject or recycle" in escalation.text

    done = await desk.http.post("/sales/tasks/ana:alert:7/dismiss", headers=desk.auth("jordan"))

    assert done.status_code == 200 and done.json()["task"]["status"] == "dismissed"
    assert ids(await desk.http.get("/sales/tasks", params={"kind": "alert"},
                                   headers=desk.auth("jordan"))) == []
    assert ids(await desk.http.get("/sales/tasks", params={"kind": "alert", "status": "dismissed"},
                                   headers=desk.auth("jordan"))) == ["ana:alert:7"]
    twice = await desk.http.post("/sales/tasks/ana:alert:7/dismiss", headers=desk.auth("jordan"))
    assert twice.status_code == 409 and "already dismissed" in twice.json()["error"]


async def test_while_temporal_is_down_an_answer_is_503_with_retry_after_and_changes_nothing(
        desk: Desk) -> None:
    before = desk.row("ana:escalation:2")
    response = await desk.http.post("/sales/tasks/ana:escalation:2/accept",
                                    json={"note": "calling today"}, headers=desk.auth("jordan"))
    assert response.status_code == 503
    assert int(response.headers["retry-after"]) > 0
    assert "nothing changed" in response.json()["error"]
    assert desk.row("ana:escalation:2") == before


async def test_after_temporal_failed_pages_read_the_store_without_trying_again(
        tmp_path: Path) -> None:
    attempts: list[int] = []

    async def counting() -> Client:
        attempts.append(1)
        raise ConnectionRefusedError("connection refused")

    async with seeded_app(tmp_path, connect=counting) as desk:
        for _ in range(3):
            response = await desk.http.get("/sales/tasks/ana:escalation:2",
                                           headers=desk.auth("jordan"))
            assert response.json()["lead_timeline"]["source"] == "store"
        assert len(attempts) == 1
        # An answer is what the rep asked for: it always tries.
        answer = await desk.http.post("/sales/tasks/ana:escalation:2/accept",
                                      headers=desk.auth("jordan"))
        assert answer.status_code == 503 and len(attempts) == 2


# --- reading a task ---------------------------------------------------------------------------


async def test_a_task_carries_its_handoff_package_and_both_timelines(desk: Desk) -> None:
    response = await desk.http.get("/sales/tasks/ana:escalation:2", headers=desk.auth("jordan"))
    assert response.status_code == 200
    body = response.json()
    task = body["task"]
    assert task["handoff"]["likely_pain"] == "needs to justify the spend with numbers"
    assert task["handoff"]["campaign"] == "pipeline-webinar-q3"
    assert task["opener"].startswith("Saw you asked") and task["owner"] == "jordan"
    assert [e["kind"] for e in body["task_timeline"]] == ["opened"]
    assert body["lead"]["company"] == "Acme"
    assert body["related_contacts"] == ["Raj Patel (CFO)"]
    timeline = body["lead_timeline"]
    assert timeline["source"] == "store"  # Temporal is unreachable here
    assert [(e["kind"], e["detail"]) for e in timeline["entries"]] == [
        ("lead", "viewed the pricing page")]  # the task's own moments are on its timeline


async def test_task_ids_route_with_colons_and_slashes_plain_or_url_encoded(desk: Desk) -> None:
    auth = desk.auth("jordan")
    for path in ("/sales/tasks/ana:escalation:2", "/sales/tasks/ana%3Aescalation%3A2"):
        response = await desk.http.get(path, headers=auth)
        assert response.status_code == 200 and response.json()["task"]["id"] == "ana:escalation:2"
    nested = await desk.http.get("/sales/tasks/web%2Feve%3Aescalation%3A9", headers=auth)
    assert nested.json()["task"]["id"] == "web/eve:escalation:9"
    plain = await desk.http.get("/sales/tasks/web/eve:escalation:9", headers=auth)
    assert plain.json()["task"]["id"] == "web/eve:escalation:9"
    # The action suffix is the route's, not part of the id: the desk was reached (and
    # answered that Temporal is down), not a 404 for a task named ".../accept".
    action = await desk.http.post("/sales/tasks/web/eve:escalation:9/accept", headers=auth)
    assert action.status_code == 503


# --- a real answer through the workflow ------------------------------------------------------


async def escalated(stack: Stack, lead_id: str, **traits: Any) -> SalesTaskRow:
    """Identify a lead, have it request a demo, and wait for its open escalation."""
    await stack.send("/v1/identify", identify(lead_id, **traits))
    await stack.send("/v1/track", {"userId": lead_id, "event": "Demo Requested",
                                   "properties": {"form": "book-a-demo"}})

    async def task() -> SalesTaskRow | None:
        tasks = await asyncio.to_thread(stack.store.sales_tasks, lead_id)
        return next((t for t in tasks if t.kind == "escalation" and t.status == "open"), None)

    found: SalesTaskRow = await stack.until(task, timeout=60)
    return found


def bearer(stack: Stack, user: str, role: str = "rep") -> dict[str, str]:
    return {"Authorization": "Bearer "
            + stack.store.issue_token(user, role=role, now=datetime.now(UTC))}


async def test_the_owner_accepts_and_a_second_answer_is_409_and_changes_nothing(
        stack: Stack) -> None:
    task = await escalated(stack, "gil")
    assert task.owner, "the shipped routing assigns every escalation"
    owner = bearer(stack, task.owner)
    url = f"/sales/tasks/{task.id}"

    detail = await stack.http.get(url, headers=owner)
    assert detail.status_code == 200 and detail.json()["lead_timeline"]["source"] == "workflow"
    assert "handed to sales, tier 1" in [
        e["detail"] for e in detail.json()["lead_timeline"]["entries"]]

    accepted = await stack.http.post(f"{url}/accept", json={"note": "booked a call"},
                                     headers=owner)
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["status"] == "accepted" and accepted.json()["message"]
    row = stack.store.sales_task(task.id)
    assert row is not None and row.status == "accepted" and row.closed_by == task.owner
    assert row.outcome_note == "booked a call"

    for action, body in (("accept", None), ("reject", {"reason": "no_business_need"})):
        again = await stack.http.post(f"{url}/{action}", json=body, headers=owner)
        assert again.status_code == 409, again.text
        assert "already accepted" in again.json()["error"]
    assert stack.store.sales_task(task.id) == row
    listed = await stack.http.get("/sales/tasks", params={"status": "accepted"}, headers=owner)
    assert task.id in ids(listed)


async def test_an_answer_the_workflow_refuses_is_409_with_its_reason(stack: Stack) -> None:
    task = await escalated(stack, "hal")
    manager = bearer(stack, "someone", role="manager")
    yesterday = (datetime.now(UTC) - timedelta(days=1)).date().isoformat()
    refused = await stack.http.post(f"/sales/tasks/{task.id}/recycle",
                                    json={"until": yesterday}, headers=manager)
    assert refused.status_code == 409, refused.text
    assert "future date" in refused.json()["error"]
    row = stack.store.sales_task(task.id)
    assert row is not None and row.status == "open"

    rejected = await stack.http.post(f"/sales/tasks/{task.id}/reject",
                                     json={"reason": "budget_not_realistic"}, headers=manager)
    assert rejected.status_code == 200, rejected.text
    assert rejected.json()["status"] == "rejected"
    assert "budget_business_case" in rejected.json()["next_step"]
    row = stack.store.sales_task(task.id)
    assert row is not None and row.status == "rejected" and row.closed_by == "someone"
    assert row.outcome_reason == "budget_not_realistic"
