"""The Temporal runtime: the lead workflow, its activities and client helpers."""

from engine.runtime.activities import NurtureActivities
from engine.runtime.client import (
    DEFAULT_TASK_QUEUE,
    connect,
    connect_from,
    enroll,
    lead_journal,
    lead_state,
    send_events,
)
from engine.runtime.lead_workflow import LeadWorkflow, workflow_id_for
from engine.runtime.models import JournalEntry, LeadSnapshot, LeadState, LeadWorkflowInput

__all__ = [
    "DEFAULT_TASK_QUEUE", "JournalEntry", "LeadSnapshot", "LeadState", "LeadWorkflow",
    "LeadWorkflowInput", "NurtureActivities", "connect", "connect_from", "enroll",
    "lead_journal", "lead_state", "send_events", "workflow_id_for",
]
