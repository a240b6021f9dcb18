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
from engine.runtime.lead_workflow import LeadWorkflow
from engine.runtime.messages import LeadSnapshot, LeadWorkflowInput, workflow_id_for

__all__ = [
    "DEFAULT_TASK_QUEUE", "LeadSnapshot", "LeadWorkflow",
    "LeadWorkflowInput", "NurtureActivities", "connect", "connect_from", "enroll",
    "lead_journal", "lead_state", "send_events", "workflow_id_for",
]
