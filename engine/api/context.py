"""What every route needs, built once per application."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property

from temporalio.client import Client

from engine.client import Relay, SalesDesk, TemporalUnavailable
from engine.dsl.spec import PlaybookSpec
from engine.mail import TemplateRenderer
from engine.settings import Settings
from engine.store import Inbound, Store


@dataclass
class ApiContext:
    """The store, the playbook, the relay and the limits the routes share."""

    settings: Settings
    store: Store
    playbook: PlaybookSpec
    relay: Relay | None
    renderer: TemplateRenderer
    inflight: int = 0
    _backlog: int = 0
    _backlog_read: float = field(default=0.0)
    _unknown: int = 0

    @property
    def secret(self) -> str:
        """The token-signing secret."""
        return self.settings.secret.get_secret_value()

    @cached_property
    def desk(self) -> SalesDesk:
        """The sales desk the inbox and the sales API share."""
        return SalesDesk(self.store, self.playbook, self.temporal)

    async def temporal(self) -> Client:
        """The relay's Temporal client; `TemporalUnavailable` when there is none to be had."""
        if self.relay is None:
            raise TemporalUnavailable("this API runs without a connection to Temporal")
        return await self.relay.client()

    async def backlog(self) -> int:
        """Accepted messages not yet delivered, re-counted at most once a second."""
        if time.monotonic() - self._backlog_read > 1.0:
            self._backlog_read = time.monotonic()
            self._backlog = await asyncio.to_thread(self.store.inbound_backlog)
            self._unknown = await asyncio.to_thread(self.store.count_unknown_sends)
        return self._backlog

    async def unknown_sends(self) -> int:
        """Emails whose outcome a crash left unknown (`nurture sends unknown`), re-counted
        with the backlog."""
        await self.backlog()
        return self._unknown

    async def accept(self, messages: list[Inbound]) -> int:
        """Persist messages (durably, before any 2xx) and wake the relay; how many were new."""
        added = await asyncio.to_thread(self.store.accept_inbound, messages,
                                        now=datetime.now(UTC))
        self._backlog += added
        if self.relay is not None and added:
            self.relay.wake()
        return added
