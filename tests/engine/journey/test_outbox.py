"""The cadence: trigger emails wait for a slot inside the cap and the send window."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from engine.dsl.spec import SendAction
from engine.events import Event
from engine.journey import outbox
from engine.journey.state import LeadState
from tests.engine.journey.conftest import NOW


def test_a_trigger_email_is_held_until_the_cadence_allows_it(state: LeadState) -> None:
    for i in range(2):
        outbox.sent(state, {"template": f"t{i}", "subject": "s", "track": "welcome",
                            "step": "x", "at": NOW - timedelta(hours=i + 1), "key": f"k{i}"})
    outbox.queue(state, SendAction(template="trigger_industry_proof"),
                 Event(id="e", type="case_study_viewed", at=NOW), NOW)
    (held,) = state.outbox
    assert held.not_before > NOW and held.step == "trigger:case_study_viewed"
    assert outbox.due(state, NOW) == []
    assert outbox.due(state, held.not_before) == [held]


def test_the_morning_of_a_date_is_the_window_start_in_the_leads_zone(
        state: LeadState) -> None:
    morning = outbox.morning_of(state, date(2026, 4, 1))
    assert morning == datetime(2026, 4, 1, 8, tzinfo=ZoneInfo("America/New_York"))
