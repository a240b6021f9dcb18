"""Sales notices: the owner's email is sent once and reads right; the webhook posts once."""

from __future__ import annotations

import dataclasses
import itertools
import json
import logging
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio.client import WorkflowExecutionStatus
from temporalio.exceptions import ApplicationError, ApplicationErrorCategory
from temporalio.testing import ActivityEnvironment, WorkflowEnvironment
from temporalio.worker import Worker

from engine.errors import DeliveryError, PermanentDeliveryError
from engine.handoff import HandoffPackage
from engine.journey.state import TaskOwner
from engine.leads import LeadProfile
from engine.mail import MemoryTransport, SenderIdentity, TemplateRenderer
from engine.mail.webhook import verify_webhook
from engine.runtime.models import SendEmailInput, TaskNoticeInput
from engine.runtime.notices import NoticeActivities
from engine.runtime.sales_webhook import WORKFLOWS, webhook_workflow_id
from engine.store import Store

TEMPLATES = Path(__file__).resolve().parents[3] / "templates"
SECRET = "whsec-notices"
NOW = datetime(2025, 1, 14, 19, 0, tzinfo=UTC)  # 14:00 in New York (EST)
_ids = itertools.count()


def handoff(**overrides: Any) -> HandoffPackage:
    values: dict[str, Any] = {
        "tier": 1, "source": "webinar", "last_meaningful_action": "requested a demo (within "
        "the hour)", "content_engaged": ["case study viewed: Acme cuts churn",
                                         "webinar attended: Forecasting"],
        "likely_pain": "wants to see the product on their own data",
        "buying_role": "champion (budget influence)",
        "company_fit": "A fit 500-person saas company Acme in US",
        "engagement_pattern": "6 actions over 12 days, 4 in the last 7 days — accelerating",
        "qualification_reason": "Ana Ruiz (VP Marketing, Acme) requested a demo; A fit, high "
        "intent (score 92) — demo request.",
        "suggested_opener": "Hi Ana, thanks for reaching out — what would make the call worth "
        "it for Acme?",
        "scores": {"fit": 40.0, "intent": 52.0},
    }
    return HandoffPackage(**(values | overrides))


def notice(**overrides: Any) -> TaskNoticeInput:
    lead = LeadProfile(id="lead-1", email="ana@acme.io", first_name="Ana", last_name="Ruiz",
                       title="VP Marketing", company="Acme")
    values: dict[str, Any] = {
        "task_id": f"task-{next(_ids)}", "lead": lead, "kind": "assigned",
        "owner": TaskOwner(rep_id="rep-1", name="Sam Lee", email="sam@northwind.example",
                           timezone="America/New_York", rule="tier_1"),
        "tier": 1, "due_at": NOW + timedelta(minutes=30), "handoff": handoff(), "notice": 0,
        "now": NOW,
    }
    return TaskNoticeInput(**(values | overrides))


@pytest.fixture(name="store")
def fixture_store() -> Iterator[Store]:
    with Store.temporary() as store:
        yield store


@pytest.fixture(name="transport")
def fixture_transport() -> MemoryTransport:
    return MemoryTransport()


def activities(store: Store, transport: MemoryTransport, *, webhook_url: str | None = None,
               http: httpx.AsyncClient | None = None) -> NoticeActivities:
    return NoticeActivities(store=store, renderer=TemplateRenderer(TEMPLATES),
                            transport=transport, sender=SenderIdentity(),
                            base_url="https://nurture.example/", webhook_url=webhook_url,
                            webhook_secret=SECRET, http=http)


@pytest.fixture(name="notices")
def fixture_notices(store: Store, transport: MemoryTransport) -> NoticeActivities:
    return activities(store, transport)


def part(message: EmailMessage, subtype: str) -> str:
    body = message.get_body(preferencelist=(subtype,))
    assert body is not None
    return str(body.get_content())  # type: ignore[attr-defined]


async def test_the_owner_gets_one_email_with_the_subject_in_their_time_zone(
        notices: NoticeActivities, transport: MemoryTransport) -> None:
    done = await ActivityEnvironment().run(notices.notify_owner, notice())
    assert done.changed
    [message] = transport.sent
    assert message["To"] == "sam@northwind.example"
    assert message["Subject"] == "Tier 1 lead: Ana Ruiz (Acme) — respond by 14:30 EST"
    assert message["Message-ID"].endswith("@northwind.example>")
    assert message["List-Unsubscribe"] is None
    text = part(message, "plain")
    assert "Tue 14 Jan 2025, 14:30 EST" in text
    assert "Suggested opener: \"Hi Ana, thanks for reaching out" in text


