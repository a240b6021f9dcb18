"""The engine's phrasing: articles, counts, spans of time, industry and source names."""

from __future__ import annotations

from datetime import timedelta

import pytest

from engine.client.wording import summary
from engine.phrasing import (
    ago,
    count,
    industry_name,
    recent_span,
    sentence,
    source_label,
    source_name,
    with_article,
)


@pytest.mark.parametrize(("phrase", "expected"), [
    ("800-person company", "an 800-person company"),
    ("8-person company", "an 8-person company"),
    ("11-person company", "an 11-person company"),
    ("18-person company", "an 18-person company"),
    ("80-person company", "an 80-person company"),
    ("8,000-person company", "an 8,000-person company"),
    ("18,500-person company", "an 18,500-person company"),
    ("1-person company", "a 1-person company"),
    ("1,100-person company", "a 1,100-person company"),
    ("100-person company", "a 100-person company"),
    ("SaaS company", "a SaaS company"),
    ("IT team", "an IT team"),
    ("HR team", "an HR team"),
    ("B2B firm", "a B2B firm"),
    ("e-commerce company", "an e-commerce company"),
    ("education company", "an education company"),
    ("university", "a university"),
    ("hour", "an hour"),
    ("company", "a company"),
])
def test_the_article_follows_the_sound_the_phrase_starts_with(phrase: str,
                                                              expected: str) -> None:
    assert with_article(phrase) == expected


def test_counts_agree_with_their_number() -> None:
    assert [count(n, "action") for n in (0, 1, 2)] == ["0 actions", "1 action", "2 actions"]
    assert count(3, "person", "people") == "3 people"


def test_a_span_under_a_day_is_said_in_hours_never_as_zero_days() -> None:
    assert recent_span(timedelta(minutes=20)) == "in the last hour"
    assert recent_span(timedelta(hours=1)) == "in the last hour"
    assert recent_span(timedelta(hours=4, minutes=10)) == "in the last 5 hours"
    assert recent_span(timedelta(days=1, hours=3)) == "over 1 day"
    assert recent_span(timedelta(days=12)) == "over 12 days"


def test_how_long_ago_says_one_day_not_one_days() -> None:
    assert ago(timedelta(minutes=5)) == "within the hour"
    assert ago(timedelta(hours=3)) == "3 h ago"
    assert ago(timedelta(days=1, hours=2)) == "1 day ago"
    assert ago(timedelta(days=9)) == "9 days ago"


def test_industry_keys_read_as_people_name_them() -> None:
    assert industry_name("saas") == "SaaS"
    assert industry_name("ecommerce") == "e-commerce"
    assert industry_name("real_estate") == "real estate"
    assert industry_name("healthcare") == "healthcare"
    assert industry_name("Healthcare") == "Healthcare"  # the producer's own spelling stands
    assert industry_name("Computer Software") == "Computer Software"
    assert industry_name(None) == industry_name("  ") == ""


def test_sources_read_as_a_place_the_lead_came_in_through() -> None:
    assert source_name("content_syndication") == "content syndication"
    assert source_name("referral") == "a referral"
    assert source_name("trade_show") == "trade show"
    assert source_label("referral") == "referral"
    assert source_label("pricing_page") == "pricing page"
    assert source_label(None) == ""


def test_a_sentence_starts_with_a_capital_and_keeps_the_rest() -> None:
    assert sentence("saaS, growing") == "SaaS, growing"
    assert sentence("“quoted”") == "“Quoted”"
    assert sentence("") == ""


def test_a_long_timeline_line_is_cut_at_a_word() -> None:
    line = summary({"reason": "Came in through the webinar, attended 48 minutes"}, width=54)

    assert line == "reason: Came in through the webinar, attended 48…"
