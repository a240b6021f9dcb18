"""The sales part of a playbook: outcomes name real tracks, and old specs still load."""

from __future__ import annotations

import json

import pytest

from engine.dsl import (
    PlaybookSpec,
    RejectReason,
    SalesPolicy,
    end,
    move_on_reject,
    playbook,
    reactivate_on,
    track,
    wait,
)
from engine.errors import TrackError
from workflows import PLAYBOOK

HOME = track("home", phase="qualification", steps=[wait("w", days=1), end("done", "over")])


def test_a_reject_plan_naming_an_unknown_track_says_which_reason_and_how_to_fix() -> None:
    policy = SalesPolicy(on_reject={RejectReason.BUDGET: move_on_reject("roi_track")})

    with pytest.raises(TrackError) as error:
        playbook("p", tracks=[HOME], default_track="home", sales=policy)

    assert "on_reject budget_not_realistic" in str(error.value)
    assert "roi_track" in str(error.value)


def test_the_default_policy_suppresses_the_four_reasons_that_end_nurture() -> None:
    built = playbook("p", tracks=[HOME], default_track="home")

    suppressed = {r for r, step in built.sales.on_reject.items() if step.action == "suppress"}

    assert suppressed == {RejectReason.POOR_FIT, RejectReason.NOT_A_BUYER,
                          RejectReason.GEOGRAPHY, RejectReason.DUPLICATE}


def test_the_shipped_playbook_maps_every_reason_and_needs_a_date_for_timing() -> None:
    plans = PLAYBOOK.sales.on_reject

    assert set(plans) == set(RejectReason)
    assert plans[RejectReason.TIMING] == reactivate_on("reactivation")
    assert plans[RejectReason.TIMING].needs_date


def test_a_spec_saved_before_business_hours_existed_still_loads() -> None:
    saved = json.loads(PLAYBOOK.model_dump_json())
    del saved["sales"]
    saved["sla"] = {"tier_1": "PT30M", "tier_2": "PT8H", "tier_3": "P3D"}

    loaded = PlaybookSpec.model_validate(saved)

    assert loaded.sales == SalesPolicy()
    assert loaded.tracks == PLAYBOOK.tracks