async def test_an_unknown_owner_zone_falls_back_to_utc(
        notices: NoticeActivities, transport: MemoryTransport) -> None:
    owner = TaskOwner(rep_id="rep-2", name="Kim", email="kim@northwind.example",
                      timezone="Mars/Olympus_Mons")
    await ActivityEnvironment().run(notices.notify_owner, notice(owner=owner))
    assert transport.sent[0]["Subject"].endswith("respond by 19:30 UTC")


async def test_a_due_time_on_another_day_names_the_day(
        notices: NoticeActivities, transport: MemoryTransport) -> None:
    due = datetime(2025, 1, 15, 14, 0, tzinfo=UTC)  # 09:00 the next morning in New York
    await ActivityEnvironment().run(notices.notify_owner, notice(tier=2, due_at=due))
    assert transport.sent[0]["Subject"] == (
        "Tier 2 lead: Ana Ruiz (Acme) — respond by Wed 15 Jan, 09:00 EST")


async def test_breach_and_reroute_notices_say_so_in_the_subject(
        notices: NoticeActivities, transport: MemoryTransport) -> None:
    env = ActivityEnvironment()
    await env.run(notices.notify_owner, notice(kind="breached", notice=1,
                                               due_at=NOW - timedelta(minutes=5)))
    await env.run(notices.notify_owner, notice(kind="rerouted", notice=2))
    subjects = [m["Subject"] for m in transport.sent]
    assert subjects == ["SLA breached: Ana Ruiz (Acme) — was due 13:55 EST",
                        "Re-routed to you: Ana Ruiz (Acme) — tier 1, respond by 14:30 EST"]
    assert "SLA ran out" in part(transport.sent[0], "html")
    assert "re-routed to you because" in part(transport.sent[1], "plain")


async def test_a_notice_is_sent_once_however_often_the_activity_is_retried(
        notices: NoticeActivities, transport: MemoryTransport, store: Store,
        caplog: pytest.LogCaptureFixture) -> None:
    env, task = ActivityEnvironment(), notice()
    transport.fail_next(DeliveryError("SMTP 451 4.7.1 try again later"))
    with caplog.at_level(logging.DEBUG, logger="temporalio"), \
            pytest.raises(ApplicationError) as refused:
        await env.run(notices.notify_owner, task)
    # Retried by Temporal, logged by it without a traceback, and by us in one line.
    assert refused.value.category == ApplicationErrorCategory.BENIGN
    assert refused.value.type == "DeliveryError" and "451 4.7.1" in refused.value.message
    (line,) = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert "not delivered on attempt 1, will retry" in line.getMessage()
    assert "451 4.7.1" in line.getMessage() and line.exc_info is None
    assert (await env.run(notices.notify_owner, task)).changed
    assert not (await env.run(notices.notify_owner, task)).changed
    assert len(transport.sent) == 1
    row = store.get_send(f"{task.task_id}:notice:0")
    assert row is not None
    assert (row.status, row.template, row.track, row.step, row.attempts) == (
        "sent", "sales_notice", "sales", "assigned", 2)


async def test_a_permanent_failure_is_recorded_and_not_retried(
        notices: NoticeActivities, transport: MemoryTransport, store: Store) -> None:
    env, task = ActivityEnvironment(), notice()
    transport.fail_next(PermanentDeliveryError("SMTP 550 5.1.1 no such user"))
    assert not (await env.run(notices.notify_owner, task)).changed
    assert not (await env.run(notices.notify_owner, task)).changed
    assert transport.sent == []
    row = store.get_send(f"{task.task_id}:notice:0")
    assert row is not None and row.status == "failed" and "5.1.1" in (row.error or "")


async def test_lead_controlled_text_is_escaped_in_the_html(
        notices: NoticeActivities, transport: MemoryTransport) -> None:
    script = "<script>alert(1)</script>"
    lead = LeadProfile(id="lead-x", email="x@evil.example", first_name=script,
                       company='"><img src=x onerror=alert(2)>')
    package = handoff(qualification_reason=f"{script} asked for a demo",
                      content_engaged=[f"webinar attended: {script}"])
    await ActivityEnvironment().run(notices.notify_owner, notice(lead=lead, handoff=package))
    html = part(transport.sent[0], "html")
    assert "<script>" not in html and "<img" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;img src=x onerror=alert(2)&gt;" in html
    assert script in part(transport.sent[0], "plain")  # plain text shows it as typed


