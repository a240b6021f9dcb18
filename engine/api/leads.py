"""`GET /v1/leads/{id}`: where a lead stands, from its workflow (or the store when Temporal
cannot answer), with the inbound messages still on their way to it."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request

from engine.api.context import ApiContext
from engine.api.intake import Refused, check_key, header_key
from engine.client import lead_state

router = APIRouter(prefix="/v1", tags=["leads"])


@router.get("/leads/{lead_id}", summary="A lead's state")
async def get_lead(lead_id: str, request: Request) -> dict[str, Any]:
    """Phase, track, scores, recent events, emails sent and any open escalation.

    `source` says whether the answer came from the lead's workflow or (while Temporal is
    unreachable) from the database; `inbound` counts messages by delivery status.
    """
    ctx: ApiContext = request.app.state.nurture
    check_key(header_key(request), ctx.settings.write_key_list)
    counts = await asyncio.to_thread(ctx.store.inbound_counts, lead_id)
    answer = await _from_workflow(ctx, lead_id)
    if answer is None:
        answer = await asyncio.to_thread(_from_store, ctx, lead_id)
    if answer is None and not counts:
        raise Refused(404, f"no lead {lead_id!r}")
    return {"id": lead_id, **(answer or {"source": "inbound", "phase": None}),
            "inbound": counts}


async def _from_workflow(ctx: ApiContext, lead_id: str) -> dict[str, Any] | None:
    if ctx.relay is None:
        return None
    try:
        client = await asyncio.wait_for(ctx.relay.client(), 3)
        snapshot = await asyncio.wait_for(lead_state(client, lead_id), 5)
    except Exception:  # noqa: BLE001 - unreachable, timed out, no workflow: use the store
        return None
    return {"source": "workflow", **snapshot.model_dump(mode="json")}


def _from_store(ctx: ApiContext, lead_id: str) -> dict[str, Any] | None:
    store = ctx.store
    profile = store.get_lead(lead_id)
    if profile is None:
        contact = store.contacts([lead_id]).get(lead_id)
        if contact is None:
            return None
        return {"source": "store", "lead": contact.traits, "phase": None, "track": None}
    row = store.lead_row(lead_id)
    tasks = [t for t in store.sales_tasks(lead_id) if t.kind == "escalation"]
    return {
        "source": "store", "lead": profile.model_dump(mode="json"),
        "phase": row.phase if row else None, "track": row.track if row else None,
        "emails": [{"template": s.template, "subject": s.subject, "track": s.track,
                    "step": s.step, "status": s.status,
                    "at": (s.sent_at or s.created_at).isoformat()}
                   for s in store.sends_for(lead_id)
                   if s.track != "sales"],  # notices to reps are not email to the lead
        "escalation": ({"task_id": tasks[-1].id, "tier": tasks[-1].tier,
                        "reason": tasks[-1].reason, "status": tasks[-1].status}
                       if tasks else None),
        "suppressed_reason": store.suppression(profile.email),
    }
