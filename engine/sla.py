"""SLA deadlines for sales tasks, counted in business hours.

Tier 1 (asked for sales, or high fit and high intent): a response within 30 working
minutes. Tier 2: the same business day — the next one when less than two working hours
are left today. Tier 3: within three business days. With no outcome after the follow-up
window (ten business days), the lead goes back to nurture.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict, Field

from engine.business_hours import BusinessHours


class SlaTiers(BaseModel):
    """How long each tier may wait, in business time."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    tier_1: timedelta = timedelta(minutes=30)
    same_day_floor: timedelta = timedelta(hours=2)
    tier_3_days: int = Field(default=3, ge=1)
    follow_up_days: int = Field(default=10, ge=1)


def due_at(tier: int, escalated_at: datetime, hours: BusinessHours,
           tiers: SlaTiers | None = None) -> datetime:
    """When sales must have acted on a task of this tier."""
    tiers = tiers or SlaTiers()
    if tier == 1:
        return hours.add(escalated_at, tiers.tier_1)
    if tier == 2:
        return hours.end_of_day(hours.add(escalated_at, tiers.same_day_floor))
    return hours.add(escalated_at, _working_day(hours) * tiers.tier_3_days)


def follow_up_until(escalated_at: datetime, hours: BusinessHours,
                    tiers: SlaTiers | None = None) -> datetime:
    """When a task without an outcome recycles the lead to nurture."""
    tiers = tiers or SlaTiers()
    return hours.add(escalated_at, _working_day(hours) * tiers.follow_up_days)


def reroute_at(tier: int, breached_at: datetime, hours: BusinessHours,
               tiers: SlaTiers | None = None) -> datetime:
    """When a breached task moves to the next owner if still nobody acted: the tier's own
    window again (30 working minutes, two working hours, or one business day)."""
    tiers = tiers or SlaTiers()
    grace = {1: tiers.tier_1, 2: tiers.same_day_floor}.get(tier, _working_day(hours))
    return hours.add(breached_at, grace)


def owner_hours(hours: BusinessHours, timezone: str | None) -> BusinessHours:
    """The business hours counted in the owner's time zone (the policy's when unknown)."""
    if not timezone or timezone == hours.timezone:
        return hours
    return BusinessHours.model_validate({**hours.model_dump(), "timezone": timezone})


def _working_day(hours: BusinessHours) -> timedelta:
    opens = timedelta(hours=hours.opens.hour, minutes=hours.opens.minute)
    closes = timedelta(hours=hours.closes.hour, minutes=hours.closes.minute)
    return closes - opens
