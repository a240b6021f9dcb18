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


def test_without_an_action_that_shows_a_need_the_opener_asks_instead_of_guessing() -> None:
    click = [Event(id="c", type="email_clicked", at=ago(0.01),
                 properties={"template": "accel_roi_calculator",
                             "subject": "Put your own numbers into the ROI model"})]

    package = build_handoff(ana(company="Fjord Logistics"), click, Scores(), tier=2,
                            reason="score", now=NOW)

    assert package.likely_pain == "not yet clear"
    assert package.suggested_opener == ("Hi Ana, what prompted Fjord Logistics to look at "
                                        "this now?")
    assert package.content_engaged == ["Email: Put your own numbers into the ROI model"]


def test_the_opener_speaks_to_the_lead_when_their_company_is_unknown() -> None:
    events = [Event(id="c", type="case_study_viewed", at=ago(1), properties={})]

    package = build_handoff(ana(company=None), events, Scores(), tier=2, reason="s", now=NOW)

    assert package.suggested_opener == ("Hi Ana, it looks like you want proof it works for "
                                        "companies like yours; is that on your plate this "
                                        "quarter?")


def test_content_is_named_once_in_a_reps_words() -> None:
    events = [
        Event(id="r1", type="webinar_registered", at=ago(9), properties={"topic": "forecasting"}),
        Event(id="w1", type="webinar_attended", at=ago(8), properties={"topic": "forecasting"}),
        Event(id="p1", type="pricing_page_viewed", at=ago(2), properties={"title": "Pricing"}),
        Event(id="r", type="roi_calculator_used", at=ago(1),
              properties={"title": "Roi Calculator"}),
        Event(id="b", type="buying_committee_signal", at=ago(0.5),
              properties={"contact": "Raj", "title": "CFO"}),
    ]

    package = build_handoff(ana(), events, Scores(), tier=2, reason="score", now=NOW)

    assert package.content_engaged == ["ROI calculator", "Pricing page", "Webinar: forecasting"]


def test_the_engagement_pattern_counts_hours_and_agrees_in_number() -> None:
    one = [Event(id="p", type="pricing_page_viewed", at=ago(0.1))]
    hours = [Event(id=f"p{n}", type="pricing_page_viewed", at=ago(n / 24)) for n in (1, 3, 5)]
    old = [Event(id="o", type="pricing_page_viewed", at=ago(20))]

    def pattern(events: list[Event]) -> str:
        return build_handoff(ana(), events, Scores(), tier=2, reason="s",
                             now=NOW).engagement_pattern

    assert pattern(one) == "1 action in the last 3 hours — steady"
    assert pattern(hours) == "3 actions in the last 5 hours — accelerating"
    assert pattern(old) == "1 action over 20 days, none in the last 7 days — cooling"


def test_the_company_line_names_the_industry_and_writes_the_size_in_full() -> None:
    package = build_handoff(ana(company_size=8000, industry="ecommerce", company=None,
                                company_domain=None, country="US"), [], Scores(), tier=3,
                            reason="s", now=NOW)

    assert package.company_fit == "low fit 8,000-person e-commerce company in US"
    assert package.qualification_reason.startswith(
        "VP Marketing at an 8,000-person e-commerce company.")
