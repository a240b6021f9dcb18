"""The official Python SDKs of Segment and RudderStack, pointed at the API as their
producers would be, enrol a lead and deliver its events end to end (uvicorn, the relay, a
worker and Temporal). RudderStack's SDK sends identify traits only under `context.traits`
and gzips every batch; Segment's sends them at the top level."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from rudderstack.analytics.client import Client as RudderClient
from segment.analytics.client import Client as SegmentClient

from tests.stack import WRITE_KEY, Stack, daytime_zone

SDKS: dict[str, Callable[..., Any]] = {"segment": SegmentClient, "rudderstack": RudderClient}


@pytest.mark.parametrize("sdk", sorted(SDKS))
async def test_an_official_sdk_enrols_a_lead_and_delivers_its_events(
        stack: Stack, sdk: str) -> None:
    failures: list[str] = []
    client = SDKS[sdk](write_key=WRITE_KEY, host=stack.url, max_retries=0,
                       on_error=lambda error, batch: failures.append(repr(error)))
    lead_id = f"{sdk}-ana"
    client.identify(lead_id, {"email": f"ana@{sdk}-acme.io", "firstName": "Ana",
                              "title": "VP Marketing", "company": "Acme Analytics",
                              "employees": 500, "industry": "saas", "country": "US",
                              "timezone": daytime_zone(datetime.now(UTC)), "leadSource": "webinar"})
    client.track(lead_id, "Pricing Page Viewed", {"path": "/pricing"})
    client.track(lead_id, "Case Study Viewed", {"path": "/customers/northwind"})
    # The SDK posts from its own thread with requests; the API answers on this loop.
    await asyncio.to_thread(client.flush)
    await asyncio.to_thread(client.shutdown)
    assert failures == []

    async def applied() -> dict[str, Any] | None:
        # A VP at a 500-person SaaS company on the pricing page is sales-ready at once.
        lead = await stack.lead(lead_id)
        return lead if lead.get("source") == "workflow" and lead.get("event_count") == 2 \
            and lead.get("phase") == "sales" else None

    lead = await stack.until(applied, timeout=60)
    assert lead["lead"]["email"] == f"ana@{sdk}-acme.io"
    assert (lead["lead"]["first_name"], lead["lead"]["company_size"]) == ("Ana", 500)
    assert lead["lead"]["source"] == "webinar"
    assert {e["type"] for e in lead["recent_events"]} == {"pricing_page_viewed",
                                                         "case_study_viewed"}
    assert lead["inbound"] == {"delivered": 3}
