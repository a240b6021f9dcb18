"""`nurture demo`: personas cast the same valid leads for a seed, and the demo plays them
through the real API, relay and worker, showing what a user would see."""

from __future__ import annotations

import asyncio
import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from rich.console import Console
from sqlmodel import Session, select
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from typer.testing import CliRunner

from engine.api.segment import read_calls
from engine.store import InboundRow
from tests.stack import WRITE_KEY, Stack, running_stack
from worker import simulate
from worker.cli import app
from worker.demo import WriteKeyRefused, request_for, run_demo, waves
from worker.demo_report import DemoReport, Landmarks, print_outcome, print_report
from worker.personas import COMPETITOR_DOMAIN, journeys
from workflows import PLAYBOOK
from workflows.scoring import COMPETITORS

NOW = datetime(2026, 3, 10, 15, 30, tzinfo=UTC)


def test_the_same_seed_casts_the_same_leads_and_another_seed_new_ones() -> None:
    first, again = journeys(20, seed=7), journeys(20, seed=7)

    assert first == again
    assert [j.calls(NOW) for j in first] == [j.calls(NOW) for j in again]
    assert journeys(12, seed=7) == first[:12]  # a shorter demo plays the same first leads
    other = journeys(20, seed=8)
    assert {j.lead_id for j in first}.isdisjoint(j.lead_id for j in other)
    assert [j.email for j in first] != [j.email for j in other]


def test_every_generated_call_passes_the_api_s_validation() -> None:
    calls = [call for journey in journeys(60, seed=3) for call in journey.calls(NOW)]

    for call in calls:
        read_calls(call, kind=call["type"], received_at=NOW, pages=PLAYBOOK.pages)
    read_calls({"batch": calls}, kind=None, received_at=NOW, pages=PLAYBOOK.pages)
    assert len({call["messageId"] for call in calls}) == len(calls)
    times = [datetime.fromisoformat(call["timestamp"]) for call in calls]
    assert all(call["timestamp"].endswith("Z") for call in calls)
    assert all(NOW - timedelta(days=30) <= t < NOW for t in times)


def test_page_views_become_the_behaviors_the_playbook_scores() -> None:
    vp = journeys(1, seed=1)[0]
    messages = read_calls({"batch": vp.calls(NOW)}, kind=None, received_at=NOW,
                          pages=PLAYBOOK.pages)

    types = [m.payload["type"] for m in messages if "type" in m.payload]
    assert types[:2] == ["blog_viewed", "page_viewed"]  # anonymous, before the identify
    assert {"webinar_attended", "demo_requested", "pricing_page_viewed",
            "case_study_viewed"} <= set(types)
    profile = next(m for m in messages if m.payload.get("call") == "identify")
    assert profile.anonymous_id == vp.anonymous_id
    assert profile.payload["traits"]["title"] == "VP Marketing"
    assert profile.payload["traits"]["source"] == "webinar"


def test_the_mix_holds_buyers_committees_disqualified_and_suppressed_leads() -> None:
    cast = journeys(14, seed=1)
    scripts = {j.lead_id: [b.name for b in j.persona.script] for j in cast}

    buyers = [j for j in cast if "Demo Requested" in scripts[j.lead_id]
              and j.persona.disqualifier is None]
    assert buyers and buyers[0].number == 1
    assert {"student", "competitor", "job seeker"} <= {j.persona.disqualifier for j in cast}
    assert any("Unsubscribed" in names for names in scripts.values())
    assert any("Email Bounced" in names for names in scripts.values())
    domains = [j.company.domain for j in cast if j.company.name]
    assert any(domains.count(d) > 1 for d in domains)  # a buying committee
    assert len({j.persona.source for j in cast}) >= 5
    assert all(j.email.endswith(".example") for j in journeys(60, seed=1))


def test_the_competitor_persona_works_where_the_playbook_says_competitors_do() -> None:
    assert COMPETITOR_DOMAIN in COMPETITORS


def test_a_journey_goes_in_one_batch_anonymous_visits_first() -> None:
    vp = journeys(1, seed=1)[0]

    body = request_for(vp, NOW)

    calls = body["batch"]
    assert calls == vp.calls(NOW)  # the whole script, in its order
    assert calls[0]["type"] == "page" and "userId" not in calls[0]
    assert [c["type"] for c in calls if "userId" in c][:2] == ["identify", "track"]
    assert {c["type"] for c in calls} == {"page", "identify", "track", "group"}


def test_colleagues_are_played_in_later_rounds_than_those_cast_before_them() -> None:
    cast = journeys(30, seed=1)

    rounds = waves(cast)

    assert sorted(j.lead_id for wave in rounds for j in wave) == sorted(j.lead_id for j in cast)
    where = {j.lead_id: number for number, wave in enumerate(rounds) for j in wave}
    for journey in cast:
        domain = journey.email.rpartition("@")[2]
        before = [j for j in cast[:journey.number - 1] if j.email.endswith("@" + domain)]
        assert where[journey.lead_id] == len(before), journey.lead_id
    assert len(rounds) > 1  # the cast holds buying committees
    assert all(len({j.email.rpartition("@")[2] for j in wave}) == len(wave) for wave in rounds)


