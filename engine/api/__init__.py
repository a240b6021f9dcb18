"""The HTTP edge: Segment-compatible ingestion, lead state, email tracking, unsubscribe.

    app = create_app(settings, store=store, playbook=playbook,
                     relay=Relay(store, playbook, connect_client))
    uvicorn.run(app)
"""

from engine.api.app import create_app
from engine.api.context import ApiContext
from engine.api.intake import MAX_BATCH_BYTES, MAX_CALL_BYTES, Refused
from engine.api.segment import read_calls

__all__ = ["MAX_BATCH_BYTES", "MAX_CALL_BYTES", "ApiContext", "Refused", "create_app",
           "read_calls"]
