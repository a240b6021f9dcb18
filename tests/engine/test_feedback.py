"""Reject reasons: a fixed list with labels, read from codes or labels."""

from __future__ import annotations

import pytest

from engine.feedback import RejectReason, parse_reason


def test_every_standard_reason_has_a_label_a_rep_can_read() -> None:
    assert [r.label for r in RejectReason] == [
        "Poor company fit", "Student, vendor or competitor", "No business need",
        "Wrong contact role", "Duplicate record", "Unsupported geography",
        "No response after sequence", "Timing not active", "Budget not realistic"]


def test_only_reasons_that_mean_not_a_buyer_end_nurture() -> None:
    assert {r for r in RejectReason if r.ends_nurture} == {
        RejectReason.POOR_FIT, RejectReason.NOT_A_BUYER, RejectReason.GEOGRAPHY,
        RejectReason.DUPLICATE}


@pytest.mark.parametrize("text", ["timing_not_active", "Timing not active", " TIMING NOT ACTIVE "])
def test_a_reason_is_read_from_its_code_or_its_label(text: str) -> None:
    assert parse_reason(text) is RejectReason.TIMING


def test_an_unknown_reason_lists_the_allowed_codes() -> None:
    with pytest.raises(ValueError, match="use one of: poor_fit, student_vendor_competitor"):
        parse_reason("too expensive")
