"""Scoring: fit and intent together decide readiness; decay and negatives do their job."""

from datetime import UTC, datetime, timedelta

from engine.events import Event
from engine.leads import LeadProfile
from engine.scoring import readiness, score
from workflows.scoring import SCORING

NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
VP = LeadProfile(id="l", email="ana@acme.io", title="VP Marketing", company="Acme",
                 company_domain="acme.io", company_size=500, industry="saas", country="US")


def ev(kind: str, days_ago: float = 0, **props: object) -> Event:
    return Event(id=f"{kind}{days_ago}{props}", type=kind, at=NOW - timedelta(days=days_ago),
                 properties=props)


def test_default_points_follow_the_playbook() -> None:
    s = score(VP, [ev("pricing_page_viewed"), ev("email_clicked")], now=NOW, enrolled_at=NOW,
              model=SCORING)
    assert s.intent == 20
    assert s.fit_tier == "high"


def test_intent_halves_every_thirty_days() -> None:
    fresh = score(VP, [ev("roi_calculator_used")], now=NOW, enrolled_at=NOW, model=SCORING)
    old = score(VP, [ev("roi_calculator_used", days_ago=30)], now=NOW, enrolled_at=NOW,
                model=SCORING)
    assert old.intent == fresh.intent / 2


def test_opens_weigh_little_and_are_capped() -> None:
    s = score(VP, [ev("email_opened", i / 10) for i in range(40)], now=NOW, enrolled_at=NOW,
              model=SCORING)
    assert s.intent <= 10


def test_scanner_clicks_are_not_scored() -> None:
    s = score(VP, [ev("email_clicked", bot=True)], now=NOW, enrolled_at=NOW, model=SCORING)
    assert s.intent == 0


def test_high_fit_and_high_intent_is_tier_one() -> None:
    events = [ev("pricing_page_viewed"), ev("demo_page_viewed"), ev("roi_calculator_used")]
    s = score(VP, events, now=NOW, enrolled_at=NOW, model=SCORING)
    assert readiness(s, SCORING) == 1


def test_high_fit_and_medium_intent_is_tier_two() -> None:
    s = score(VP, [ev("pricing_page_viewed"), ev("webinar_attended")], now=NOW,
              enrolled_at=NOW, model=SCORING)
    assert (s.intent_level, readiness(s, SCORING)) == ("medium", 2)


def test_high_intent_low_fit_is_tier_three() -> None:
    solo = LeadProfile(id="s", email="sam@tinyco.io", title="Consultant", company_size=12,
                       industry="retail", country="BR")
    events = [ev("pricing_page_viewed"), ev("demo_page_viewed"), ev("roi_calculator_used"),
              ev("case_study_downloaded"), ev("comparison_viewed")]
    s = score(solo, events, now=NOW, enrolled_at=NOW, model=SCORING)
    assert s.fit_tier == "low" and readiness(s, SCORING) == 3


def test_students_and_competitors_are_never_ready() -> None:
    student = VP.model_copy(update={"title": "MBA Student"})
    rival = VP.model_copy(update={"company_domain": "rivalmetrics.io"})
    events = [ev("pricing_page_viewed", i) for i in range(20)] + [ev("demo_page_viewed")]
    for lead, flag in ((student, "student"), (rival, "competitor")):
        s = score(lead, events, now=NOW, enrolled_at=NOW, model=SCORING)
        assert flag in s.flags
        assert readiness(s, SCORING) is None


def test_a_lead_sales_handed_back_counts_only_interest_shown_since() -> None:
    history = [ev("demo_requested", 10), ev("roi_calculator_used", 9), ev("pricing_page_viewed", 1)]
    before = score(VP, history, now=NOW, enrolled_at=NOW, model=SCORING)
    after = score(VP, history, now=NOW, enrolled_at=NOW, model=SCORING,
                  intent_since=NOW - timedelta(days=5))

    assert readiness(before, SCORING) is not None
    assert after.intent == score(VP, [history[-1]], now=NOW, enrolled_at=NOW,
                                 model=SCORING).intent
    assert readiness(after, SCORING) is None
    assert after.fit == before.fit
