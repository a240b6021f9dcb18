"""The chaos harness measures what it claims: its SMTP server fails as told, its producer
retries until acknowledged, and its counts catch a lost call, a doubled email, a late lead,
a slow restart. No processes: these run in a second, so the chaos suite's own verdicts can
be trusted to fail when the engine does."""

from __future__ import annotations

import asyncio
import time
from email.message import EmailMessage
from typing import Any

import httpx
import pytest

from engine.errors import DeliveryError, PermanentDeliveryError
from engine.mail import SMTPTransport
from tests.chaos.books import Books, Position, Send
from tests.chaos.faults import Fault
from tests.chaos.harness import ChaosRun, Options
from tests.chaos.load import Plan, Producer, plan_load
from tests.chaos.playbook import FOLLOW_UP, INTRO, PAUSE
from tests.chaos.progress import lateness, missing_calls, promises
from tests.chaos.smtp import Delivery, FaultySMTP
from tests.chaos.tally import Tally, count_calls, count_emails
from tests.chaos.verdicts import (
    calls_kept,
    emails_once,
    quick_recovery,
    unknown_per_kill,
    verdicts,
)


def message(to: str, message_id: str) -> EmailMessage:
    mail = EmailMessage()
    mail["From"], mail["To"], mail["Subject"] = "maya@northwind.example", to, "Hello"
    mail["Message-ID"] = message_id
    mail.set_content("hi")
    return mail


async def test_the_smtp_server_refuses_fails_and_goes_down_as_told() -> None:
    async with FaultySMTP(delay=0) as smtp:
        smtp.bounce.add("gone@acme.io")
        smtp.refuse.add("blocked@acme.io")
        async with SMTPTransport(smtp.host, smtp.port, timeout=5) as transport:
            await transport.send(message("ana@acme.io", "<1@northwind.example>"))
            with pytest.raises(PermanentDeliveryError) as bounced:
                await transport.send(message("gone@acme.io", "<2@northwind.example>"))
            with pytest.raises(PermanentDeliveryError) as refused:
                await transport.send(message("blocked@acme.io", "<3@northwind.example>"))
            smtp.answer_temporarily(60)
            with pytest.raises(DeliveryError) as later:
                await transport.send(message("ana@acme.io", "<4@northwind.example>"))
            smtp.answer_temporarily(0)
            await smtp.go_down()
            with pytest.raises(DeliveryError) as down:
                await transport.send(message("ana@acme.io", "<5@northwind.example>"))
            await smtp.come_up()
            await transport.send(message("ana@acme.io", "<6@northwind.example>"))

    assert bounced.value.suppress and not refused.value.suppress
    assert not isinstance(later.value, PermanentDeliveryError) and "451" in str(later.value)
    assert not isinstance(down.value, PermanentDeliveryError)
    assert [d.message_id for d in smtp.deliveries] == ["<1@northwind.example>",
                                                      "<6@northwind.example>"]
    assert smtp.refused == {"5.1.1": 1, "5.7.1": 1, "451": 1}


async def test_the_producer_retries_each_call_until_an_api_acknowledges_it() -> None:
    plan = plan_load(4, 0.5, bad_share=0, follow_within=0.5)
    seen: dict[str, int] = {}

    def api(request: httpx.Request) -> httpx.Response:
        body = request.content.decode()
        seen[body] = seen.get(body, 0) + 1
        if seen[body] == 1:
            return httpx.Response(503, headers={"Retry-After": "0"})
        if seen[body] == 2:
            raise httpx.ConnectError("refused", request=request)
        return httpx.Response(200, json={"success": True})

    producer = Producer(plan, ["http://api-1", "http://api-2"], "key",
                        transport=httpx.MockTransport(api))
    await producer.run()

    assert len(producer.acknowledged) == len(plan.calls)
    assert all(call.attempts == 3 for call in plan.calls)
    assert producer.answers.statuses == {"503": len(seen), "ConnectError": len(seen),
                                         "200": len(seen)}
    assert producer.answers.retry_after == len(seen)


async def test_a_probe_goes_out_at_once_for_a_lead_already_identified() -> None:
    plan = plan_load(2, 1.0, bad_share=0, follow_within=1.0)
    producer = Producer(plan, ["http://api"], "key", batch_share=0, transport=httpx.MockTransport(
        lambda request: httpx.Response(200, json={"success": True})))
    assert producer.probe() is None  # nobody identified yet
    running = asyncio.create_task(producer.run())
    async with asyncio.timeout(30):
        while not any(c.kind == "identify" and c.acked_at for c in plan.calls):
            await asyncio.sleep(0.01)
    probe = producer.probe()
    await running

    assert probe is not None and probe in plan.calls and probe.acked_at is not None
    assert probe.lead in {c.lead for c in plan.calls if c.kind == "identify" and c.acked_at}


