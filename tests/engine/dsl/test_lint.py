"""`nurture tracks check` warnings: a track nothing routes to, and a playbook trigger that
pre-empts a track's own wait_for on the same event, each naming both places."""

from __future__ import annotations

from engine.dsl import days, end, go_to, on, playbook, route, seen, track, trigger, wait_for
from engine.dsl.events import DEMO_PAGE_VIEWED, PRICING_PAGE_VIEWED
from engine.dsl.lint import playbook_warnings
from engine.dsl.spec import TrackSpec


def _tracks() -> list[TrackSpec]:
    return [
        track("welcome", phase="qualification", steps=[
            wait_for("listen", on(PRICING_PAGE_VIEWED, goto="hot"),
                     on(DEMO_PAGE_VIEWED, goto="hot"), timeout=days(7), on_timeout="cold"),
            end("hot", "engaged"), end("cold", "quiet")]),
        track("acceleration", phase="acceleration", steps=[end("done", "x")]),
        track("orphan", phase="conversion", steps=[end("done", "x")]),
    ]


def test_a_track_nothing_routes_to_and_a_pre_empted_wait_for_are_named() -> None:
    spec = playbook("p", tracks=_tracks(), default_track="welcome", triggers=[
        trigger("pricing", on=[PRICING_PAGE_VIEWED], then=[go_to("acceleration", "hot")])])

    warnings = playbook_warnings(spec)

    assert len(warnings) == 2
    assert warnings[0].startswith("track 'orphan': nothing routes leads to it")
    assert "trigger 'pricing' (move) pre-empts track 'welcome' step 'listen'" in warnings[1]
    assert "waits for pricing_page_viewed" in warnings[1] and "'hot' never runs" in warnings[1]


def test_routed_tracks_and_triggers_outside_the_tracks_phase_warn_of_nothing() -> None:
    spec = playbook("p", tracks=_tracks(), default_track="welcome",
                    entry=[route(seen(DEMO_PAGE_VIEWED), "orphan")],
                    triggers=[trigger("pricing", on=[PRICING_PAGE_VIEWED],
                                      phases=["conversion"],
                                      then=[go_to("acceleration", "hot")])])

    assert playbook_warnings(spec) == []
