"""Client helpers: enroll a lead, send it events, read its state."""

from __future__ import annotations

from collections.abc import Iterable

from temporalio.client import Client, WorkflowHandle
from temporalio.contrib.pydantic import pydantic_data_converter

from engine.dsl.spec import PlaybookSpec
from engine.events import Event
from engine.leads import LeadProfile
from engine.runtime.lead_workflow import LeadWorkflow, workflow_id_for
from engine.runtime.models import (
    EventsSignal,
    JournalPage,
    JournalQuery,
    LeadSnapshot,
    LeadWorkflowInput,
)

DEFAULT_TASK_QUEUE = "nurture"


async def connect(address: str = "localhost:7233", namespace: str = "default",
                  api_key: str | None = None) -> Client:
    """A Temporal client that speaks pydantic."""
    return await Client.connect(address, namespace=namespace, api_key=api_key,
                                tls=bool(api_key), data_converter=pydantic_data_converter)


async def enroll(client: Client, lead: LeadProfile, playbook: PlaybookSpec, *,
                 task_queue: str = DEFAULT_TASK_QUEUE, events: Iterable[Event] = (),
                 history_limit: int = 10_000) -> WorkflowHandle[LeadWorkflow, None]:
    """Start the lead's workflow, or signal it if it runs already: enrolling twice is harmless."""
    return await client.start_workflow(
        LeadWorkflow.run,
        LeadWorkflowInput(lead=lead, playbook=playbook, history_limit=history_limit),
        id=workflow_id_for(lead.id), task_queue=task_queue,
        start_signal="events", start_signal_args=[EventsSignal(events=list(events))],
    )


async def send_events(client: Client, lead_id: str, events: Iterable[Event]) -> None:
    """Deliver events to a running lead workflow (ids make redelivery harmless)."""
    handle = client.get_workflow_handle_for(LeadWorkflow.run, workflow_id_for(lead_id))
    await handle.signal(LeadWorkflow.events, EventsSignal(events=list(events)))


async def lead_state(client: Client, lead_id: str) -> LeadSnapshot:
    """The lead's current state."""
    handle = client.get_workflow_handle_for(LeadWorkflow.run, workflow_id_for(lead_id))
    return await handle.query(LeadWorkflow.state)


async def lead_journal(client: Client, lead_id: str, after_seq: int = 0) -> JournalPage:
    """The lead's timeline after a sequence number."""
    handle = client.get_workflow_handle_for(LeadWorkflow.run, workflow_id_for(lead_id))
    return await handle.query(LeadWorkflow.journal, JournalQuery(after_seq=after_seq))
