"""The storage room: leads, inbound events, email sends, sales tasks, inbox tokens and
suppressions.

SQLite file by default (`sqlite:///nurture.db`), PostgreSQL by URL
(`postgresql+psycopg://user@host/db`). Every datetime read back is aware UTC. The schema
changes only through the Alembic revisions in `migrations/` (`upgrade_schema`).

    store = Store("sqlite:///nurture.db")
    if store.record_event(lead.id, event, now=now):
        ...  # first time this event id was seen
"""

from engine.store.access import RecordNotFoundError
from engine.store.connect import EXPECTED_FORMS, mask_password, parse_database_url
from engine.store.database import Store
from engine.store.inbound import Inbound, LeadDelivery
from engine.store.sales import SalesTaskView
from engine.store.schema import SchemaStatus, SchemaUpgrade, schema_status, upgrade_schema
from engine.store.sends import OUTCOME_UNKNOWN, SendClaim
from engine.store.tables import (
    EmailSendRow,
    EventRow,
    InboundKind,
    InboundRow,
    InboundStatus,
    LeadRow,
    SalesTaskKind,
    SalesTaskRow,
    SalesTokenRow,
    SendStatus,
    SuppressionRow,
    TaskStatus,
)
from engine.store.timestamps import UTCDateTime, as_utc

__all__ = [
    "EXPECTED_FORMS",
    "OUTCOME_UNKNOWN",
    "EmailSendRow",
    "EventRow",
    "Inbound",
    "InboundKind",
    "InboundRow",
    "InboundStatus",
    "LeadDelivery",
    "LeadRow",
    "RecordNotFoundError",
    "SalesTaskKind",
    "SalesTaskRow",
    "SalesTaskView",
    "SalesTokenRow",
    "SchemaStatus",
    "SchemaUpgrade",
    "SendClaim",
    "SendStatus",
    "Store",
    "SuppressionRow",
    "TaskStatus",
    "UTCDateTime",
    "as_utc",
    "mask_password",
    "parse_database_url",
    "schema_status",
    "upgrade_schema",
]
