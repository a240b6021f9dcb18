"""The playbook versions a worker knows (`engine.dsl.library`): every version its database
keeps, read before it polls, and any version stored later, read the first time a lead
names it (so a worker started before an API with a newer playbook still runs its leads)."""

from __future__ import annotations

import logging

from engine.dsl import library
from engine.store import Store

log = logging.getLogger(__name__)


def learn_stored(store: Store) -> int:
    """Know every version the store keeps, and look up later ones there; how many versions
    were new to this process."""
    new = 0
    for version in store.playbook_version_ids():
        if library.known(version):
            continue
        spec = store.stored_playbook(version)
        if spec is None or spec.version != version:
            log.error("stored playbook %s does not hash to its version; not used", version)
            continue
        library.remember(spec)
        new += 1
    library.load_missing_with(store.stored_playbook)
    return new
