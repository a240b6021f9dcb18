"""Running score sums agree with scoring every event afresh (the reference), whatever the
order events arrive in, with bots, caps, negative signals and a recycle's `intent_since`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from engine.events import Event
from engine.leads import LeadProfile
from engine.scoring import Scores, score, score_tallied, tally_add, tally_of
from workflows.scoring import SCORING

START = datetime(2026, 1, 5, 9, tzinfo=UTC)
TYPES = sorted({*SCORING.intent.points, *SCORING.relationship.touch_points,
                *(t for rule in SCORING.negative for t in rule.event_types), "page_viewed"})
PROFILE = LeadProfile(id="l1", email="ana@acme.com", title="VP Marketing", company="Acme",
                      company_size=300, industry="saas", country="US")

events = st.lists(st.builds(
    lambda n, kind, hours, bot: Event(id=f"e{n}", type=kind, at=START + timedelta(hours=hours),
                                      properties={"bot": True} if bot else {}),
    st.integers(0, 10**9), st.sampled_from(TYPES), st.integers(0, 24 * 200), st.booleans(),
), max_size=60, unique_by=lambda e: e.id)


def close(a: Scores, b: Scores) -> bool:
    """Equal within the rounding both apply (0.1 points)."""
    numbers = [(a.fit, b.fit), (a.intent, b.intent), (a.relationship, b.relationship),
               (a.negative, b.negative), (a.total, b.total)]
    return all(abs(x - y) <= 0.1 + 1e-9 for x, y in numbers) and a.flags == b.flags


@settings(max_examples=200, deadline=None)
@given(events, st.integers(0, 24 * 400), st.one_of(st.none(), st.integers(0, 24 * 200)))
def test_the_tally_agrees_with_scoring_every_event(batch: list[Event], later: int,
                                                    since_hours: int | None) -> None:
    since = None if since_hours is None else START + timedelta(hours=since_hours)
    tally = tally_of([], SCORING, START, since=since)
    arrived = START
    for event in batch:  # in the order given: out of time order, as producers deliver
        arrived = max(arrived, event.at)
        tally_add(tally, event, SCORING, arrived)
    now = arrived + timedelta(hours=later)
    expected = score(PROFILE, batch, now=now, enrolled_at=START, model=SCORING,
                     intent_since=since)
    got = score_tallied(PROFILE, tally, now=now, enrolled_at=START, model=SCORING)
    assert close(got, expected), (got, expected)


def test_intent_decays_between_events_and_caps_per_type() -> None:
    clicks = [Event(id=f"c{i}", type="email_clicked", at=START + timedelta(days=i))
              for i in range(40)]
    tally = tally_of(clicks, SCORING, START + timedelta(days=40))
    now = START + timedelta(days=100)
    expected = score(PROFILE, clicks, now=now, enrolled_at=START, model=SCORING)
    got = score_tallied(PROFILE, tally, now=now, enrolled_at=START, model=SCORING)
    assert got.intent == expected.intent > 0
    cap = SCORING.intent.caps.get("email_clicked")
    if cap is not None:
        assert got.intent <= cap


def test_an_event_from_the_future_counts_from_when_it_arrived() -> None:
    tally = tally_of([], SCORING, START)
    event = Event(id="f", type="pricing_page_viewed", at=START + timedelta(days=3))
    tally_add(tally, event, SCORING, START)
    now_scores = score_tallied(PROFILE, tally, now=START, enrolled_at=START, model=SCORING)
    reference = score(PROFILE, [event], now=START, enrolled_at=START, model=SCORING)
    assert now_scores.intent == reference.intent > 0  # counted in full, as the reference does
