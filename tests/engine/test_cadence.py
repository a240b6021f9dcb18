"""Frequency cap and send window."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from engine.cadence import lead_zone, next_send_time
from engine.dsl import Cadence

CADENCE = Cadence(max_emails=2, per=timedelta(days=7), window_start_hour=8, window_end_hour=19)
NY = ZoneInfo("America/New_York")


def test_inside_the_window_and_under_the_cap_sends_now() -> None:
    now = datetime(2026, 3, 3, 15, 0, tzinfo=UTC)  # 10:00 in New York
    assert next_send_time(now, [], CADENCE, NY) == now


def test_at_night_waits_for_the_morning_in_the_leads_zone() -> None:
    now = datetime(2026, 3, 4, 3, 0, tzinfo=UTC)  # 22:00 in New York
    at = next_send_time(now, [], CADENCE, NY).astimezone(NY)
    assert (at.day, at.hour) == (4, 8)


def test_third_email_in_a_week_waits_until_the_oldest_ages_out() -> None:
    now = datetime(2026, 3, 5, 15, 0, tzinfo=UTC)
    sent = [now - timedelta(days=2), now - timedelta(days=1)]
    assert next_send_time(now, sent, CADENCE, NY) == sent[0] + timedelta(days=7)


def test_unknown_time_zone_falls_back_to_the_default() -> None:
    assert str(lead_zone("Mars/Olympus", CADENCE)) == "UTC"
