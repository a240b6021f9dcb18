"""Conditions and durations read the way ops say them (outlines and diffs share them)."""

from __future__ import annotations

from datetime import timedelta

from engine.dsl import all_of, attribute, disqualified, fit_is, not_, score, seen
from engine.dsl.words import condition, span


def test_conditions_read_as_sentences() -> None:
    assert condition(score("intent").at_least(20)) == "intent score is at least 20"
    assert condition(attribute("source").one_of(["webinar", "event"])) == \
        "source is one of webinar, event"
    assert condition(seen("email_clicked", at_least=3, within=timedelta(days=30))) == \
        "seen email_clicked at least 3 times within 30 days"
    assert condition(not_(disqualified())) == \
        "not disqualified (student, competitor, job seeker…)"
    assert condition(all_of(fit_is("high", "medium"), score("intent").at_least(20))) == \
        "(fit is high or medium and intent score is at least 20)"


def test_durations_read_in_whole_units() -> None:
    assert span(timedelta(days=7)) == "7 days"
    assert span(timedelta(days=1, hours=6)) == "1 day 6 hours"
    assert span(timedelta(minutes=30)) == "30 minutes"
