"""The store's public names are exactly those its front door lists."""

from __future__ import annotations

import engine.store


def test_the_front_door_lists_every_public_name() -> None:
    assert sorted(engine.store.__all__) == sorted(
        [
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
    )
    assert all(hasattr(engine.store, name) for name in engine.store.__all__)
