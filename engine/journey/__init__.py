"""A lead's journey as pure decisions: what it carries, what an event means, what its step
asks for, when it may be emailed, and where sales' answer sends it.

Nothing here touches Temporal, a database or a clock: every function takes the state and
`now` and says what to do; the lead workflow (`engine.runtime.lead_workflow`) does it.
"""

from engine.journey.state import (
    JournalEntry,
    LeadState,
    OpenEscalation,
    PendingSend,
    Position,
    SentEmail,
    TaskOwner,
)

__all__ = ["JournalEntry", "LeadState", "OpenEscalation", "PendingSend", "Position",
           "SentEmail", "TaskOwner"]
