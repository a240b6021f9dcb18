"""`nurture worker`: the production worker process."""

from __future__ import annotations

import logging
from pathlib import Path

from temporalio.client import Client

from engine.runtime import connect
from engine.settings import Settings, load_playbook
from engine.store import Store
from worker.assembly import build_activities, build_worker, smtp_from


async def run_worker(settings: Settings) -> None:
    """Connect to Temporal and run lead workflows until stopped."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    await serve_worker(settings)


async def serve_worker(settings: Settings, *, client: Client | None = None) -> None:
    """Run lead workflows until cancelled (cancelling shuts the worker down gracefully).

    Uses `client` when given (`nurture dev` has one already), else connects as the settings
    say. Logging setup is left to the caller.
    """
    load_playbook(settings.playbook)  # fail fast on a broken playbook
    if settings.database_url.startswith("sqlite:///"):
        Path(settings.database_url.removeprefix("sqlite:///")).parent.mkdir(parents=True,
                                                                           exist_ok=True)
    store = Store(settings.database_url)
    transport = smtp_from(settings)
    try:
        if client is None:
            client = await connect(settings.temporal_address, settings.temporal_namespace,
                                   settings.temporal_api_key.get_secret_value()
                                   if settings.temporal_api_key else None)
        worker = build_worker(client, build_activities(settings, store, transport),
                              settings.task_queue)
        logging.info("worker on %s, task queue %s", settings.temporal_address,
                     settings.task_queue)
        await worker.run()
    finally:
        await transport.close()
        store.dispose()
