"""Business hours: SLA clocks that stop for nights, weekends and holidays."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from engine.business_hours import BusinessHours

NY = ZoneInfo("America/New_York")
THANKSGIVING = date(2026, 11, 26)
HOURS = BusinessHours(timezone="America/New_York", holidays=[THANKSGIVING])


def ny(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=NY)


def test_thirty_minutes_inside_the_day_are_thirty_minutes() -> None:
    assert HOURS.add(ny(2026, 11, 24, 10, 0), timedelta(minutes=30)) == ny(2026, 11, 24, 10, 30)


def test_a_friday_afternoon_request_is_due_on_monday_morning() -> None:
    due = HOURS.add(ny(2026, 11, 20, 16, 45), timedelta(minutes=30))

    assert due == ny(2026, 11, 23, 9, 15)


def test_the_clock_skips_a_holiday() -> None:
    due = HOURS.add(ny(2026, 11, 25, 16, 50), timedelta(minutes=30))

    assert due == ny(2026, 11, 27, 9, 20)


def test_a_request_before_opening_starts_counting_at_opening() -> None:
    assert HOURS.add(ny(2026, 11, 24, 6, 0), timedelta(hours=1)) == ny(2026, 11, 24, 10, 0)


def test_three_business_days_from_a_wednesday_cross_the_weekend_and_the_holiday() -> None:
    due = HOURS.add(ny(2026, 11, 25, 9, 0), timedelta(hours=3 * 8))

    assert due == ny(2026, 11, 30, 17, 0)  # the close of the third working day


def test_business_time_between_two_moments_leaves_out_nights_and_weekends() -> None:
    elapsed = HOURS.between(ny(2026, 11, 20, 16, 0), ny(2026, 11, 23, 10, 0))

    assert elapsed == timedelta(hours=2)


def test_same_business_day_ends_at_closing_or_at_the_next_day_after_hours() -> None:
    assert HOURS.end_of_day(ny(2026, 11, 24, 11, 0)) == ny(2026, 11, 24, 17, 0)
    assert HOURS.end_of_day(ny(2026, 11, 25, 18, 0)) == ny(2026, 11, 27, 17, 0)


def test_hours_follow_the_owners_zone_across_a_clock_change() -> None:
    berlin = BusinessHours(timezone="Europe/Berlin")
    friday = datetime(2026, 10, 23, 16, 30, tzinfo=ZoneInfo("Europe/Berlin"))

    due = berlin.add(friday, timedelta(hours=1))

    assert due == datetime(2026, 10, 26, 9, 30, tzinfo=ZoneInfo("Europe/Berlin"))
    assert due.utcoffset() is not None


@pytest.mark.parametrize(("settings", "message"), [
    ({"timezone": "Mars/Olympus"}, "unknown time zone"),
    ({"days": []}, "at least one weekday"),
    ({"days": [7]}, "at least one weekday"),
    ({"opens": "18:00", "closes": "09:00"}, "must be before closes"),
])
def test_bad_hours_are_refused_with_the_fix(settings: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        BusinessHours.model_validate(settings)


def test_a_naive_start_is_refused() -> None:
    with pytest.raises(ValueError, match="time zone"):
        HOURS.add(datetime(2026, 11, 24, 10, 0), timedelta(minutes=5))
