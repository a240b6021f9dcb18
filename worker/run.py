"""`nurture worker`: the production worker process."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Coroutine
from datetime import UTC, datetime
from typing import Any

from temporalio.client import Client

from engine.client import connect_from
from engine.dsl import library
from engine.settings import Settings, load_playbook
from worker.assembly import build_activities, build_worker, smtp_from
from worker.serve import log_to_stderr, open_store


async def run_worker(settings: Settings) -> None:
    """Connect to Temporal and run lead workflows until SIGTERM or SIGINT."""
    log_to_stderr()
    await until_stopped(serve_worker(settings))


async def until_stopped(work: Coroutine[Any, Any, None]) -> None:
    """Run `work` until it ends, or until SIGTERM or SIGINT (what a service manager or a
    container runtime sends) cancels it, which shuts it down gracefully: a worker finishes
    the tasks it holds, an API the requests it serves."""
    task = asyncio.ensure_future(work)
    loop, stops = asyncio.get_running_loop(), (signal.SIGTERM, signal.SIGINT)
    for number in stops:
        loop.add_signal_handler(number, task.cancel)
    try:
        await task
    except asyncio.CancelledError:
        if not task.cancelled():
            raise
    finally:
        for number in stops:
            loop.remove_signal_handler(number)


async def serve_worker(settings: Settings, *, client: Client | None = None) -> None:
    """Run lead workflows until cancelled (cancelling shuts the worker down gracefully).

    Uses `client` when given (`nurture dev` has one already), else connects as the settings
    say. Logging setup is left to the caller.
    """
    playbook = load_playbook(settings.playbook)  # fail fast on a broken playbook
    settings.check_secret()
    store = open_store(settings)
    # Every version leads may run is kept, for `nurture tracks versions | diff | migrate`.
    store.save_playbook(playbook, now=datetime.now(UTC))
    transport = smtp_from(settings)
    try:
        if client is None:
            client = await connect_from(settings)
        worker = build_worker(client, build_activities(settings, store, transport),
                              settings.task_queue)
        logging.info("worker on %s, task queue %s, playbook %s version %s (%d tracks)",
                     settings.temporal_address, settings.task_queue, settings.playbook,
                     playbook.version, len(playbook.tracks))
        library.remember(playbook)
        await worker.run()
    finally:
        await transport.close()
        store.dispose()
