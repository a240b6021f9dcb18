"""The count after a chaos run has drained: what was promised, what was kept, what doubled.

- calls: sent, acknowledged with a 2xx, persisted (a row in the inbound ledger), applied
  (the lead's state, read with `GET /v1/leads/{id}`, shows it); an acknowledged call
  missing from the ledger is *lost*.
- emails: what the SMTP server accepted, unique by Message-ID and by (lead, template), and
  the copies beyond the first of each; a message the send ledger does not know is counted
  by its recipient and subject.
- sales tasks: escalations, and a lead's second escalation as a duplicate (the playbook
  hands each lead over once; a second demo request finds its task open).
- outcome unknown: send rows the engine marked "outcome unknown" because the sender died
  mid-SMTP (held to one per worker kill), apart from those whose SMTP connection dropped
  mid-message (an outage); neither is sent again; and how many of each did reach the
  server.
- stuck: leads not where their calls lead, or whose workflow has an activity failing again
  and again or a workflow task that keeps failing.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx
from temporalio.client import Client

from engine.client import workflow_id_for
from tests.chaos.books import Books, read_books
from tests.chaos.load import Call, Plan, Producer
from tests.chaos.playbook import FOLLOW_UP, INTRO
from tests.chaos.progress import Promise, lateness, missing_calls, promises
from tests.chaos.site import WRITE_KEY, Site
from tests.chaos.smtp import Delivery

FAILING_ATTEMPTS = 3
"""An activity on this attempt or later is failing repeatedly."""


@dataclass
class Tally:
    """Everything a run counts once it has drained."""

    sent: int = 0
    acknowledged: int = 0
    persisted: int = 0
    applied: int = 0
    lost: list[str] = field(default_factory=list)  # acknowledged, not in the ledger
    not_applied: list[str] = field(default_factory=list)  # acknowledged, not applied
    refused: list[str] = field(default_factory=list)  # answered with a 4xx
    unacknowledged: int = 0
    delivered: int = 0
    unique_message_ids: int = 0
    duplicate_message_ids: int = 0
    unique_lead_templates: int = 0
    duplicate_lead_templates: int = 0
    duplicates: list[str] = field(default_factory=list)  # "lead template ×n"
    unknown_messages: int = 0  # accepted by SMTP, not in the send ledger
    escalations: int = 0
    duplicate_tasks: int = 0
    outcome_unknown: int = 0
    unknown_but_delivered: int = 0
    connection_lost: int = 0  # outcome unknown because the SMTP connection dropped
    lost_but_delivered: int = 0
    stuck: dict[str, str] = field(default_factory=dict)
    missing_emails: list[str] = field(default_factory=list)
    phases: Counter[str] = field(default_factory=Counter)


async def lead_views(urls: list[str], leads: list[str]) -> dict[str, dict[str, Any] | None]:
    """Each lead's state as `GET /v1/leads/{id}` answers it (None when it answers no 200)."""
    limit = asyncio.Semaphore(8)
    async with httpx.AsyncClient(timeout=30) as http:
        async def one(number: int, lead: str) -> dict[str, Any] | None:
            async with limit:
                for _ in range(3):  # a busy API may answer 503 once
                    try:
                        answer = await http.get(f"{urls[number % len(urls)]}/v1/leads/{lead}",
                                                auth=(WRITE_KEY, ""))
                    except httpx.TransportError:
                        continue
                    if answer.status_code == 200:
                        return dict(answer.json())
                    if answer.status_code == 404:
                        return None
                return None

        views = await asyncio.gather(*(one(n, lead) for n, lead in enumerate(leads)))
    return dict(zip(leads, views, strict=True))


async def failing(client: Client, lead: str) -> str | None:
    """What keeps failing in the lead's workflow, or None."""
    try:
        described = await client.get_workflow_handle(workflow_id_for(lead)).describe()
    except Exception as err:  # noqa: BLE001 - no workflow: reported as not settled
        return f"cannot describe its workflow: {type(err).__name__}"
    raw = described.raw_description
    for activity in raw.pending_activities:
        if activity.attempt >= FAILING_ATTEMPTS:
            failure = activity.last_failure.message[:160] if activity.HasField(
                "last_failure") else "no failure recorded"
            return (f"activity {activity.activity_type.name} on attempt {activity.attempt}: "
                    f"{failure}")
    if raw.HasField("pending_workflow_task") and raw.pending_workflow_task.attempt > 1:
        return f"workflow task on attempt {raw.pending_workflow_task.attempt}"
    return None


def email_key(delivery: Delivery, by_message_id: dict[str, tuple[str, str]],
              by_address: dict[str, str]) -> tuple[str, str] | None:
    """The (lead, template) a delivered message was, from the send ledger (by its
    Message-ID), else from its recipient and subject; None if neither knows it."""
    known = by_message_id.get(delivery.message_id)
    if known is not None:
        return known
    lead = next((by_address[r.lower()] for r in delivery.recipients
                 if r.lower() in by_address), None)
    return None if lead is None else (lead, f"subject {delivery.subject!r}")


