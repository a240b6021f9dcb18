"""How the API process, the CLI and the relay reach the lead workflows: the typed client,
the relay that delivers accepted events, and the sales desk reps and managers answer through.

Nothing here runs inside a worker: the worker side is `engine.runtime`.
"""

from engine.client.desk import (
    KINDS,
    STATUSES,
    LeadTimeline,
    SalesDesk,
    TaskDetail,
    TaskPage,
    Viewer,
)
from engine.client.desk_errors import (
    DeskError,
    DeskUnavailable,
    FeedbackRefused,
    InvalidFeedback,
    NotAllowed,
    NotSignedIn,
    TaskClosed,
    TaskNotFound,
)
from engine.client.leads import (
    DEFAULT_TASK_QUEUE,
    connect,
    connect_from,
    enroll,
    give_feedback,
    lead_journal,
    lead_state,
    send_events,
    signal_events,
    start_with_events,
)
from engine.client.relay import (
    Relay,
    TemporalUnavailable,
)
from engine.client.wording import (
    TimelineEntry,
    check_feedback,
    closed_message,
    display_name,
    outcome_message,
    reject_reason,
    sla_text,
    summary,
    task_sla,
    task_timeline,
)
from engine.runtime.messages import workflow_id_for

__all__ = [
    "check_feedback", "closed_message", "connect", "connect_from", "DEFAULT_TASK_QUEUE",
    "DeskError", "DeskUnavailable", "display_name", "enroll", "FeedbackRefused", "give_feedback",
    "InvalidFeedback", "KINDS", "lead_journal", "lead_state", "LeadTimeline", "NotAllowed",
    "NotSignedIn", "outcome_message", "reject_reason", "Relay", "SalesDesk", "send_events",
    "signal_events", "sla_text", "start_with_events", "STATUSES", "summary", "task_sla",
    "task_timeline", "TaskClosed", "TaskDetail", "TaskNotFound", "TaskPage", "TemporalUnavailable",
    "TimelineEntry", "Viewer", "workflow_id_for",
]
