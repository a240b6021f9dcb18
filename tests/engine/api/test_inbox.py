"""The sales inbox as a rep's browser sees it: sign-in, the task list, the task page, the
answer forms with their CSRF token, and lead-typed text that never becomes markup."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from tests.engine.api.test_sales_api import XSS, Desk, escalated, seeded_app
from tests.stack import Stack, identify

FORM = {"content-type": "application/x-www-form-urlencoded"}


@pytest.fixture(name="desk")
async def _desk(tmp_path: Path) -> AsyncIterator[Desk]:
    async with seeded_app(tmp_path) as desk:
        yield desk


async def sign_in(http: httpx.AsyncClient, token: str) -> httpx.Response:
    return await http.post("/inbox/login", data={"token": token})


def csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([0-9a-f]+)"', html)
    assert found, "the page has no CSRF token"
    return found.group(1)


def flash(html: str) -> str:
    found = re.search(r'data-testid="flash"[^>]*>([^<]*)<', html)
    return found.group(1) if found else ""


# --- signing in and out ---------------------------------------------------------------------


async def test_signing_in_keeps_the_token_in_a_strict_http_only_cookie_for_the_inbox(
        desk: Desk) -> None:
    response = await sign_in(desk.http, desk.tokens["jordan"])
    assert response.status_code == 303 and response.headers["location"] == "/inbox"
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/inbox" in cookie
    assert "Secure" not in cookie  # http://127.0.0.1: a browser would drop a Secure cookie
    page = await desk.http.get("/inbox")
    assert page.status_code == 200 and 'data-testid="viewer"' in page.text
    assert "jordan" in page.text


async def test_the_cookie_is_secure_when_the_inbox_is_served_over_https(tmp_path: Path) -> None:
    async with seeded_app(tmp_path, base_url="https://sales.northwind.example",
                          secret="a-long-random-secret-for-tests") as desk:
        response = await sign_in(desk.http, desk.tokens["jordan"])
        assert response.status_code == 303 and "Secure" in response.headers["set-cookie"]


async def test_a_wrong_token_shows_the_form_again_with_an_error(desk: Desk) -> None:
    response = await sign_in(desk.http, "nt_not-a-real-token")
    assert response.status_code == 401
    assert 'id="login-form"' in response.text and "unknown or was revoked" in flash(response.text)
    assert "set-cookie" not in response.headers
    assert (await desk.http.get("/inbox")).status_code == 303


async def test_signed_out_visitors_are_sent_to_sign_in(desk: Desk) -> None:
    for path in ("/inbox", "/inbox/tasks/ana:escalation:2"):
        response = await desk.http.get(path)
        assert response.status_code == 303 and response.headers["location"] == "/inbox/login"
    form = await desk.http.get("/inbox/login")
    assert form.status_code == 200 and 'data-testid="token"' in form.text


async def test_signing_out_ends_the_session(desk: Desk) -> None:
    await sign_in(desk.http, desk.tokens["jordan"])
    page = await desk.http.get("/inbox")
    refused = await desk.http.post("/inbox/logout", data={"csrf": "0" * 64})
    assert refused.status_code == 403
    response = await desk.http.post("/inbox/logout", data={"csrf": csrf(page.text)})
    assert response.status_code == 303 and response.headers["location"] == "/inbox/login"
    assert 'nurture_inbox=""' in response.headers["set-cookie"]
    assert (await desk.http.get("/inbox")).status_code == 303


async def test_a_revoked_token_ends_the_session(desk: Desk) -> None:
    await sign_in(desk.http, desk.tokens["jordan"])
    desk.store.revoke_tokens("jordan", now=desk.now)
    assert (await desk.http.get("/inbox")).status_code == 303


async def test_every_page_forbids_framing_caching_and_scripts(desk: Desk) -> None:
    login = await desk.http.get("/inbox/login")
    await sign_in(desk.http, desk.tokens["jordan"])
    for response in (login, await desk.http.get("/inbox"),
                     await desk.http.get("/inbox/tasks/ana:escalation:2")):
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["cache-control"] == "no-store"
        policy = response.headers["content-security-policy"]
        assert "default-src 'self'" in policy and "script-src" not in policy
        assert "frame-ancestors 'none'" in policy
    css = await desk.http.get("/inbox/assets/inbox.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")


# --- the list ---------------------------------------------------------------------------------


async def test_a_rep_sees_their_tasks_with_tier_sla_owner_and_reason(desk: Desk) -> None:
    await sign_in(desk.http, desk.tokens["jordan"])
    page = (await desk.http.get("/inbox")).text
    rows = re.findall(r'data-testid="task-row" data-task-id="([^"]+)"', page)
    assert rows == ["ana:escalation:2", "bo:escalation:4", "xss:escalation:1",
                    "web/eve:escalation:9"]
    assert "cy:escalation:3" not in page  # sam's
    assert 'class="tier tier-1"' in page and "Jordan Lee" in page
    assert re.search(r"due in 2[23] min", page) and "due in 2 d" in page
    assert "VP Marketing at ana&#39;s company who requested a demo." in page
    assert "Ana Ruiz" in page and "Acme" in page
    rejected = (await desk.http.get("/inbox", params={"status": "rejected"})).text
    assert re.findall(r'data-task-id="([^"]+)"', rejected) == ["dee:escalation:5"]
    tier_three = (await desk.http.get("/inbox", params={"tier": "3"})).text
    assert re.findall(r'data-testid="task-row" data-task-id="([^"]+)"', tier_three) == [
        "bo:escalation:4", "web/eve:escalation:9"]


async def test_the_alerts_tab_lists_the_reps_alerts_without_an_sla(desk: Desk) -> None:
    await sign_in(desk.http, desk.tokens["jordan"])
    tasks = (await desk.http.get("/inbox")).text
    alerts = (await desk.http.get("/inbox", params={"status": "alerts"})).text

    assert "ana:alert:7" not in tasks and 'data-testid="tab-alerts"' in tasks
    assert re.findall(r'data-testid="task-row" data-task-id="([^"]+)"', alerts) == [
        "ana:alert:7"]
    assert "no SLA" in alerts and "status-alert" in alerts
    await sign_in(desk.http, desk.tokens["sam"])
    assert "ana:alert:7" not in (await desk.http.get("/inbox?status=alerts")).text


def rows(html: str) -> list[str]:
    return re.findall(r'data-testid="task-row" data-task-id="([^"]+)"', html)


async def test_the_owner_dismisses_an_alert_and_it_leaves_the_alerts_list(desk: Desk) -> None:
    await sign_in(desk.http, desk.tokens["jordan"])
    alerts = (await desk.http.get("/inbox", params={"status": "alerts"})).text
    assert 'action="/inbox/tasks/ana:alert:7/dismiss"' in alerts

    done = await desk.http.post("/inbox/tasks/ana:alert:7/dismiss",
                                data={"csrf": csrf(alerts)})

    assert done.status_code == 303 and done.headers["location"] == "/inbox?status=alerts"
    after = await desk.http.get("/inbox", params={"status": "alerts"})
    assert rows(after.text) == [] and flash(after.text).startswith("Alert dismissed")
    assert 'data-testid="dismissed-link"' in after.text
    dismissed = (await desk.http.get("/inbox", params={"status": "dismissed"})).text
    assert rows(dismissed) == ["ana:alert:7"] and "status-dismissed" in dismissed
    assert 'data-testid="dismiss"' not in dismissed
    row = desk.row("ana:alert:7")
    assert row["status"] == "dismissed" and row["closed_by"] == "jordan"
    assert [e["kind"] for e in row["timeline"]][-1] == "dismissed"
    again = await desk.http.post("/inbox/tasks/ana:alert:7/dismiss",
                                 data={"csrf": csrf(alerts)})
    assert again.status_code == 409 and "already dismissed" in flash(again.text)


async def test_dismissing_needs_the_csrf_token_and_the_alerts_owner(desk: Desk) -> None:
    await sign_in(desk.http, desk.tokens["jordan"])
    forged = await desk.http.post("/inbox/tasks/ana:alert:7/dismiss", data={"csrf": "nope"})
    assert forged.status_code == 403 and desk.row("ana:alert:7")["status"] == "open"

    await sign_in(desk.http, desk.tokens["sam"])  # another rep: the alert is not there
    page = (await desk.http.get("/inbox")).text
    other = await desk.http.post("/inbox/tasks/ana:alert:7/dismiss", data={"csrf": csrf(page)})
    assert other.status_code == 404 and desk.row("ana:alert:7")["status"] == "open"

    await sign_in(desk.http, desk.tokens["priya"])  # a manager sees it, but it is jordan's
    alerts = (await desk.http.get("/inbox", params={"status": "alerts"})).text
    assert rows(alerts) == ["ana:alert:7"] and 'data-testid="dismiss"' not in alerts
    manager = await desk.http.post("/inbox/tasks/ana:alert:7/dismiss",
                                   data={"csrf": csrf(alerts)})
    assert manager.status_code == 403 and "owner (jordan) may dismiss it" in flash(manager.text)
    escalation = await desk.http.post("/inbox/tasks/cy:escalation:3/dismiss",
                                      data={"csrf": csrf(alerts)})
    assert escalation.status_code == 409 and desk.row("cy:escalation:3")["status"] == "open"
    assert desk.row("ana:alert:7")["status"] == "open"


async def test_an_alert_is_dismissed_from_its_own_page(desk: Desk) -> None:
    await sign_in(desk.http, desk.tokens["jordan"])
    page = (await desk.http.get("/inbox/tasks/ana:alert:7")).text
    assert 'data-testid="dismiss"' in page

    done = await desk.http.post("/inbox/tasks/ana:alert:7/dismiss",
                                data={"csrf": csrf(page), "back": "task"})

    assert done.headers["location"] == "/inbox/tasks/ana:alert:7"
    after = (await desk.http.get("/inbox/tasks/ana:alert:7")).text
    assert flash(after).startswith("Alert dismissed") and 'data-testid="dismiss"' not in after
    assert "Dismissed on" in after and "by jordan" in after


async def test_a_manager_sees_everyones_tasks_and_overdue_ones_first(desk: Desk) -> None:
    await sign_in(desk.http, desk.tokens["priya"])
    page = (await desk.http.get("/inbox")).text
    rows = re.findall(r'data-testid="task-row" data-task-id="([^"]+)"', page)
    assert rows[0] == "cy:escalation:3" and len(rows) == 5
    assert re.search(r"overdue by 1 h [56] min", page) and "Sam Ortiz" in page
    assert 'data-testid="filter-owner"' in page
    sams = (await desk.http.get("/inbox", params={"owner": "sam"})).text
    assert re.findall(r'data-testid="task-row" data-task-id="([^"]+)"', sams) == [
        "cy:escalation:3"]


async def test_a_rep_asking_for_another_reps_list_is_told_no(desk: Desk) -> None:
    await sign_in(desk.http, desk.tokens["jordan"])
    response = await desk.http.get("/inbox", params={"owner": "sam"})
    assert response.status_code == 403 and "only their own" in flash(response.text)
    assert "cy:escalation:3" not in response.text


# --- escaping -------------------------------------------------------------------------------


async def test_text_a_lead_typed_is_shown_escaped_never_as_markup(desk: Desk) -> None:
    await sign_in(desk.http, desk.tokens["jordan"])
    for path in ("/inbox", "/inbox/tasks/xss:escalation:1"):
        html = (await desk.http.get(path)).text
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
        assert "<script>alert(1)" not in html and "<script" not in html
        assert "Evil &lt;img src=x onerror=alert(2)&gt; Inc" in html
        assert "<img src=x" not in html
    lead = desk.store.get_lead("xss")
    assert lead is not None and lead.first_name == XSS  # stored as typed, escaped on output


# --- the task page and its forms ------------------------------------------------------------


async def test_the_task_page_shows_the_whole_handoff_package(desk: Desk) -> None:
    await sign_in(desk.http, desk.tokens["jordan"])
    html = (await desk.http.get("/inbox/tasks/ana:escalation:2")).text
    for text in ("webinar", "pipeline-webinar-q3", "requested a demo (within the hour)",
                 "case study: Globex cut reporting time 40%",
                 "needs to justify the spend with numbers", "champion (budget influence)",
                 "A fit 500-person saas company Acme in US", "accelerating",
                 "Raj Patel (CFO)", "reactivation in 90 days",
                 "Saw you asked for a demo — what prompted it?", "Tier 1", "Jordan Lee",
                 "territory US", "viewed the pricing page", "From the database"):
        assert text in html.replace("&#39;", "'"), text
    assert re.search(r'data-testid="sla">due in 2[23] min<', html)
    assert 'data-testid="reject-reason"' in html and "Duplicate record — suppressed" in html
    assert 'data-testid="reject-submit"' in html and 'data-testid="recycle-until"' in html


async def test_a_forged_confirmation_cookie_is_ignored(desk: Desk) -> None:
    await sign_in(desk.http, desk.tokens["jordan"])
    forged = base64.urlsafe_b64encode(json.dumps("Accepted: trust me").encode()).decode()
    desk.http.cookies.set("nurture_flash", f"{forged}.{'0' * 64}", path="/inbox")
    html = (await desk.http.get("/inbox/tasks/ana:escalation:2")).text
    assert flash(html) == "" and "trust me" not in html


async def test_another_reps_task_is_not_found(desk: Desk) -> None:
    await sign_in(desk.http, desk.tokens["jordan"])
    for path in ("/inbox/tasks/cy:escalation:3", "/inbox/tasks/nope:escalation:1"):
        response = await desk.http.get(path)
        assert response.status_code == 404 and "not yours to see" in response.text


async def test_a_form_without_its_csrf_token_changes_nothing(desk: Desk) -> None:
    await sign_in(desk.http, desk.tokens["jordan"])
    before = desk.row("ana:escalation:2")
    for data in ({}, {"csrf": "f" * 64}, {"csrf": ""}, {"csrf": "é" * 64}):
        response = await desk.http.post("/inbox/tasks/ana:escalation:2/accept", data=data)
        assert response.status_code == 403 and "Nothing was changed" in response.text
    assert desk.row("ana:escalation:2") == before


async def test_a_form_from_a_signed_out_browser_goes_to_sign_in(desk: Desk) -> None:
    response = await desk.http.post("/inbox/tasks/ana:escalation:2/accept",
                                    data={"csrf": "f" * 64})
    assert response.status_code == 303 and response.headers["location"] == "/inbox/login"


async def test_answer_errors_are_shown_on_the_task_page(desk: Desk) -> None:
    await sign_in(desk.http, desk.tokens["jordan"])
    token = csrf((await desk.http.get("/inbox/tasks/ana:escalation:2")).text)
    before = {t: desk.row(t) for t in ("ana:escalation:2", "dee:escalation:5")}

    closed = await desk.http.post("/inbox/tasks/dee:escalation:5/accept", data={"csrf": token})
    assert closed.status_code == 409
    assert "already rejected (Duplicate record)" in flash(closed.text)
    assert 'data-testid="outcome"' in closed.text and "same as dee-old" in closed.text

    bad = await desk.http.post("/inbox/tasks/ana:escalation:2/reject",
                               data={"csrf": token, "reason": "meh", "note": "kept <b>"})
    assert bad.status_code == 422 and "unknown reject reason" in flash(bad.text)
    assert "kept &lt;b&gt;</textarea>" in bad.text  # the note survives, escaped

    timing = await desk.http.post("/inbox/tasks/ana:escalation:2/reject",
                                  data={"csrf": token, "reason": "timing_not_active"})
    assert timing.status_code == 422 and "needs the date" in flash(timing.text)
    assert '<option value="timing_not_active" selected>' in timing.text

    down = await desk.http.post("/inbox/tasks/ana:escalation:2/accept", data={"csrf": token})
    assert down.status_code == 503 and "Temporal is unreachable" in flash(down.text)
    assert {t: desk.row(t) for t in before} == before


# --- a real answer through the workflow ------------------------------------------------------


async def test_a_rep_accepts_from_the_inbox_and_sees_the_confirmation(stack: Stack) -> None:
    task = await escalated(stack, "ivy", firstName="Ivy", company=XSS)
    assert task.owner
    token = stack.store.issue_token(task.owner, now=datetime.now(UTC))
    http = stack.http
    assert (await sign_in(http, token)).status_code == 303
    listed = (await http.get("/inbox")).text
    assert f'data-task-id="{task.id}"' in listed and "<script>alert(1)" not in listed
    page = await http.get(f"/inbox/tasks/{task.id}")
    assert page.status_code == 200 and "From the database" not in page.text

    answered = await http.post(f"/inbox/tasks/{task.id}/accept",
                               data={"csrf": csrf(page.text), "note": "call booked"})
    assert answered.status_code == 303, answered.text
    assert answered.headers["location"] == f"/inbox/tasks/{task.id}"
    confirmed = await http.get(answered.headers["location"])
    assert flash(confirmed.text).startswith("Accepted")
    assert 'data-testid="task-status">accepted<' in confirmed.text
    assert 'data-testid="accept-submit"' not in confirmed.text
    again = await http.get(answered.headers["location"])
    assert flash(again.text) == ""  # the confirmation is shown once
    row = stack.store.sales_task(task.id)
    assert row is not None and row.status == "accepted" and row.outcome_note == "call booked"


async def test_the_lead_timeline_tells_behaviour_in_the_reps_words_and_time_zone(
        stack: Stack) -> None:
    await stack.send("/v1/identify", identify("kim", country="DE"))
    await stack.send("/v1/group", {"userId": "kim", "groupId": "acme",
                                   "traits": {"name": "Acme Analytics"}})
    await stack.send("/v1/page", {"userId": "kim", "properties": {"path": "/pricing"}})
    await stack.send("/v1/track", {"userId": "kim", "event": "Case Study Downloaded",
                                   "properties": {"title": "Lakeside <b>Health</b>"}})
    task = await escalated(stack, "kim", country="DE")
    assert task.owner == "lena"  # Europe/Berlin, in the shipped routing rules
    await sign_in(stack.http, stack.store.issue_token("lena", now=datetime.now(UTC)))

    page = (await stack.http.get(f"/inbox/tasks/{task.id}")).text

    timeline = page[page.index('data-testid="lead-timeline"'):]
    lines = [" ".join(re.sub(r"<[^>]+>", " ", line).split()) for line in
             re.findall(r'<tr data-testid="lead-line">(.*?)</tr>', timeline, re.S)]
    said = [line.split(" ", 3)[3] for line in lines]  # after "YYYY-MM-DD HH:MM ZONE"
    for wanted in ("lead viewed the pricing page", "lead requested a demo",
                   "lead downloaded a case study “Lakeside &lt;b&gt;Health&lt;/b&gt;”",
                   "nurture became a lead (source: unknown)", "nurture handed to sales, tier 1"):
        assert wanted in said, (wanted, said)
    assert all(re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d CES?T ", line) for line in lines)
    for internal in ("changed:", "playbook", "profile", "fit:", "intent:", "score"):
        assert internal not in timeline, internal


async def test_a_rep_rejects_for_timing_with_a_date_from_the_inbox(stack: Stack) -> None:
    task = await escalated(stack, "jay")
    assert task.owner
    await sign_in(stack.http, stack.store.issue_token(task.owner, now=datetime.now(UTC)))
    page = await stack.http.get(f"/inbox/tasks/{task.id}")
    until = (datetime.now(UTC) + timedelta(days=60)).date().isoformat()
    answered = await stack.http.post(f"/inbox/tasks/{task.id}/reject", data={
        "csrf": csrf(page.text), "reason": "timing_not_active", "until": until,
        "note": "back after their budget cycle"})
    assert answered.status_code == 303, answered.text
    confirmed = (await stack.http.get(answered.headers["location"])).text
    assert flash(confirmed).startswith("Rejected")
    row = stack.store.sales_task(task.id)
    assert row is not None and row.status == "rejected"
    assert row.outcome_reason == "timing_not_active" and str(row.recycle_until) == until
