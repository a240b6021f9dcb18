"""When an email may go out: frequency cap and send window in the lead's time zone."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from engine.dsl.spec import Cadence


def lead_zone(name: str | None, cadence: Cadence) -> ZoneInfo:
    """The lead's time zone, or the playbook default when unknown or misspelt."""
    for candidate in (name, cadence.default_timezone, "UTC"):
        if not candidate:
            continue
        try:
            return ZoneInfo(candidate)
        except (ZoneInfoNotFoundError, ValueError):
            continue
    return ZoneInfo("UTC")  # pragma: no cover


def next_send_time(now: datetime, sent: Sequence[datetime], cadence: Cadence,
                   zone: ZoneInfo) -> datetime:
    """The earliest moment at or after `now` that respects the cap and the window."""
    moment = now
    for _ in range(16):  # cap and window can push each other; a few rounds settle it
        recent = sorted(t for t in sent if t > moment - cadence.per)
        if len(recent) >= cadence.max_emails:
            moment = recent[len(recent) - cadence.max_emails] + cadence.per
            continue
        local = moment.astimezone(zone)
        if local.hour < cadence.window_start_hour:
            opens = local.replace(hour=cadence.window_start_hour, minute=0, second=0,
                                  microsecond=0)
            return opens.astimezone(now.tzinfo)
        if local.hour >= cadence.window_end_hour:
            tomorrow = (local + timedelta(days=1)).replace(
                hour=cadence.window_start_hour, minute=0, second=0, microsecond=0)
            moment = tomorrow.astimezone(now.tzinfo)
            continue
        return moment
    return moment
