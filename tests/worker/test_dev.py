"""`nurture dev`: one command starts the whole stack, stops it cleanly, and leads survive it."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import aiosmtplib
import httpx
import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowExecutionStatus, WorkflowHandle

from engine.client import connect, enroll, lead_state
from engine.errors import ConfigError
from engine.leads import LeadProfile
from engine.runtime import LeadSnapshot
from engine.settings import Settings
from worker.dev import DevStack, banner, dev_settings, free_port
from worker.dev_addresses import running
from worker.smtp_sink import SMTPSink, outbox_messages
from workflows import PLAYBOOK

T = TypeVar("T")
ROOT = Path(__file__).resolve().parents[2]
START_SECONDS = 90  # generous: a busy 2-core machine starts Temporal slowly

needs_proc = pytest.mark.skipif(not Path("/proc").is_dir(), reason="looks for servers in /proc")


def temporal_processes(data_dir: Path) -> list[int]:
    """Pids of live `temporal` processes whose database is in `data_dir`."""
    marker = str(data_dir / "temporal.db").encode()
    found: list[int] = []
    for entry in Path("/proc").iterdir() if Path("/proc").is_dir() else []:
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes()
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue  # gone meanwhile
        if marker in command and state != "Z":
            found.append(int(entry.name))
    return found


class DevCommand:
    """`nurture dev` run as a user runs it, in a subprocess with a clean environment."""

    def __init__(self, data_dir: Path, *, api_port: int, temporal_port: int,
                 extra_env: dict[str, str] | None = None) -> None:
        self.data_dir, self.api_port, self.temporal_port = data_dir, api_port, temporal_port
        self.output = data_dir.parent / f"{data_dir.name}-dev-{time.monotonic_ns()}.out"
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("NURTURE_", "TEMPORAL_"))}
        self.env = {**env, "PYTHONPATH": str(ROOT), **(extra_env or {})}
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> DevCommand:
        with self.output.open("wb") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "worker.cli", "dev", "--data-dir", str(self.data_dir),
                 "--api-port", str(self.api_port), "--temporal-port", str(self.temporal_port),
                 "--ui-port", str(free_port())],
                cwd=ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL)
        return self

    @property
    def text(self) -> str:
        return self.output.read_text(errors="replace")

    async def until_healthy(self) -> None:
        assert self.process is not None
        deadline = time.monotonic() + START_SECONDS
        async with httpx.AsyncClient() as http:
            while time.monotonic() < deadline:
                assert self.process.poll() is None, f"nurture dev exited:\n{self.text}"
                try:
                    if (await http.get(f"http://127.0.0.1:{self.api_port}/health")).is_success:
                        return
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.25)
        raise AssertionError(f"nurture dev did not become healthy:\n{self.text}")

    async def stop(self, signal_number: int = signal.SIGTERM) -> int:
        assert self.process is not None
        self.process.send_signal(signal_number)
        return await self.wait()

    async def wait(self) -> int:
        assert self.process is not None
        deadline = time.monotonic() + START_SECONDS
        while self.process.poll() is None and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        code = self.process.poll()
        assert code is not None, f"nurture dev did not stop:\n{self.text}"
        return code

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        for pid in temporal_processes(self.data_dir):  # never leave a server behind a test
            os.kill(pid, signal.SIGKILL)


@pytest.fixture(name="dev_dir")
def _dev_dir(tmp_path: Path) -> Iterator[Path]:
    data_dir = tmp_path / "nurture-data"
    yield data_dir
    for pid in temporal_processes(data_dir):
        os.kill(pid, signal.SIGKILL)


async def open_timers(handle: WorkflowHandle[Any, Any]) -> set[str]:
    """Timer ids started in the current run and neither fired nor cancelled."""
    started: dict[int, str] = {}
    closed: set[int] = set()
    async for event in handle.fetch_history_events():
        if event.event_type == EventType.EVENT_TYPE_TIMER_STARTED:
            started[event.event_id] = event.timer_started_event_attributes.timer_id
        elif event.event_type == EventType.EVENT_TYPE_TIMER_FIRED:
            closed.add(event.timer_fired_event_attributes.started_event_id)
        elif event.event_type == EventType.EVENT_TYPE_TIMER_CANCELED:
            closed.add(event.timer_canceled_event_attributes.started_event_id)
    return {timer for event_id, timer in started.items() if event_id not in closed}


async def eventually(check: Callable[[], Awaitable[T | None]], what: str,
                     seconds: float = START_SECONDS) -> T:
    """The first truthy answer of `check`, polled until `seconds` pass."""
    deadline = time.monotonic() + seconds
    while True:
        result = await check()
        if result:
            return result
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.25)


ZONES = ["Pacific/Honolulu", "America/Anchorage", "America/Los_Angeles", "America/Denver",
         "America/Chicago", "America/New_York", "America/Sao_Paulo", "Atlantic/Azores",
         "Europe/London", "Europe/Berlin", "Europe/Helsinki", "Asia/Dubai", "Asia/Karachi",
         "Asia/Dhaka", "Asia/Bangkok", "Asia/Singapore", "Asia/Tokyo", "Australia/Brisbane",
         "Pacific/Noumea", "Pacific/Auckland"]


def lead_at_midday() -> LeadProfile:
    """A webinar lead living where it is around noon now, so the first email goes out at once."""
    now = datetime.now(UTC)
    zone = min(ZONES, key=lambda name: abs(now.astimezone(ZoneInfo(name)).hour - 12))
    return LeadProfile(id="dev-ana", email="ana@acme.io", first_name="Ana", last_name="Ruiz",
                       title="VP Marketing", company="Acme", company_domain="acme.io",
                       company_size=500, industry="saas", country="US", timezone=zone,
                       source="webinar")


def inbox_token(banner: str) -> str:
    found = re.search(r"Sales inbox .*/inbox  \(manager token (nt_\S+);", banner)
    assert found, f"no inbox line in: {banner}"
    return found.group(1)


@needs_proc
async def test_a_lead_waiting_on_a_timer_survives_a_dev_restart(dev_dir: Path) -> None:
    ports = {"api_port": free_port(), "temporal_port": free_port()}
    first = DevCommand(dev_dir, **ports).start()
    try:
        await first.until_healthy()
        assert f"http://127.0.0.1:{ports['api_port']}/docs" in first.text
        assert "Write key" in first.text and str(dev_dir / "outbox") in first.text
        addresses = running(dev_dir)  # where other commands find this stack
        assert addresses is not None
        assert addresses.api_url == f"http://127.0.0.1:{ports['api_port']}"
        assert addresses.temporal_address == f"127.0.0.1:{ports['temporal_port']}"
        token = inbox_token(first.text)
        base = f"http://127.0.0.1:{ports['api_port']}"
        async with httpx.AsyncClient(base_url=base) as http:
            signed_in = await http.post("/inbox/login", data={"token": token})
            assert signed_in.status_code == 303 and signed_in.headers["location"] == "/inbox"
        client = await connect(f"127.0.0.1:{ports['temporal_port']}")
        ana = lead_at_midday()
        handle = await enroll(client, ana, PLAYBOOK, task_queue="nurture")

        async def mailed_and_waiting() -> tuple[LeadSnapshot, set[str]] | None:
            state = await lead_state(client, ana.id)
            timers = await open_timers(client.get_workflow_handle(handle.id))
            return (state, timers) if state.emails and timers else None

        before, timers_before = await eventually(mailed_and_waiting, "an email, then a timer")
        assert (before.track, before.step) == ("webinar_follow_up", "after_replay")
        [replay] = outbox_messages(dev_dir / "outbox")
        assert replay.get_all("Delivered-To") == ["ana@acme.io"] and replay["List-Unsubscribe"]
        run_before = (await client.get_workflow_handle(handle.id).describe()).run_id
        assert temporal_processes(dev_dir), "the dev server should be running"

        assert await first.stop(signal.SIGTERM) == 0, first.text
        assert "stopped" in first.text
        assert temporal_processes(dev_dir) == [], "no Temporal server may outlive nurture dev"
        assert running(dev_dir) is None and not (dev_dir / "dev.json").exists()

        second = DevCommand(dev_dir, **ports).start()
        try:
            await second.until_healthy()
            assert inbox_token(second.text) == token  # the same sign-in after a restart
            client = await connect(f"127.0.0.1:{ports['temporal_port']}")
            again = client.get_workflow_handle(handle.id)
            described = await again.describe()
            assert described.status == WorkflowExecutionStatus.RUNNING
            assert described.run_id == run_before
            after = await lead_state(client, ana.id)
            assert (after.track, after.step) == (before.track, before.step)
            assert timers_before <= await open_timers(again), "the durable timer is still pending"
            await again.terminate(reason="test finished")
            assert await second.stop(signal.SIGINT) == 0, second.text  # Ctrl-C
            assert temporal_processes(dev_dir) == []
        finally:
            second.kill()
    finally:
        first.kill()


@needs_proc
async def test_a_port_in_use_is_a_one_line_error_and_starts_nothing(dev_dir: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        dev = DevCommand(dev_dir, api_port=port, temporal_port=free_port()).start()
        try:
            assert await dev.wait() == 1
        finally:
            dev.kill()
    assert dev.text.strip() == (f"error: API port {port} is already in use; is another "
                                "`nurture dev` running? Stop it or choose another port "
                                "with --api-port")
    assert temporal_processes(dev_dir) == []


async def test_a_bad_setting_is_a_one_line_error(dev_dir: Path) -> None:
    dev = DevCommand(dev_dir, api_port=free_port(), temporal_port=free_port(),
                     extra_env={"NURTURE_SMTP_PORT": "not-a-port"}).start()
    try:
        assert await dev.wait() == 1
    finally:
        dev.kill()
    lines = dev.text.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: bad setting — NURTURE_SMTP_PORT")


@needs_proc
async def test_a_failure_during_start_up_stops_the_temporal_server(
        dev_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    async def broken_api(*_args: object, **_kwargs: object) -> None:
        raise ConfigError("the API cannot start")

    monkeypatch.setattr("worker.dev.serve_api", broken_api)
    stack = DevStack(dev_dir, api_port=0, temporal_port=0, settings=Settings())
    with pytest.raises(ConfigError, match="the API cannot start"):
        async with stack:
            pass
    assert stack.temporal_pid is not None
    assert temporal_processes(dev_dir) == []


def test_the_banner_names_the_ports_and_folder_in_use_in_every_next_command(
        tmp_path: Path) -> None:
    stack = DevStack(tmp_path / "data", api_port=8123, temporal_port=7300)
    stack.temporal_address, stack.smtp_address = "127.0.0.1:7300", "127.0.0.1:2525"
    stack.inbox_token = "nt_example"

    text = banner(stack)

    here = f"--data-dir {stack.data_dir}"
    assert "http://127.0.0.1:8123/inbox  (manager token nt_example" in text
    assert f"`nurture tasks token REP {here}`" in text
    assert f"`nurture demo {here}`" in text and f"`nurture event send LEAD EVENT {here}`" in text
    assert ":8000" not in text and ":7233" not in text


def test_dev_keys_are_generated_once_and_the_environment_wins(tmp_path: Path) -> None:
    first = dev_settings(Settings(), tmp_path, 8123)
    second = dev_settings(Settings(), tmp_path, 8123)
    assert first.write_key_list == second.write_key_list and len(first.write_keys) >= 20
    assert first.secret.get_secret_value() == second.secret.get_secret_value()
    assert first.database_url == f"sqlite:///{tmp_path / 'nurture.db'}"
    assert first.base_url == "http://127.0.0.1:8123"
    given = dev_settings(Settings(write_keys="mine", secret="s3cret",
                                  database_url="sqlite:///elsewhere.db"), tmp_path, 8123)
    assert given.write_key_list == ["mine"] and given.secret.get_secret_value() == "s3cret"
    assert given.database_url == "sqlite:///elsewhere.db"


async def test_the_smtp_sink_files_each_message_as_a_complete_eml(tmp_path: Path) -> None:
    message = EmailMessage()
    message["From"] = "Maya Chen <maya@northwind.example>"
    message["To"] = "ana@acme.io"
    message["Subject"] = "Your webinar replay"
    message["Message-ID"] = "<replay-1@northwind.example>"
    message.set_content("Here is the replay.")
    message.add_alternative("<p>Here is the <b>replay</b>.</p>", subtype="html")
    async with SMTPSink(tmp_path / "outbox") as sink:
        await aiosmtplib.send(message, hostname=sink.host, port=sink.port, start_tls=False)
        await aiosmtplib.send(message, hostname=sink.host, port=sink.port, start_tls=False,
                              recipients=["ana@acme.io", "sales@northwind.example"])

    files = sorted((tmp_path / "outbox").iterdir())
    assert len(files) == 2, "one file per message, no partial files left"
    assert all(re.fullmatch(r"\d{8}T\d{6}\.\d{3}Z-[0-9a-f]{8}\.eml", f.name) for f in files)
    first, second = outbox_messages(tmp_path / "outbox")
    assert first["Subject"] == "Your webinar replay" and first["To"] == "ana@acme.io"
    assert first["Message-ID"] == "<replay-1@northwind.example>"
    assert first["Return-Path"] == "<maya@northwind.example>"
    assert first.get_all("Delivered-To") == ["ana@acme.io"]
    assert second.get_all("Delivered-To") == ["ana@acme.io", "sales@northwind.example"]
    html = first.get_body(("html",))
    assert html is not None and "<b>replay</b>" in html.get_content()
