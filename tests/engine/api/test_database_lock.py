"""A request that cannot get the database's write lock soon answers 503 with Retry-After
instead of hanging, and the retried call is stored once the lock is gone."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text

from engine.settings import Settings
from engine.store import Store
from engine.store.connect import scratch_schema
from tests.engine.store.conftest import POSTGRES_MISSING, POSTGRES_URL_VARIABLE
from worker.serve import build_app

CALL = {"userId": "ana", "event": "Pricing Page Viewed", "messageId": "locked-1"}


async def test_a_held_write_lock_gets_a_503_with_retry_after_not_a_hang(
        tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'nurture.db'}"
    Store(url, upgrade=True).dispose()
    app = build_app(Settings(database_url=url, write_keys="key", api_database_wait=0.5))
    locker = sqlite3.connect(tmp_path / "nurture.db", isolation_level=None)
    locker.execute("BEGIN IMMEDIATE")  # another process holds the write lock
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://api") as http:
        started = time.monotonic()
        refused = await http.post("/v1/track", json=CALL, auth=("key", ""))
        waited = time.monotonic() - started
        locker.execute("ROLLBACK")
        taken = await http.post("/v1/track", json=CALL, auth=("key", ""))
    locker.close()

    assert refused.status_code == 503 and refused.headers["Retry-After"] == "2"
    assert "database" in refused.json()["error"]
    assert waited < 10  # the wait is bounded (0.5 s here), not the 30 s a worker waits
    assert taken.status_code == 200
    with Store(url) as store:
        assert [row.message_id for row in store.pending_inbound()] == ["locked-1"]


@pytest.mark.postgres
async def test_a_postgresql_table_lock_also_gets_a_503_after_a_bounded_wait() -> None:
    server = os.environ.get(POSTGRES_URL_VARIABLE)
    if not server:
        pytest.skip(POSTGRES_MISSING)
    with scratch_schema(server, "lock_test") as url:
        Store(url, upgrade=True).dispose()
        app = build_app(Settings(database_url=url, write_keys="key", api_database_wait=0.5))
        locker = create_engine(url)
        held = locker.connect()
        held.begin()
        held.execute(text("LOCK TABLE inbound IN EXCLUSIVE MODE"))  # a writer holds it
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url="http://api") as http:
            try:  # before the lock had a bound, the request waited as long as it was held
                refused = await asyncio.wait_for(
                    http.post("/v1/track", json=CALL, auth=("key", "")), 60)
            finally:
                held.rollback()
                held.close()
            taken = await http.post("/v1/track", json=CALL, auth=("key", ""))
        locker.dispose()
        assert refused.status_code == 503 and refused.headers["Retry-After"] == "2"
        assert taken.status_code == 200
        with Store(url) as store:
            assert [row.message_id for row in store.pending_inbound()] == ["locked-1"]
