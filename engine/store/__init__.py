"""The storage room: leads, inbound events, email sends, sales tasks, inbox tokens and
suppressions.

SQLite file by default (`sqlite:///nurture.db`), PostgreSQL by URL
(`postgresql+psycopg://user@host/db`). Every datetime read back is aware UTC. The schema
changes only through the Alembic revisions in `migrations/` (`upgrade_schema`); the schema
names load Alembic on first use, so a process that never reads or changes a schema (a
simulation on a new database) does not import it.

    store = Store("sqlite:///nurture.db")
    if store.record_event(lead.id, event, now=now):
        ...  # first time this event id was seen
"""

from typing import TYPE_CHECKING, Any

from engine.store.access import RecordNotFoundError
from engine.store.connect import EXPECTED_FORMS, mask_password, parse_database_url
from engine.store.database import Store
from engine.store.inbound import Inbound, LeadDelivery
from engine.store.sales import SalesTaskView
from engine.store.sends import CONNECTION_LOST, OUTCOME_UNKNOWN, SendClaim
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

if TYPE_CHECKING:
    from engine.store.schema import SchemaStatus, SchemaUpgrade, schema_status, upgrade_schema

_SCHEMA_NAMES = frozenset({"SchemaStatus", "SchemaUpgrade", "schema_status", "upgrade_schema"})


def __getattr__(name: str) -> Any:
    """The schema names, imported (with Alembic) when first asked for."""
    if name in _SCHEMA_NAMES:
        from engine.store import schema

        return getattr(schema, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

__all__ = [
    "EXPECTED_FORMS",
    "CONNECTION_LOST",
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
