"""What an email template can see: the lead, the step's values, the event, the sender."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from engine.leads import LeadProfile


class SenderIdentity(BaseModel):
    """The person and company an email comes from; `address` is the CAN-SPAM postal address."""

    model_config = ConfigDict(frozen=True)

    name: str = "Maya Chen"
    title: str = "Head of Customer Education"
    company: str = "Northwind Analytics"
    product: str = "Northwind"
    email: str = "maya@northwind.example"
    website: str = "https://northwind.example"
    address: str = (
        "Northwind Analytics, 500 Market Street, Suite 400, San Francisco, CA 94105, USA"
    )


def _event_payload(event: Mapping[str, Any] | None) -> dict[str, Any]:
    """The triggering event as templates see it: always a type (maybe None) and properties."""
    event = event or {}
    return {"type": event.get("type"), "properties": dict(event.get("properties") or {})}


class EmailContext(BaseModel):
    """Every variable a template may use. Lead values are data, never template source."""

    lead: dict[str, Any]
    ctx: dict[str, Any] = Field(default_factory=dict)
    event: dict[str, Any] = Field(default_factory=lambda: _event_payload(None))
    sender: dict[str, str]
    unsubscribe_url: str = Field(min_length=1)

    @field_validator("event")
    @classmethod
    def _event_has_type_and_properties(cls, value: dict[str, Any]) -> dict[str, Any]:
        return _event_payload(value)

    @classmethod
    def for_lead(
        cls,
        profile: LeadProfile,
        *,
        sender: SenderIdentity,
        unsubscribe_url: str,
        ctx: Mapping[str, Any] | None = None,
        event: Mapping[str, Any] | None = None,
    ) -> EmailContext:
        """Build the context for one lead; `ctx` comes from the track step, `event` triggered it."""
        lead = profile.model_dump()
        lead["full_name"] = profile.full_name
        return cls(
            lead=lead,
            ctx=dict(ctx or {}),
            event=_event_payload(event),
            sender=sender.model_dump(),
            unsubscribe_url=unsubscribe_url,
        )

    def variables(self) -> dict[str, Any]:
        """The top-level names handed to Jinja."""
        return {
            "lead": self.lead,
            "ctx": self.ctx,
            "event": self.event,
            "sender": self.sender,
            "unsubscribe_url": self.unsubscribe_url,
        }


SAMPLE_LEAD = LeadProfile(
    id="lead_sample_0001",
    email="priya.raman@brightline.example",
    first_name="Priya",
    last_name="Raman",
    title="Director of Revenue Operations",
    company="Brightline Logistics",
    company_domain="brightline.example",
    company_size=420,
    industry="Logistics",
    country="US",
    timezone="America/Chicago",
    source="webinar",
)
"""A realistic lead used to preview and check templates."""

SAMPLE_CTX: dict[str, Any] = {
    "topic": "Pipeline reviews that change the forecast",
    "takeaway": (
        "Review pipeline by stage age, not by amount: deals that sit twice as long as your "
        "median in one stage close at less than half the rate"
    ),
    "asset": "The 2025 Revenue Operations Benchmark Report",
}
"""Every `ctx` key the shipped templates use, with realistic values."""


def sample_context(
    ctx: Mapping[str, Any] | None = None, event: Mapping[str, Any] | None = None
) -> EmailContext:
    """A context for previews and `tracks check`.

    Without `ctx`, every key the shipped templates use is filled in; pass a step's own `ctx`
    to check that the step gives its template everything it needs.
    """
    return EmailContext.for_lead(
        SAMPLE_LEAD,
        sender=SenderIdentity(),
        unsubscribe_url="https://northwind.example/u/sample-unsubscribe-token",
        ctx=SAMPLE_CTX if ctx is None else ctx,
        event=event,
    )
