"""The typed client of the lead workflows: the only way other code reaches one.

Enrol a lead, send it events, read its state and journal, give sales' answer: every call
names the workflow's handlers through `LeadWorkflow` itself, never by a string, so a
renamed signal, query or update breaks here (and in mypy), not in production.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from datetime import timedelta
from typing import TYPE_CHECKING

from temporalio.client import Client, WorkflowHandle
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.envconfig import ClientConfig
from temporalio.service import RPCError

from engine.dsl import library
from engine.dsl.spec import PlaybookSpec
from engine.errors import ConfigError
from engine.events import Event
from engine.feedback import Feedback, FeedbackResult
from engine.journey.migration import MigrateRequest, MigrateResult
from engine.journey.state import JournalEntry
from engine.leads import LeadProfile
from engine.runtime.lead_workflow import LeadWorkflow
from engine.runtime.messages import (
    EventsSignal,
    JournalPage,
    JournalQuery,
    LeadSnapshot,
    LeadWorkflowInput,
    workflow_id_for,
)

if TYPE_CHECKING:  # settings read files at import; the workflow sandbox must not
    from engine.settings import Settings
    from engine.store import Store

DEFAULT_TASK_QUEUE = "nurture"
EVENTS_SIGNAL = "events"
"""`LeadWorkflow.events` by name: signal-with-start takes the signal only as a string (a
test pins it to the handler)."""


async def connect(address: str = "localhost:7233", namespace: str = "default",
                  api_key: str | None = None) -> Client:
    """A Temporal client that speaks pydantic."""
    return await Client.connect(address, namespace=namespace, api_key=api_key,
                                tls=bool(api_key), data_converter=pydantic_data_converter)


async def connect_from(settings: Settings) -> Client:
    """A client configured like every Temporal tool: `TEMPORAL_ADDRESS`, `_NAMESPACE`,
    `_API_KEY`, `_TLS*`, `_GRPC_META_*`, `_PROFILE` and the Temporal config file."""
    try:
        config = ClientConfig.load_client_connect_config()
    except Exception as err:  # noqa: BLE001 - a bad TEMPORAL_* value or config file
        raise ConfigError(f"Temporal client settings are invalid: {err}") from err
    config["target_host"] = settings.temporal_address
    config["namespace"] = settings.temporal_namespace
    if settings.temporal_api_key is not None:
        config["api_key"] = settings.temporal_api_key.get_secret_value()
        config.setdefault("tls", True)
    return await Client.connect(**config, data_converter=pydantic_data_converter)


WORKFLOW_TASK_TIMEOUT = timedelta(seconds=5)
"""How long Temporal waits for a worker to finish a lead's workflow task before handing it
to another: a worker killed mid-task delays its leads this long (Temporal's default is
10 s). A lead's task takes milliseconds of CPU; a local activity that runs longer (a
database write waiting for a lock) keeps its task alive by heartbeating, which the SDK
does on its own. Runs continued as new keep it."""


async def enroll(client: Client, lead: LeadProfile, playbook: PlaybookSpec, *,
                 task_queue: str = DEFAULT_TASK_QUEUE, events: Iterable[Event] = (),
                 history_limit: int = 10_000) -> WorkflowHandle[LeadWorkflow, None]:
    """Start the lead's workflow, or signal it if it runs already: enrolling twice is harmless.

    The workflow gets the playbook's version, not its spec: the worker must know it (from
    its database's playbook versions, or because it runs in this process)."""
    return await client.start_workflow(
        LeadWorkflow.run, _input(lead, playbook, history_limit),
        id=workflow_id_for(lead.id), task_queue=task_queue, task_timeout=WORKFLOW_TASK_TIMEOUT,
        start_signal=EVENTS_SIGNAL, start_signal_args=[EventsSignal(events=list(events))],
    )


def _input(lead: LeadProfile, playbook: PlaybookSpec, history_limit: int) -> LeadWorkflowInput:
    return LeadWorkflowInput(lead=lead, playbook_version=library.remember(playbook),
                             history_limit=history_limit)


async def send_events(client: Client, lead_id: str, events: Iterable[Event]) -> None:
    """Deliver events to a running lead workflow (ids make redelivery harmless)."""
    await signal_events(client, lead_id, EventsSignal(events=list(events)))


