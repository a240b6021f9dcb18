"""A real API stack for tests: uvicorn on a loopback port, the relay, and a worker.

Temporal is the session's time-skipping server unless a test brings its own client.
"""

from __future__ import annotations

import asyncio
import socket
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import uvicorn
from temporalio.client import Client
from temporalio.worker import Worker

from engine.api import create_app
from engine.client import Relay
from engine.mail import MemoryTransport
from engine.settings import Settings
from engine.store import Store
from worker.assembly import build_activities, build_worker
from workflows import PLAYBOOK

WRITE_KEY = "test-write-key"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def daytime_zone(now: datetime) -> str:
    """A time zone where it is about noon at `now`, so the send window is open."""
    offset = (12 - now.astimezone(UTC).hour) % 24
    offset = offset - 24 if offset > 12 else offset
    # Etc/GMT zones have inverted signs: Etc/GMT-5 is five hours ahead of UTC.
    name = f"Etc/GMT{-offset:+d}" if offset else "Etc/UTC"
    ZoneInfo(name)
    return name


@dataclass
class Stack:
    """The running API and what it talks to."""

    url: str
    http: httpx.AsyncClient
    store: Store
    transport: MemoryTransport
    client: Client | None  # None when the test runs without Temporal
    relay: Relay
    task_queue: str
    settings: Settings

    async def send(self, path: str, body: dict[str, Any], **kwargs: Any) -> httpx.Response:
        return await self.http.post(path, json=body, auth=(WRITE_KEY, ""), **kwargs)

    async def lead(self, lead_id: str) -> dict[str, Any]:
        response = await self.http.get(f"/v1/leads/{lead_id}", auth=(WRITE_KEY, ""))
        assert response.status_code == 200, response.text
        return dict(response.json())

    async def until(self, check: Callable[[], Awaitable[Any]], timeout: float = 30) -> Any:
        """Poll `check` until it returns something truthy."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            value = await check()
            if value:
                return value
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"condition not met within {timeout}s")
            await asyncio.sleep(0.1)


@asynccontextmanager
async def running_stack(client_source: Callable[[], Awaitable[Client]], folder: Path, *,
                        worker_client: Client | None = None, **overrides: Any
                        ) -> AsyncIterator[Stack]:
    """API (uvicorn), relay and — given `worker_client` — a worker, until the block ends."""
    port = free_port()
    settings = Settings(write_keys=WRITE_KEY, base_url=f"http://127.0.0.1:{port}",
                        database_url=f"sqlite:///{folder}/nurture.db", **overrides)
    store = Store(settings.database_url, upgrade=True)
    transport = MemoryTransport()
    queue = f"api-{uuid.uuid4().hex[:8]}"
    relay = Relay(store, PLAYBOOK, client_source, task_queue=queue, poll=0.2)
    app = create_app(settings, store=store, playbook=PLAYBOOK, relay=relay)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                           log_level="warning", lifespan="on"))
    serving = asyncio.create_task(server.serve())
    worker: Worker | None = None
    try:
        while not server.started:
            assert not serving.done(), "uvicorn did not start"
            await asyncio.sleep(0.02)
        if worker_client is not None:
            worker = build_worker(worker_client, build_activities(settings, store, transport),
                                  queue)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
            stack = Stack(url=f"http://127.0.0.1:{port}", http=http, store=store,
                          transport=transport, client=worker_client,
                          relay=relay, task_queue=queue, settings=settings)
            if worker is None:
                yield stack
            else:
                async with worker:
                    yield stack
    finally:
        server.should_exit = True
        await serving
        store.dispose()


def identify(lead_id: str, *, anonymous_id: str | None = None, **traits: Any) -> dict[str, Any]:
    """An identify call with a realistic profile (override any trait)."""
    body: dict[str, Any] = {"userId": lead_id, "traits": {
        "email": f"{lead_id}@acme-analytics.io", "firstName": "Ana", "lastName": "Ruiz",
        "title": "VP Marketing", "company": "Acme Analytics", "employees": 500,
        "industry": "saas", "country": "US", **traits}}
    if anonymous_id:
        body["anonymousId"] = anonymous_id
    return body


def minutes_ago(minutes: float) -> str:
    return (datetime.now(UTC) - timedelta(minutes=minutes)).isoformat()
