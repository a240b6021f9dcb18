"""The handoff package: the sentence a rep reads first, and where the lead came from."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from engine.events import Event
from engine.handoff import build_handoff, qualification_sentence
from engine.leads import LeadProfile
from engine.scoring import Scores

NOW = datetime(2026, 11, 20, 15, tzinfo=UTC)


def ago(days: float) -> datetime:
    return NOW - timedelta(days=days)


def ana(**overrides: object) -> LeadProfile:
    base: dict[str, object] = {"id": "ana", "email": "ana@acme.io", "first_name": "Ana",
                               "title": "VP Marketing", "company": "Acme",
                               "company_size": 500, "industry": "saas", "source": "webinar"}
    return LeadProfile.model_validate(base | overrides)


def test_the_sentence_says_who_how_they_came_in_and_what_they_did_this_week() -> None:
    events = [
        Event(id="w", type="webinar_attended", at=ago(10),
              properties={"topic": "pipeline conversion", "minutes": 48}),
        Event(id="r", type="roi_calculator_used", at=ago(3)),
        Event(id="p1", type="pricing_page_viewed", at=ago(2)),
        Event(id="p2", type="pricing_page_viewed", at=ago(1)),
    ]

    assert qualification_sentence(ana(), events, NOW) == (
        "VP Marketing at a 500-person SaaS company (Acme). Came in through the webinar on "
        "pipeline conversion, attended 48 minutes, used the ROI calculator, and returned to "
        "the pricing page twice this week.")


def test_an_old_pricing_visit_is_mentioned_once_not_as_a_return() -> None:
    events = [Event(id="p1", type="pricing_page_viewed", at=ago(20)),
              Event(id="p2", type="pricing_page_viewed", at=ago(19))]

    sentence = qualification_sentence(ana(source="content_syndication"), events, NOW)

    assert sentence.endswith("Came in through content syndication and viewed the pricing "
                             "page.")


def test_a_lead_we_know_little_about_gets_a_plain_sentence() -> None:
    bare = LeadProfile(id="b", email="b@example.org")

    assert qualification_sentence(bare, [], NOW) == "b@example.org."


def test_the_package_names_the_campaign_from_the_profile_or_the_first_event() -> None:
    webinar = [Event(id="w", type="webinar_attended", at=ago(5),
                     properties={"topic": "forecasting"})]

    from_event = build_handoff(ana(), webinar, Scores(), tier=2, reason="score", now=NOW)
    from_profile = build_handoff(ana(campaign="Q4 webinar series"), webinar, Scores(), tier=2,
                                 reason="score", now=NOW)

    assert from_event.campaign == "forecasting"
    assert from_profile.campaign == "Q4 webinar series"
    assert from_event.escalation_reason.startswith("score;")
