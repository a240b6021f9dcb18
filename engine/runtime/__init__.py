"""The worker side of Temporal: the lead workflow, its activities and its messages.

Code outside a worker reaches the workflows through `engine.client`.
"""

from engine.runtime.activities import NurtureActivities
from engine.runtime.lead_workflow import LeadWorkflow
from engine.runtime.messages import LeadSnapshot, LeadWorkflowInput, workflow_id_for

__all__ = ["LeadSnapshot", "LeadWorkflow", "LeadWorkflowInput", "NurtureActivities",
           "workflow_id_for"]
