"""SLA deadlines per tier, in business hours across weekends and holidays."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from engine.business_hours import BusinessHours
from engine.sla import due_at, follow_up_until

NY = ZoneInfo("America/New_York")
HOURS = BusinessHours(timezone="America/New_York", holidays=[date(2026, 11, 26)])


def ny(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=NY)


def test_tier_one_gets_thirty_working_minutes() -> None:
    assert due_at(1, ny(2026, 11, 24, 11, 0), HOURS) == ny(2026, 11, 24, 11, 30)
    assert due_at(1, ny(2026, 11, 20, 22, 0), HOURS) == ny(2026, 11, 23, 9, 30)


def test_tier_two_is_due_at_close_of_the_same_business_day() -> None:
    assert due_at(2, ny(2026, 11, 24, 10, 0), HOURS) == ny(2026, 11, 24, 17, 0)


def test_tier_two_late_in_the_day_is_due_at_close_of_the_next_business_day() -> None:
    assert due_at(2, ny(2026, 11, 25, 16, 0), HOURS) == ny(2026, 11, 27, 17, 0)


def test_tier_three_gets_three_business_days() -> None:
    assert due_at(3, ny(2026, 11, 24, 12, 0), HOURS) == ny(2026, 11, 30, 12, 0)


def test_the_follow_up_window_is_ten_business_days() -> None:
    assert follow_up_until(ny(2026, 11, 24, 12, 0), HOURS) == ny(2026, 12, 9, 12, 0)