async def test_the_demo_hands_a_demo_request_to_sales_at_tier_one(stack: Stack) -> None:
    out = io.StringIO()
    console = Console(file=out, width=100)

    report = await run_demo(stack.url, WRITE_KEY, 12, 5, console, playbook=PLAYBOOK)

    tasks = await asyncio.to_thread(stack.store.sales_tasks)
    tier_one = [t for t in tasks if t.kind == "escalation" and t.tier == 1]
    assert tier_one and any("requested a demo" in t.reason for t in tier_one)
    assert report.settled
    assert all(report.lead(j).get("phase") for j in report.journeys)
    assert ("demo-5-002", "unsubscribed") in [(j.lead_id, r) for j, r in report.suppressions()]
    text = out.getvalue()
    flat = " ".join(text.split())  # a reason may wrap inside its table cell
    assert "Escalations to sales" in flat and "requested a demo" in flat
    assert "Leads by phase" in text and "Where to look next" in text
    assert all(len(line) <= 100 for line in text.splitlines())

    again = await run_demo(stack.url, WRITE_KEY, 12, 5, Console(file=io.StringIO()),
                           playbook=PLAYBOOK)

    assert again.calls == report.calls
    assert len(await asyncio.to_thread(_inbound_rows, stack)) == report.calls  # none twice


async def test_the_same_seed_gives_the_same_report_however_the_calls_are_relayed(
        stack: Stack, tmp_path: Path) -> None:
    """Two stacks of their own (database, Temporal server, worker): one relay delivers the
    moment a call is accepted, the other only every few seconds, so the calls reach the
    lead workflows cut into other pieces; the reports must not tell them apart."""
    first = await run_demo(stack.url, WRITE_KEY, 6, 1, Console(file=io.StringIO()),
                           playbook=PLAYBOOK)
    (tmp_path / "second").mkdir()
    env = await WorkflowEnvironment.start_time_skipping(
        data_converter=pydantic_data_converter, runtime=simulate.quiet_runtime(),
        test_server_existing_path=simulate.test_server_path())
    async with env:
        async def source() -> Client:
            return env.client

        async with running_stack(source, tmp_path / "second",
                                 worker_client=env.client) as other:
            other.relay.wake = lambda: None  # type: ignore[method-assign]
            other.relay.poll = 3.0
            second = await run_demo(other.url, WRITE_KEY, 6, 1, Console(file=io.StringIO()),
                                    playbook=PLAYBOOK)

    assert first.settled and second.settled
    assert second.outcome() == first.outcome()
    assert _outcome_text(second) == _outcome_text(first)
    assert any(lead["committee"] for lead in first.outcome().values())  # colleagues met


def _outcome_text(report: DemoReport) -> str:
    out = io.StringIO()
    print_outcome(report, Console(file=out, width=100))
    return out.getvalue()


def _inbound_rows(stack: Stack) -> list[InboundRow]:
    with Session(stack.store.engine) as session:
        return list(session.exec(select(InboundRow)))


async def _unreachable() -> Client:
    raise ConnectionError("no Temporal in this test")


async def test_a_wrong_write_key_is_refused_before_anything_is_sent(tmp_path: Path) -> None:
    async with running_stack(_unreachable, tmp_path) as stack:
        with pytest.raises(WriteKeyRefused, match="--write-key"):
            await run_demo(stack.url, "wrong", 3, 1, Console(file=io.StringIO()))
        assert await asyncio.to_thread(_inbound_rows, stack) == []


async def test_the_command_says_in_one_line_how_to_find_the_write_key(tmp_path: Path) -> None:
    async with running_stack(_unreachable, tmp_path) as stack:
        result = await asyncio.to_thread(
            CliRunner().invoke, app, ["demo", "--api", stack.url, "--write-key", "wrong",
                                      "--data-dir", str(tmp_path), "--leads", "3"])

    assert result.exit_code == 1
    error = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(error) == 1 and "refused the write key" in error[0]
    assert str(tmp_path / "write_key") in error[0]


def test_where_to_look_next_names_the_running_stack_s_own_addresses(tmp_path: Path) -> None:
    cast = journeys(3, seed=1)
    marks = Landmarks(docs_url="http://127.0.0.1:8123/docs", data_dir=tmp_path,
                      ui_url="http://127.0.0.1:9233")
    report = DemoReport(api_url="http://127.0.0.1:8123", seed=1, journeys=cast, leads={},
                        calls=0, settled=True, seconds=1.0, landmarks=marks)
    out = io.StringIO()

    print_report(report, Console(file=out, width=300))

    text = out.getvalue()
    assert "Temporal Web UI  http://127.0.0.1:9233;" in text
    assert "Sales inbox      http://127.0.0.1:8123/inbox;" in text
    assert f"nurture tasks token jordan --data-dir {tmp_path}" in text
    assert ":8233" not in text and ":8000" not in text
