"""The playbook versions a worker knows (`engine.dsl.library`): filled from its database
before it polls, and kept filled while it runs, so a lead enrolled by an API that runs a
newer playbook finds its version here within `REFRESH` seconds (until then its workflow task
fails and is retried, naming the version)."""

from __future__ import annotations

import asyncio
import logging

from engine.dsl import library
from engine.store import Store

REFRESH = 5.0
log = logging.getLogger(__name__)


def learn_stored(store: Store) -> int:
    """Know every version the store keeps; how many were new to this process."""
    new = 0
    for version in store.playbook_version_ids():
        if library.known(version):
            continue
        spec = store.stored_playbook(version)
        if spec is None:
            continue
        if spec.version != version:
            log.error("stored playbook %s hashes to %s; not used", version, spec.version)
            continue
        library.remember(spec)
        new += 1
    return new


async def keep_learning(store: Store, every: float = REFRESH) -> None:
    """Learn versions stored while the worker runs (until cancelled)."""
    while True:
        await asyncio.sleep(every)
        try:
            new = await asyncio.to_thread(learn_stored, store)
        except Exception:  # noqa: BLE001 - a database hiccup: try again next time
            log.warning("could not read playbook versions from the database", exc_info=True)
            continue
        if new:
            log.info("learned %d new playbook version(s) from the database", new)
