"""`nurture api`: the HTTP API process (ingestion, tracking, unsubscribe) and its relay."""

from __future__ import annotations

import asyncio
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import uvicorn
from fastapi import FastAPI

from engine.api import create_app
from engine.client import Relay, connect_from
from engine.client.pacing import StartPacer
from engine.settings import Settings, load_playbook
from engine.store import Store


def log_to_stderr() -> None:
    """INFO logs on stderr, as `nurture api` and `nurture worker` write them; Alembic's
    note on every schema check ("Context impl …") is left out."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    logging.getLogger("alembic.runtime.migration").setLevel(logging.WARNING)


def open_store(settings: Settings, *, api: bool = False) -> Store:
    """The store the settings name (creating a SQLite file's folder on first use); a schema
    that is not at the newest revision raises SchemaError naming `nurture db upgrade`.
    `api`: a request waits at most `api_database_wait` for a write lock, then gets a 503."""
    if settings.database_url.startswith("sqlite:///"):
        Path(settings.database_url.removeprefix("sqlite:///")).parent.mkdir(parents=True,
                                                                           exist_ok=True)
    if api:
        return Store(settings.database_url, busy_wait=settings.api_database_wait)
    return Store(settings.database_url)


def start_pacer(settings: Settings) -> StartPacer:
    """The relay's start pacing, as `NURTURE_RELAY_*` says."""
    return StartPacer(target_wait=settings.relay_start_wait,
                      max_rate=settings.relay_max_starts_per_second,
                      now=time.monotonic())


def build_app(settings: Settings, store: Store | None = None) -> FastAPI:
    """The API application with a relay to Temporal, as the settings describe."""
    playbook = load_playbook(settings.playbook)
    store = store or open_store(settings, api=True)
    store.save_playbook(playbook, now=datetime.now(UTC))  # the version new leads start on
    logging.getLogger("nurture.api").info(
        "new leads start on playbook %s version %s (%d tracks)", settings.playbook,
        playbook.version, len(playbook.tracks))
    relay = Relay(store, playbook, lambda: connect_from(settings),
                  task_queue=settings.task_queue, pacer=start_pacer(settings))
    return create_app(settings, store=store, playbook=playbook, relay=relay)


API_THREADS = 64
"""Threads for the API's database calls (each waits at most the database wait)."""


async def serve_api(settings: Settings, *, host: str | None = None, port: int | None = None,
                    ready: asyncio.Event | None = None) -> None:
    """Serve the API until cancelled; `ready` is set once the port accepts connections."""
    # Every database call runs in a thread. Python's default pool (cores + 4 threads) is
    # used up by a handful of writes waiting for a held lock, and calls then wait for a
    # thread, not the lock, past the database wait: give the API enough for its calls.
    asyncio.get_running_loop().set_default_executor(
        ThreadPoolExecutor(max_workers=API_THREADS, thread_name_prefix="nurture-api"))
    store = open_store(settings, api=True)
    config = uvicorn.Config(build_app(settings, store), host=host or settings.api_host,
                            port=port or settings.api_port, log_level="warning",
                            lifespan="on")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            if task.done():
                await task
                return
            await asyncio.sleep(0.02)
        if ready is not None:
            ready.set()
        await asyncio.shield(task)
    except asyncio.CancelledError:
        server.should_exit = True
        await task
        raise
    finally:
        store.dispose()
