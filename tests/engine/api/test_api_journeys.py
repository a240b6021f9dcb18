"""The HTTP API end to end: uvicorn on loopback, the relay, a real worker and Temporal."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from sqlmodel import Session, select

from engine.store import InboundRow
from tests.stack import Stack, daytime_zone, identify, minutes_ago


async def _phase(stack: Stack, lead_id: str, phase: str) -> dict[str, Any] | None:
    """The lead as its workflow reports it, once in `phase` (on a loaded machine a slow
    query makes the API answer from the store, which has no recent events: ask again)."""
    lead = await stack.lead(lead_id)
    return lead if lead.get("phase") == phase and lead.get("source") == "workflow" else None


async def test_identify_enrolls_the_lead(stack: Stack) -> None:
    response = await stack.send("/v1/identify", identify("ana", source="webinar"))
    assert response.status_code == 200 and response.json() == {"success": True}

    lead = await stack.until(lambda: _phase(stack, "ana", "qualification"))

    assert lead["source"] == "workflow"
    assert lead["track"] == "webinar_follow_up"
    assert lead["lead"]["company_size"] == 500 and lead["lead"]["first_name"] == "Ana"
    assert lead["inbound"] == {"delivered": 1}


async def test_anonymous_page_views_are_attached_when_the_visitor_identifies(
        stack: Stack) -> None:
    for minutes, path in ((30, "/blog/pipeline-math"), (20, "/customers/northwind"),
                          (10, "/about")):
        response = await stack.send("/v1/page", {
            "anonymousId": "browser-7", "properties": {"path": path},
            "timestamp": minutes_ago(minutes)})
        assert response.status_code == 200
    await stack.until(lambda: _anonymous_rows(stack, 3))

    await stack.send("/v1/identify", identify("ben", anonymous_id="browser-7"))

    async def attached() -> dict[str, Any] | None:
        lead = await stack.lead("ben")
        return lead if lead.get("event_count") == 3 else None

    lead = await stack.until(attached)
    assert [e["type"] for e in lead["recent_events"]] == [
        "page_viewed", "case_study_viewed", "blog_viewed"]
    # Later anonymous events of that browser go straight to the lead.
    await stack.send("/v1/page", {"anonymousId": "browser-7", "properties": {"path": "/faq"}})
    await stack.until(lambda: _count(stack, "ben", 4))


async def _anonymous_rows(stack: Stack, expected: int) -> bool:
    def count() -> int:
        with Session(stack.store.engine) as session:
            rows = session.exec(select(InboundRow).where(InboundRow.status == "anonymous"))
            return len(list(rows))
    return await asyncio.to_thread(count) == expected


async def _count(stack: Stack, lead_id: str, events: int) -> bool:
    return (await stack.lead(lead_id)).get("event_count") == events


async def test_pricing_visit_accelerates_the_lead(stack: Stack) -> None:
    await stack.send("/v1/identify", identify("cy"))
    await stack.until(lambda: _phase(stack, "cy", "qualification"))

    await stack.send("/v1/page", {"userId": "cy", "properties": {"path": "/pricing"}})

    lead = await stack.until(lambda: _phase(stack, "cy", "acceleration"))
    assert lead["recent_events"][0]["type"] == "pricing_page_viewed"


async def test_demo_request_creates_a_tier_one_sales_task(stack: Stack) -> None:
    await stack.send("/v1/identify", identify("dee"))
    await stack.until(lambda: _phase(stack, "dee", "qualification"))

    response = await stack.send("/v1/track", {"userId": "dee", "event": "Demo Requested",
                                              "properties": {"form": "book-a-demo"}})
    assert response.status_code == 200

    tasks = await stack.until(lambda: asyncio.to_thread(stack.store.sales_tasks, "dee"))
    assert [(t.kind, t.tier) for t in tasks] == [("escalation", 1)]
    assert "Acme Analytics" in tasks[0].reason
    lead = await stack.until(lambda: _phase(stack, "dee", "sales"))
    assert lead["escalation"]["tier"] == 1


async def test_a_repeated_message_id_is_applied_once(stack: Stack) -> None:
    await stack.send("/v1/identify", identify("eve"))
    call = {"userId": "eve", "event": "Case Study Downloaded", "messageId": "m-1"}
    for _ in range(3):
        assert (await stack.send("/v1/track", call)).status_code == 200
    await stack.send("/v1/batch", {"batch": [{**call, "type": "track"},
                                             {**call, "type": "track", "messageId": "m-2"}]})

    lead = await stack.until(lambda: _count(stack, "eve", 2))
    assert lead
    counts = await asyncio.to_thread(stack.store.inbound_counts, "eve")
    assert counts == {"delivered": 3}  # identify, m-1, m-2


async def _sent(stack: Stack) -> bool:
    return bool(stack.transport.sent)


async def test_one_click_unsubscribe_stops_all_email(stack: Stack, fresh_env: Any) -> None:
    zone = daytime_zone(await fresh_env.get_current_time())
    await stack.send("/v1/identify", identify("fay", timezone=zone))
    # The send is recorded before the SMTP transaction: wait for the message itself.
    await stack.until(lambda: _sent(stack))
    first = stack.transport.sent[0]
    assert first["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    link = first["List-Unsubscribe"].split(",")[0].strip(" <>")
    path = link.removeprefix(stack.url)

    page = await stack.http.get(path)
    assert page.status_code == 200 and "Unsubscribe?" in page.text
    assert await asyncio.to_thread(stack.store.suppression, "fay@acme-analytics.io") is None

    response = await stack.http.post(path, data={"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200
    assert await asyncio.to_thread(stack.store.suppression, "fay@acme-analytics.io")
    await stack.until(lambda: _phase(stack, "fay", "suppressed"))

    await fresh_env.sleep(timedelta(days=30))
    assert len(stack.transport.sent) == 1


async def test_a_tampered_unsubscribe_token_is_404_and_records_nothing(stack: Stack) -> None:
    await stack.send("/v1/identify", identify("gil"))
    before = await asyncio.to_thread(stack.store.inbound_backlog)
    for path in ("/u/Z2ls.AAAA", "/t/c/abc.def", "/t/o/Z2ls.x"):
        assert (await stack.http.post(path)).status_code in (404, 405)
        assert (await stack.http.get(path)).status_code == 404
    assert await asyncio.to_thread(stack.store.inbound_backlog) <= before
    assert await asyncio.to_thread(stack.store.suppression, "gil@acme-analytics.io") is None


async def test_a_later_identify_updates_the_running_lead_and_its_stored_address(
        stack: Stack) -> None:
    await stack.send("/v1/identify", identify("hal"))
    await stack.until(lambda: _phase(stack, "hal", "qualification"))

    await stack.send("/v1/identify", {"userId": "hal", "traits": {
        "email": "hal@northwind-labs.io", "title": "CMO"}})
    await stack.send("/v1/group", {"userId": "hal", "groupId": "acct-9", "traits": {
        "name": "Northwind Labs", "website": "https://www.northwind-labs.io",
        "employees": "1,200"}})

    async def updated() -> dict[str, Any] | None:
        lead = (await stack.lead("hal"))["lead"]
        return lead if lead["account_id"] == "acct-9" else None

    lead = await stack.until(updated)
    assert (lead["email"], lead["title"], lead["company"], lead["company_domain"],
            lead["company_size"]) == ("hal@northwind-labs.io", "CMO", "Northwind Labs",
                                      "northwind-labs.io", 1200)
    stored = await asyncio.to_thread(stack.store.get_lead, "hal")
    assert stored is not None and stored.email == "hal@northwind-labs.io"
