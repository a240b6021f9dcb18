"""Durable acceptance: with the Temporal server down the API still accepts, and every event
reaches its lead once the server is back — none lost, none doubled."""

from __future__ import annotations

import asyncio
from pathlib import Path

from temporalio.client import Client

from engine.client import connect
from tests.stack import Stack, free_port, identify, running_stack
from worker.temporal_server import TemporalDevServer


async def _applied(stack: Stack, lead_id: str, events: int) -> bool:
    lead = await stack.lead(lead_id)
    return lead.get("source") == "workflow" and lead.get("event_count") == events


async def _health(stack: Stack, *, temporal: bool) -> bool:
    return bool((await stack.http.get("/health")).json()["temporal"] is temporal)


async def test_events_accepted_while_temporal_is_down_are_delivered_after_it_returns(
        tmp_path: Path) -> None:
    server = TemporalDevServer(tmp_path / "temporal.db", tmp_path / "temporal.log",
                               host="127.0.0.1", port=free_port(), ui_port=free_port())
    client = await server.start()

    async def source() -> Client:
        return await connect(server.address)

    try:
        async with running_stack(source, tmp_path, worker_client=client) as stack:
            await stack.send("/v1/identify", identify("olga"))
            await stack.until(lambda: _applied(stack, "olga", 0), timeout=60)

            assert (await stack.http.get("/health")).json()["temporal"] is True
            await server.stop()
            await stack.until(lambda: _health(stack, temporal=False), timeout=10)
            calls = [{"type": "track", "userId": "olga", "event": "Blog Viewed",
                      "messageId": f"outage-{n}", "properties": {"n": n}} for n in range(20)]
            for call in calls[:10]:
                assert (await stack.send("/v1/track", call)).status_code == 200
            assert (await stack.send("/v1/batch", {"batch": calls[5:]})).status_code == 200
            lead = await stack.lead("olga")
            assert lead["source"] == "store"  # the workflow cannot answer: the database does
            assert lead["inbound"].get("pending") == 20

            await server.start()
            await stack.until(lambda: _applied(stack, "olga", 20), timeout=90)
            await stack.until(lambda: _health(stack, temporal=True), timeout=10)
            assert (await stack.http.get("/health")).json()["backlog"] == 0

            # A producer retrying everything after the outage changes nothing.
            assert (await stack.send("/v1/batch", {"batch": calls})).status_code == 200
            await asyncio.sleep(1.5)
            lead = await stack.lead("olga")
            assert lead["event_count"] == 20
            assert lead["inbound"] == {"delivered": 21}
    finally:
        await server.stop()
