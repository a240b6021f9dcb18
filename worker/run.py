"""`nurture worker`: the production worker process."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from temporalio.client import Client

from engine.client import connect_from
from engine.settings import Settings, load_playbook
from worker.assembly import build_activities, build_worker, smtp_from
from worker.serve import log_to_stderr, open_store


async def run_worker(settings: Settings) -> None:
    """Connect to Temporal and run lead workflows until stopped."""
    log_to_stderr()
    await serve_worker(settings)


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
        await worker.run()
    finally:
        await transport.close()
        store.dispose()
