"""A lease holder names its process so that another process on the machine can tell it is
dead: a restarted API takes the relay's lease at once instead of waiting for it to expire."""

from __future__ import annotations

import os
import subprocess
import sys

from engine.client.holders import holder_gone, holder_name, process_started


def test_a_live_holder_is_not_gone() -> None:
    assert not holder_gone(holder_name(object()))


def test_a_holder_whose_process_ended_is_gone() -> None:
    child = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"],
                             stdin=subprocess.PIPE)
    started = process_started(child.pid)
    host = holder_name(object()).split(":")[0]
    holder = f"{host}:{child.pid}:{started}:1"
    assert started and not holder_gone(holder)

    child.communicate(b"")  # it exits and is reaped

    assert holder_gone(holder)


def test_a_reused_pid_is_a_different_process() -> None:
    host, pid, started, _ = holder_name(object()).split(":")
    assert int(pid) == os.getpid() and started

    assert holder_gone(f"{host}:{pid}:{int(started) - 1}:1")  # an earlier process, same pid


def test_holders_of_other_machines_are_never_judged() -> None:
    assert not holder_gone("some-other-host.invalid:999999999:1:1")
    assert not holder_gone("api-1")  # a name from before holders carried their process


async def test_a_restarted_relay_takes_the_dead_processs_lease_at_once() -> None:
    from datetime import UTC, datetime, timedelta

    from sqlmodel import Session

    from engine.client import Relay
    from engine.store import Store
    from engine.store.tables import LeaseRow
    from workflows import PLAYBOOK

    store = Store.temporary()
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    started = process_started(child.pid)
    child.wait()
    host = holder_name(object()).split(":")[0]
    dead = f"{host}:{child.pid}:{started}:1"
    now = datetime.now(UTC)
    assert store.hold_lease("relay", dead, ttl=timedelta(seconds=15), now=now)

    async def no_temporal() -> object:
        raise AssertionError("nothing to deliver")

    relay = Relay(store, PLAYBOOK, no_temporal)  # type: ignore[arg-type]
    assert await relay.deliver_once() == 0

    with Session(store.engine) as session:
        row = session.get(LeaseRow, "relay")
        assert row is not None and row.holder == relay.holder
    store.dispose()
