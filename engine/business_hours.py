"""Business hours: when sales clocks run, in the owner's time zone, skipping weekends and
holidays. Pure: every function takes the moment it starts from.

    hours = BusinessHours(timezone="America/New_York", holidays=[date(2026, 11, 26)])
    due = hours.add(received, timedelta(minutes=30))   # a tier-1 SLA
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

_SEARCH_DAYS = 3_660  # ten years of calendar: enough for any holiday list, never endless


class BusinessHours(BaseModel):
    """Working days (0 = Monday), opening and closing times, holidays, and a time zone."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    timezone: str = "UTC"
    days: list[int] = Field(default_factory=lambda: [0, 1, 2, 3, 4])
    opens: time = time(9, 0)
    closes: time = time(17, 0)
    holidays: list[date] = Field(default_factory=list)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}; use an IANA name such as "
                             "'Europe/Berlin'") from None
        return value

    @field_validator("days")
    @classmethod
    def _weekdays(cls, value: list[int]) -> list[int]:
        if not value or any(d not in range(7) for d in value):
            raise ValueError("days must name at least one weekday, 0 (Monday) to 6 (Sunday)")
        return sorted(set(value))

    @model_validator(mode="after")
    def _opens_before_closing(self) -> BusinessHours:
        if self.opens >= self.closes:
            raise ValueError(f"opens ({self.opens}) must be before closes ({self.closes})")
        return self

    def is_working_day(self, day: date) -> bool:
        """Whether the office is open at all on this calendar day."""
        return day.weekday() in self.days and day not in self.holidays

    def add(self, start: datetime, duration: timedelta) -> datetime:
        """The moment `duration` of business time after `start` (aware, UTC)."""
        if duration < timedelta(0):
            raise ValueError("duration must not be negative")
        remaining = duration
        for opens, closes in self._windows(start):
            begin = max(start, opens)
            if remaining <= closes - begin:
                return begin + remaining
            remaining -= closes - begin
        raise ValueError("no working time within ten years; check days and holidays")

    def between(self, start: datetime, end: datetime) -> timedelta:
        """How much business time lies from `start` to `end`."""
        total = timedelta(0)
        for opens, closes in self._windows(start):
            if opens >= end:
                break
            total += min(closes, end) - max(start, opens)
        return max(total, timedelta(0))

    def end_of_day(self, at: datetime) -> datetime:
        """Closing time of the business day `at` falls in, or of the next one after hours."""
        for _, closes in self._windows(at):
            return closes
        raise ValueError("no working time within ten years; check days and holidays")

    def _windows(self, start: datetime) -> Iterator[tuple[datetime, datetime]]:
        """Open-to-close spans (aware, UTC) that end after `start`, in order."""
        if start.tzinfo is None:
            raise ValueError("start must carry a time zone")
        zone = ZoneInfo(self.timezone)
        day = start.astimezone(zone).date()
        for _ in range(_SEARCH_DAYS):
            if self.is_working_day(day):
                opens = datetime.combine(day, self.opens, zone).astimezone(UTC)
                closes = datetime.combine(day, self.closes, zone).astimezone(UTC)
                if closes > start:
                    yield opens, closes
            day += timedelta(days=1)