def count_emails(tally: Tally, plan: Plan, books: Books, deliveries: list[Delivery]) -> None:
    """Deliveries, unique and doubled, by Message-ID and by (lead, template)."""
    tally.delivered = len(deliveries)
    by_id = Counter(delivery.message_id for delivery in deliveries)
    tally.unique_message_ids = len(by_id)
    tally.duplicate_message_ids = sum(n - 1 for n in by_id.values())
    by_message_id = {send.message_id: (send.lead, send.template) for send in books.sends}
    by_address = {lead.email.lower(): lead.id for lead in plan.leads}
    keys: Counter[tuple[str, str]] = Counter()
    for delivery in deliveries:
        key = email_key(delivery, by_message_id, by_address)
        if key is None:
            tally.unknown_messages += 1
        else:
            keys[key] += 1
    tally.unique_lead_templates = len(keys)
    tally.duplicate_lead_templates = sum(n - 1 for n in keys.values())
    tally.duplicates = [f"{lead} {template} ×{n}" for (lead, template), n in keys.items()
                        if n > 1]
    unknown = [send for send in books.sends if send.outcome_unknown]
    tally.outcome_unknown = len(unknown)
    tally.unknown_but_delivered = sum(1 for send in unknown if by_id[send.message_id])
    dropped = [send for send in books.sends if send.connection_lost]
    tally.connection_lost = len(dropped)
    tally.lost_but_delivered = sum(1 for send in dropped if by_id[send.message_id])


def count_calls(tally: Tally, producer: Producer, books: Books,
                views: dict[str, dict[str, Any] | None], promised: dict[str, Promise]) -> None:
    """Calls sent, acknowledged, persisted and applied."""
    sent: list[Call] = producer.sent
    acked = [call for call in sent if call.acked_at is not None]
    tally.sent, tally.acknowledged = len(sent), len(acked)
    tally.unacknowledged = len(sent) - len(acked)
    tally.refused = [f"{call.message_id}: {call.refused}" for call in sent if call.refused]
    tally.persisted = sum(1 for call in acked if call.message_id in books.inbound)
    tally.lost = [call.message_id for call in acked if call.message_id not in books.inbound]
    missing = {lead: set(missing_calls(promise, views.get(lead)))
               for lead, promise in promised.items()}
    for call in acked:
        name = "identify" if call.kind == "identify" else call.message_id
        if name in missing.get(call.lead, set()):
            tally.not_applied.append(call.message_id)
        else:
            tally.applied += 1


def count_leads(tally: Tally, books: Books, promised: dict[str, Promise],
                delivered: set[tuple[str, str]], now: float) -> None:
    """Sales tasks, where leads ended, and emails their journey owed but never sent."""
    tally.escalations = sum(len(tasks) for tasks in books.escalations.values())
    tally.duplicate_tasks = sum(len(tasks) - 1 for tasks in books.escalations.values()
                                if len(tasks) > 1)
    unknown = {(send.lead, send.template) for send in books.sends
               if send.outcome_unknown or send.connection_lost}
    for lead, promise in promised.items():
        position = books.positions.get(lead)
        tally.phases[position.phase if position else "not registered"] += 1
        owed: list[str] = []
        if promise.end == "exited" and not promise.lead.refuse:
            owed = [INTRO, FOLLOW_UP]
        elif promise.end == "sales":
            owed = ["sales_notice#1"]
        for template in owed:
            if (lead, template) not in delivered and (lead, template) not in unknown:
                tally.missing_emails.append(f"{lead} {template}")
        why = lateness(promise, books, now)
        if why is None and position is not None and position.phase != promise.end:
            why = f"{position.phase}, expected {promise.end}"
        if why is not None:
            tally.stuck[lead] = why


async def count(site: Site, plan: Plan, producer: Producer, now: float) -> Tally:
    """Everything, once the run has drained."""
    assert site.store is not None and site.client is not None
    tally = Tally()
    promised = promises(plan, producer.acknowledged)
    views = await lead_views(site.api_urls, sorted(promised))
    books = await asyncio.to_thread(read_books, site.store)
    count_calls(tally, producer, books, views, promised)
    deliveries = list(site.smtp.deliveries)
    count_emails(tally, plan, books, deliveries)
    by_message_id = {send.message_id: (send.lead, send.template) for send in books.sends}
    delivered = {by_message_id[d.message_id] for d in deliveries
                 if d.message_id in by_message_id}
    count_leads(tally, books, promised, delivered, now)
    limit = asyncio.Semaphore(8)

    async def check(lead: str) -> tuple[str, str | None]:
        async with limit:
            return lead, await failing(site.client, lead)  # type: ignore[arg-type]

    for lead, why in await asyncio.gather(*(check(lead) for lead in promised)):
        if why is not None:
            tally.stuck[lead] = f"{tally.stuck[lead]}; {why}" if lead in tally.stuck else why
    return tally