def test_an_acknowledged_call_missing_from_the_ledger_or_its_workflow_is_counted() -> None:
    plan = plan_load(2, 1.0, bad_share=0)
    producer = Producer(plan, ["http://api"], "key")
    for call in plan.calls:
        call.attempts, call.acked_at = 1, time.time()
    lost = plan.calls[-1]
    unapplied = next(c for c in plan.calls if c.kind == "track" and c is not lost)
    books = Books(inbound={c.message_id: "delivered" for c in plan.calls if c is not lost})
    views: dict[str, dict[str, Any] | None] = {lead.id: {
        "source": "workflow", "lead": {"email": lead.email}, "recent_events": [
            {"id": c.message_id} for c in plan.calls
            if c.lead == lead.id and c.kind == "track" and c is not unapplied]}
        for lead in plan.leads}
    tally = Tally()

    count_calls(tally, producer, books, views, promises(plan, plan.calls))

    assert tally.lost == [lost.message_id]
    assert tally.not_applied == [unapplied.message_id]
    assert tally.applied == len(plan.calls) - 1


def test_an_email_doubled_by_message_id_or_by_lead_and_template_is_counted() -> None:
    plan = plan_load(2, 1.0, bad_share=0)
    ana, ben = plan.leads
    books = Books(sends=[
        Send("k1", ana.id, INTRO, "sent", None, "<1@x>", ana.email),
        Send("k2", ana.id, INTRO, "sent", None, "<2@x>", ana.email),  # a second key
        Send("k3", ben.id, FOLLOW_UP, "sent", None, "<3@x>", ben.email)])
    deliveries = [Delivery(0, "<1@x>", (ana.email,), "Hi"),
                  Delivery(0, "<2@x>", (ana.email,), "Hi"),
                  Delivery(0, "<3@x>", (ben.email,), "Hi"),
                  Delivery(0, "<3@x>", (ben.email,), "Hi")]
    tally = Tally()

    count_emails(tally, plan, books, deliveries)

    assert (tally.unique_message_ids, tally.duplicate_message_ids) == (3, 1)
    assert (tally.unique_lead_templates, tally.duplicate_lead_templates) == (2, 2)
    assert sorted(tally.duplicates) == [f"{ana.id} {INTRO} ×2", f"{ben.id} {FOLLOW_UP} ×2"]


def test_a_lead_is_late_unless_it_is_waiting_out_its_pause() -> None:
    plan = plan_load(1, 1.0, bad_share=0)
    promise = promises(plan, plan.calls)[plan.leads[0].id]
    lead, now = plan.leads[0].id, time.time()

    def late(phase: str, step: str | None, ago: float, *sends: Send) -> str | None:
        books = Books(sends=list(sends), positions={lead: Position(phase, "chaos_intro", step,
                                                                   now - ago)})
        return lateness(promise, books, now)

    assert late("qualification", "pause", 1.0) is None
    assert late("qualification", "pause", PAUSE.total_seconds() + 5) is not None
    assert late("qualification", "hello", 0.5) is not None
    assert late("exited", None, 100) is None
    assert late("exited", None, 1, Send("k", lead, INTRO, "retry", "451", "<1@x>", "")) \
        is not None
    assert late("sales", None, 1) is not None  # no task, no notice
    assert lateness(promise, Books(), now) == "not registered"
    assert missing_calls(promise, None)  # a workflow that cannot answer shows nothing


def chaos_run(faults: list[Fault], tally: Tally, scenarios: list[str] | None = None
              ) -> ChaosRun:
    plan = Plan([], [], 0.0)
    options = Options() if scenarios is None else Options(scenarios=scenarios)
    return ChaosRun(options, plan, Producer(plan, ["http://api"], "key"), faults, tally,
                    started=0.0, drained=True)


def test_the_verdicts_fail_on_slow_restarts_unknown_sends_doubles_and_losses() -> None:
    slow = Fault("worker-kill", "worker-0", began=0.0, up=10.0, recovered=75.0)
    quick = Fault("api-kill", "api-0", began=0.0, up=10.0, recovered=15.0)
    window = Fault("smtp-451", "smtp", began=0.0, up=10.0, recovered=60.0)
    never = Fault("temporal-kill", "temporal", began=0.0, up=10.0)

    assert quick_recovery(chaos_run([quick, window], Tally())) is None
    assert "worker-kill worker-0: 65.0 s" in (quick_recovery(chaos_run([slow], Tally())) or "")
    assert "never" in (quick_recovery(chaos_run([never], Tally())) or "")
    assert unknown_per_kill(chaos_run([slow], Tally(outcome_unknown=1))) is None
    assert unknown_per_kill(chaos_run([slow], Tally(outcome_unknown=2))) is not None
    assert emails_once(chaos_run([], Tally(duplicate_lead_templates=1))) is not None
    assert calls_kept(chaos_run([], Tally(lost=["c-1:identify"]))) is not None
    assert calls_kept(chaos_run([], Tally())) is None


def test_a_run_is_judged_only_by_the_checks_its_scenarios_make_meaningful() -> None:
    windows = verdicts(chaos_run([], Tally(), ["smtp-451"]))
    kills = verdicts(chaos_run([], Tally(), ["worker-kill", "db-lock"]))

    assert not any("recovery" in name or "503" in name for name in windows)
    assert any("recovery" in name for name in kills) and any("503" in name for name in kills)
    assert "no duplicate email" in windows and "no duplicate email" in kills
