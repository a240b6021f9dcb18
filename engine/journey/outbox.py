"""When a lead may get its next email: the frequency cap, the send window, and the trigger
emails waiting for a slot."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Any

from engine.cadence import lead_zone, next_send_time
from engine.dsl.spec import SendAction
from engine.events import Event
from engine.journey.reactions import MAX_EMAILS
from engine.journey.state import LeadState, PendingSend, SentEmail


def send_time(state: LeadState, now: datetime) -> datetime:
    """The earliest moment the cadence lets the lead get another email."""
    cadence = state.playbook.cadence
    return next_send_time(now, [e.at for e in state.emails], cadence,
                          lead_zone(state.lead.timezone, cadence))


def morning_of(state: LeadState, day: date) -> datetime:
    """The start of the send window on `day`, in the lead's time zone."""
    cadence = state.playbook.cadence
    local = datetime.combine(day, time(cadence.window_start_hour),
                             lead_zone(state.lead.timezone, cadence))
    return local.astimezone(UTC)


def queue(state: LeadState, action: SendAction, event: Event, now: datetime) -> None:
    """Hold a trigger's email until the cadence allows it."""
    track = state.position.track if state.position else "(playbook)"
    state.outbox.append(PendingSend(
        key=f"{state.lead.id}:trigger:{action.template}:{state.next_seq()}",
        template=action.template, ctx=action.ctx,
        event={"type": event.type, "properties": event.properties},
        track=track, step=f"trigger:{event.type}", not_before=send_time(state, now)))


def due(state: LeadState, now: datetime) -> list[PendingSend]:
    """Held emails whose moment has come, oldest first."""
    return [p for p in state.outbox if p.not_before <= now]


def sent(state: LeadState, email: dict[str, Any]) -> None:
    """Remember a delivered email (the cadence counts them)."""
    state.emails.append(SentEmail(**email))
    del state.emails[:-MAX_EMAILS]
