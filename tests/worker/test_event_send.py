"""`nurture event send` and `nurture api` from the command line."""

from __future__ import annotations

import asyncio
from pathlib import Path

from temporalio.client import Client
from typer.testing import CliRunner

from engine.store import Store
from tests.stack import WRITE_KEY, running_stack
from worker.cli import app

runner = CliRunner()


async def _unreachable() -> Client:
    raise ConnectionError("no Temporal in this test")


async def test_event_send_posts_one_track_call_with_typed_properties(tmp_path: Path) -> None:
    async with running_stack(_unreachable, tmp_path) as stack:
        result = await asyncio.to_thread(
            runner.invoke, app,
            ["event", "send", "lead-9", "Pricing Page Viewed", "--prop", "plan=growth",
             "--prop", "seats=25", "--api", stack.url, "--write-key", WRITE_KEY])
        assert result.exit_code == 0, result.output
        assert "accepted: Pricing Page Viewed for lead-9" in result.output
        rows = await asyncio.to_thread(stack.store.pending_inbound)
        assert [(r.lead_id, r.payload["type"], r.payload["properties"]) for r in rows] == [
            ("lead-9", "pricing_page_viewed", {"plan": "growth", "seats": 25})]


async def test_event_send_explains_a_refused_write_key(tmp_path: Path) -> None:
    async with running_stack(_unreachable, tmp_path) as stack:
        result = await asyncio.to_thread(
            runner.invoke, app, ["event", "send", "lead-9", "demo_requested", "--api",
                                 stack.url, "--write-key", "wrong"])
    assert result.exit_code == 1
    assert "refused the write key" in result.output


def test_event_send_explains_an_unreachable_api(tmp_path: Path) -> None:
    result = runner.invoke(app, ["event", "send", "lead-9", "demo_requested", "--api",
                                 "http://127.0.0.1:9", "--write-key", "k"])
    assert result.exit_code == 1
    assert "cannot reach the API at http://127.0.0.1:9" in result.output


def test_event_send_rejects_a_property_without_a_value() -> None:
    result = runner.invoke(app, ["event", "send", "lead-9", "demo_requested", "--prop",
                                 "plan", "--write-key", "k"])
    assert result.exit_code == 1
    assert "--prop 'plan' must look like key=value" in result.output


def test_api_refuses_to_start_without_write_keys(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/n.db"
    Store(url, upgrade=True).dispose()  # as `nurture db upgrade` leaves it
    result = runner.invoke(app, ["api"], env={
        "NURTURE_WRITE_KEYS": "", "NURTURE_DATABASE_URL": url})
    assert result.exit_code == 1
    assert "NURTURE_WRITE_KEYS is empty" in result.output