async def lead_state(client: Client, lead_id: str) -> LeadSnapshot:
    """The lead's current state."""
    handle = client.get_workflow_handle_for(LeadWorkflow.run, workflow_id_for(lead_id))
    return await handle.query(LeadWorkflow.state)


async def lead_journal(client: Client, lead_id: str, after_seq: int = 0, *,
                      store: Store | None = None, newest: int | None = None) -> JournalPage:
    """The lead's timeline after a sequence number (only its `newest` lines, if given).

    The workflow keeps a short tail and the lines it has not yet written; with `store`,
    the lines written there come first, so the whole timeline is read."""
    handle = client.get_workflow_handle_for(LeadWorkflow.run, workflow_id_for(lead_id))
    page: JournalPage = await handle.query(LeadWorkflow.journal,
                                           JournalQuery(after_seq=after_seq))
    if store is not None:
        rows = await asyncio.to_thread(store.lead_journal, lead_id, after_seq, newest)
        stored = {r.seq: JournalEntry(seq=r.seq, at=r.at, kind=r.kind, data=r.data)
                  for r in rows if r.enrolled_at == page.enrolled_at}
        stored |= {e.seq: e for e in page.entries}
        page = JournalPage(enrolled_at=page.enrolled_at,
                           entries=[stored[seq] for seq in sorted(stored)])
    if newest is not None:
        page.entries = page.entries[-newest:]
    return page


async def give_feedback(client: Client, lead_id: str, answer: Feedback) -> FeedbackResult:
    """Sales' answer on the lead's open task, as the workflow's `feedback` update; a refused
    answer raises `WorkflowUpdateFailedError` and changes nothing."""
    handle = client.get_workflow_handle_for(LeadWorkflow.run, workflow_id_for(lead_id))
    return await handle.execute_update(LeadWorkflow.feedback, answer)


async def start_with_events(client: Client, lead: LeadProfile, playbook: PlaybookSpec,
                            signal: EventsSignal, *, task_queue: str,
                            history_limit: int = 10_000) -> None:
    """Start the lead's workflow with its first events (signal-with-start: a lead that runs
    already just gets the signal)."""
    await client.start_workflow(
        LeadWorkflow.run, _input(lead, playbook, history_limit),
        id=workflow_id_for(lead.id), task_queue=task_queue, task_timeout=WORKFLOW_TASK_TIMEOUT,
        start_signal=EVENTS_SIGNAL, start_signal_args=[signal])


SIGNAL_CAP_WAIT = 60.0
"""How long a signal waits, at most, for a run at Temporal's signal cap to roll over."""


async def signal_events(client: Client, lead_id: str, signal: EventsSignal) -> None:
    """Deliver an events signal (with a changed profile, say) to a running lead.

    A run that took as many signals as Temporal allows one run (10,000) refuses more until
    it rolls over into a fresh run, which it does once signals pause for a second: the
    signal is sent again, backing off, for up to SIGNAL_CAP_WAIT seconds (the events' ids
    make a repeat harmless)."""
    handle = client.get_workflow_handle_for(LeadWorkflow.run, workflow_id_for(lead_id))
    pause, waited = 0.25, 0.0
    while True:
        try:
            await handle.signal(LeadWorkflow.events, signal)
            return
        except RPCError as err:
            if "limit for signal" not in str(err) or waited >= SIGNAL_CAP_WAIT:
                raise
        await asyncio.sleep(pause)
        waited += pause
        pause = min(pause * 2, 4.0)


async def migrate_lead(client: Client, lead_id: str, request: MigrateRequest) -> MigrateResult:
    """Move the lead onto another playbook version, as the workflow's `migrate` update; a
    refused move raises `WorkflowUpdateFailedError` and changes nothing."""
    handle = client.get_workflow_handle_for(LeadWorkflow.run, workflow_id_for(lead_id))
    return await handle.execute_update(LeadWorkflow.migrate, request)


async def lead_playbook(client: Client, lead_id: str) -> PlaybookSpec:
    """The playbook version the lead runs, in full."""
    handle = client.get_workflow_handle_for(LeadWorkflow.run, workflow_id_for(lead_id))
    return await handle.query(LeadWorkflow.playbook)