async def test_the_email_links_to_the_task_and_shows_every_handoff_field(
        notices: NoticeActivities, transport: MemoryTransport) -> None:
    await ActivityEnvironment().run(notices.notify_owner, notice(task_id="esc/1 a"))
    text, html = part(transport.sent[0], "plain"), part(transport.sent[0], "html")
    assert "https://nurture.example/inbox/tasks/esc%2F1%20a" in text
    assert 'href="https://nurture.example/inbox/tasks/esc%2F1%20a"' in html
    for label in ("Source", "Campaign", "Last meaningful action", "Content engaged",
                  "Likely pain", "Buying role", "Company fit", "Engagement pattern",
                  "Related contacts", "Recycle path", "Owner"):
        assert label in text and f">{label}</th>" in html, label
    assert "A fit 500-person saas company Acme in US" in html
    assert "Sam Lee" in html  # the owner row falls back to the task's owner


@pytest.mark.skipif("campaign" not in HandoffPackage.model_fields,
                    reason="HandoffPackage has no campaign/related contacts fields yet")
async def test_optional_handoff_fields_are_shown_when_present(
        notices: NoticeActivities, transport: MemoryTransport) -> None:
    package = handoff(campaign="Q1 forecasting webinar", related_contacts=["Bo Chen (CFO)"],
                      recycle_path="back to acceleration", owner="Sam Lee (tier_1)")
    await ActivityEnvironment().run(notices.notify_owner, notice(handoff=package))
    html = part(transport.sent[0], "html")
    for value in ("Q1 forecasting webinar", "Bo Chen (CFO)", "back to acceleration",
                  "Sam Lee (tier_1)"):
        assert value in html


async def test_the_webhook_is_retried_until_delivered_and_posted_once(
        env: WorkflowEnvironment, store: Store, transport: MemoryTransport) -> None:
    posts: list[httpx.Request] = []

    def receiver(request: httpx.Request) -> httpx.Response:
        posts.append(request)
        return httpx.Response(500 if len(posts) <= 2 else 204)

    async with httpx.AsyncClient(transport=httpx.MockTransport(receiver)) as http:
        notices = activities(store, transport, webhook_url="https://crm.example/hooks", http=http)
        queue = f"notices-{next(_ids)}"
        activity_env = ActivityEnvironment(client=env.client)
        activity_env.info = dataclasses.replace(activity_env.info, task_queue=queue)
        task = notice()
        async with Worker(env.client, task_queue=queue, workflows=WORKFLOWS,
                          activities=notices.all()):
            await activity_env.run(notices.notify_owner, task)
            handle = env.client.get_workflow_handle(webhook_workflow_id(task.task_id, 0))
            for _ in range(30):  # the server skips the backoff while the worker is idle
                if (await handle.describe()).status != WorkflowExecutionStatus.RUNNING:
                    break
                await env.sleep(timedelta(seconds=10))
            await activity_env.run(notices.notify_owner, task)  # a retried notice
            described = await handle.describe()
    assert described.status == WorkflowExecutionStatus.COMPLETED
    assert len(posts) == 3 and len(transport.sent) == 1
    assert {p.headers["x-nurture-delivery"] for p in posts} == {f"{task.task_id}:notice:0"}
    last = posts[-1]
    assert verify_webhook(SECRET, last.content, last.headers["x-nurture-signature"],
                          now=int(time.time()))
    payload = json.loads(last.content)
    assert payload["event"] == last.headers["x-nurture-event"] == "sales_task.assigned"
    assert payload["lead"] == {"id": "lead-1", "email": "ana@acme.io", "name": "Ana Ruiz",
                               "title": "VP Marketing", "company": "Acme"}
    assert payload["owner"]["email"] == "sam@northwind.example"
    assert payload["inbox_url"] == f"https://nurture.example/inbox/tasks/{task.task_id}"
    assert payload["handoff"]["likely_pain"] == "wants to see the product on their own data"
    assert payload["due_at"] == "2025-01-14T19:30:00+00:00"


async def test_notices_to_reps_come_from_sales_ops_not_the_marketing_persona(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from engine.settings import load_settings
    from worker.assembly import build_activities

    monkeypatch.setenv("NURTURE_SALES_OPS_NAME", "Acme Revenue Ops")
    monkeypatch.setenv("NURTURE_SALES_OPS_EMAIL", "revops@acme.example")
    settings, transport = load_settings(), MemoryTransport()
    store = Store(f"sqlite:///{tmp_path / 'notices.db'}", upgrade=True)
    built = build_activities(settings, store, transport)
    await ActivityEnvironment().run(built.notices.notify_owner, notice())
    await ActivityEnvironment().run(built.nurture.send_email, SendEmailInput(
        key="lead-1:welcome", lead=notice().lead, template="welcome_confirmation",
        track="welcome", step="hello", now=NOW))

    to_rep, to_lead = transport.sent
    assert to_rep["From"] == "Acme Revenue Ops <revops@acme.example>"
    assert to_lead["From"] == f"{settings.sender_name} <{settings.sender_email}>"
    store.dispose()
