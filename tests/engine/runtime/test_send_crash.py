"""A crash costs at most the one message on the wire: sends that were claimed and waiting
for the SMTP connection are sent by the next attempt, not marked "outcome unknown"."""

from __future__ import annotations

import asyncio
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from temporalio.testing import ActivityEnvironment

from engine.leads import LeadProfile
from engine.mail import SMTPTransport
from engine.runtime.models import SendEmailInput
from engine.settings import Settings
from engine.store import CONNECTION_LOST, OUTCOME_UNKNOWN, Store
from tests.engine.mail.conftest import LocalSMTPServer, RecordingSMTPHandler
from worker.assembly import build_activities

NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)


class HoldingHandler(RecordingSMTPHandler):
    """Holds every message at DATA until `release` is set; `on_wire` counts those held;
    `cut` makes it hang up instead of answering."""

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()
        self.on_wire = 0
        self.cut = False

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.on_wire += 1
        while not self.release.is_set():
            await asyncio.sleep(0.01)
        if self.cut:
            server.transport.close()
            return "421 closing"
        return await super().handle_DATA(server, session, envelope)


def serve(handler: HoldingHandler) -> LocalSMTPServer:
    server = LocalSMTPServer()
    server.handler = server.controller.handler = handler
    return server


def sends(count: int) -> list[SendEmailInput]:
    return [SendEmailInput(key=f"lead-{n}:welcome", template="welcome_confirmation",
                           track="welcome", step="confirm", now=NOW,
                           lead=LeadProfile(id=f"lead-{n}", email=f"lead{n}@acme.io",
                                            first_name="Ana"))
            for n in range(count)]


async def until(check: Any, timeout: float = 30) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not check():
        assert asyncio.get_running_loop().time() < deadline, "condition not met"
        await asyncio.sleep(0.01)


def file_store(folder: Path) -> Store:
    """A store on a file, as a worker has: five sends claim at once from five threads
    (an in-memory store shares one connection, which is not for concurrent use)."""
    return Store(f"sqlite:///{folder / 'nurture.db'}", upgrade=True)


async def test_a_crash_leaves_only_the_message_on_the_wire_unknown(tmp_path: Path) -> None:
    store, handler = file_store(tmp_path), HoldingHandler()
    inputs = sends(5)
    with serve(handler) as server:
        transport = SMTPTransport("127.0.0.1", server.port, timeout=30)
        nurture = build_activities(Settings(), store, transport).nurture
        running = [asyncio.create_task(ActivityEnvironment().run(nurture.send_email, s))
                   for s in inputs]
        # One message is on the wire; the other four are claimed and wait for the connection.
        await until(lambda: handler.on_wire == 1 and len(_rows(store)) == 5)
        for task in running:  # the worker dies: nothing after this point runs
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)
        transport._client = None  # the dead process's connection is gone with it

        handler.release.set()
        restarted = SMTPTransport("127.0.0.1", server.port, timeout=30)
        nurture = build_activities(Settings(), store, restarted).nurture
        results = [await ActivityEnvironment().run(nurture.send_email, s) for s in inputs]
        await restarted.close()

    assert sorted(r.status for r in results) == ["sent"] * 4 + ["unknown"]
    unknown = store.unknown_sends()
    assert len(unknown) == 1 and unknown[0].message  # kept for an operator's re-send
    assert unknown[0].error == OUTCOME_UNKNOWN  # the worker stopped mid-message
    ids = [m.split(b"Message-ID: ", 1)[1].split(b"\r\n", 1)[0] for m in handler.messages]
    assert len(ids) == len(set(ids))  # nothing went out twice
    assert all(row.message is None for row in _rows(store) if row.status == "sent")
    store.dispose()


async def test_a_connection_lost_while_the_message_goes_out_is_unknown_not_retried(
        tmp_path: Path) -> None:
    store, handler = file_store(tmp_path), HoldingHandler()
    handler.cut = True
    handler.release.set()
    (send,) = sends(1)
    with serve(handler) as server:
        transport = SMTPTransport("127.0.0.1", server.port, timeout=30)
        nurture = build_activities(Settings(), store, transport).nurture
        result = await ActivityEnvironment().run(nurture.send_email, send)
        again = await ActivityEnvironment().run(nurture.send_email, send)
        await transport.close()

    assert result.status == "unknown" and "may have been delivered" in (result.detail or "")
    assert again.status == "already_sent"  # never sent a second time
    row = store.get_send(send.key)
    assert row is not None and (row.status, row.error) == ("failed", CONNECTION_LOST)
    assert handler.on_wire == 1
    assert [r.key for r in store.unknown_sends()] == [send.key]  # listed for the operator
    store.dispose()


def _rows(store: Store) -> list[Any]:
    return [row for n in range(5) for row in store.sends_for(f"lead-{n}")]
