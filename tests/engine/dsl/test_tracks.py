"""The track DSL: building, versions and validation errors that say how to fix a track."""

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from engine.dsl import (
    branch,
    days,
    end,
    escalate,
    escalate_now,
    in_phase,
    move_to,
    on,
    playbook,
    route,
    score,
    seen,
    send,
    track,
    trigger,
    wait,
    wait_for,
    when,
)
from engine.dsl.events import PRICING_PAGE_VIEWED
from engine.dsl.spec import TrackSpec, Trigger
from engine.errors import PlaybookError, TrackError
from engine.scoring import IntentRules, ScoringModel
from engine.store import Store


def simple(**overrides: object) -> TrackSpec:
    steps = overrides.pop("steps", None) or [
        send("hello", "welcome_confirmation"),
        wait("pause", days=3),
        send("value", "activation_value"),
        end("done", "finished"),
    ]
    return track("welcome", phase="qualification", steps=steps)  # type: ignore[arg-type]


def test_steps_flow_in_written_order_unless_told_otherwise() -> None:
    spec = simple()
    assert [s.next for s in spec.steps[:3]] == ["pause", "value", "done"]  # type: ignore[union-attr]


def test_spec_round_trips_through_json_with_the_same_version() -> None:
    spec = simple()
    again = TrackSpec.model_validate(json.loads(spec.model_dump_json()))
    assert again == spec
    assert again.version == spec.version


def test_editing_a_track_changes_its_version() -> None:
    edited = simple(steps=[send("hello", "welcome_confirmation"), wait("pause", days=4),
                           send("value", "activation_value"), end("done", "finished")])
    assert edited.version != simple().version


def test_dangling_step_names_track_step_and_fix() -> None:
    with pytest.raises(TrackError) as caught:
        track("t", phase="qualification", steps=[send("a", "x", then="nowhere"), end("e", "x")])
    message = str(caught.value)
    assert "track 't'" in message and "step 'a'" in message and "nowhere" in message
    assert "fix:" in message


def test_unreachable_step_is_an_error() -> None:
    with pytest.raises(TrackError, match="can never be reached"):
        track("t", phase="qualification",
              steps=[send("a", "x", then="e"), send("orphan", "x"), end("e", "x")])


def test_a_track_without_an_end_is_an_error() -> None:
    with pytest.raises(TrackError, match="dead end"):
        track("t", phase="qualification", steps=[send("a", "x"), wait("w", days=1)])


def test_a_loop_without_a_wait_is_an_error() -> None:
    with pytest.raises(TrackError, match="without waiting"):
        track("t", phase="qualification", steps=[
            send("a", "x"),
            branch("b", when(score("total").at_least(10), goto="e"), otherwise="a"),
            end("e", "x"),
        ])


def test_a_loop_that_never_exits_has_no_way_to_end() -> None:
    with pytest.raises(TrackError, match="no way to end"):
        track("t", phase="qualification", steps=[send("a", "x"), wait("w", days=1, then="a")])


def test_wait_for_branches_per_event_and_on_timeout() -> None:
    spec = track("t", phase="qualification", steps=[
        wait_for("w", on("pricing_page_viewed", goto="hot"), on("email_clicked", goto="warm"),
                 timeout=days(5)),
        end("cold", "quiet"),
        escalate("hot", "pricing", tier=2),
        end("warm", "clicked"),
    ])
    step = spec.step("w")
    assert step.on_timeout == "cold"  # type: ignore[union-attr]
    assert [b.next for b in step.branches] == ["hot", "warm"]  # type: ignore[union-attr]


def test_playbook_rejects_unknown_template_with_the_file_to_create() -> None:
    with pytest.raises(TrackError) as caught:
        playbook("p", tracks=[simple()], default_track="welcome",
                 templates=["welcome_confirmation"])
    assert "activation_value" in str(caught.value)
    assert "templates/email/activation_value/" in str(caught.value)


def test_playbook_rejects_a_move_to_an_unknown_track() -> None:
    other = track("a", phase="qualification", steps=[move_to("go", "ghost", "why")])
    with pytest.raises(TrackError, match="unknown track 'ghost'"):
        playbook("p", tracks=[other], default_track="a")


def test_a_misspelled_track_phase_is_an_error_that_says_what_was_meant() -> None:
    with pytest.raises(TrackError) as caught:
        track("welcome", phase="accel", steps=[end("e", "done")])
    message = str(caught.value)
    assert "track 'welcome'" in message and "'accel' is not a phase a track can be in" in message
    assert "did you mean 'acceleration'?" in message
    with pytest.raises(TrackError, match="'sales' is not a phase a track can be in"):
        track("welcome", phase="sales", steps=[end("e", "done")])  # sales is not nurture


def test_a_misspelled_phase_in_a_trigger_or_a_condition_is_an_error() -> None:
    with pytest.raises(PlaybookError, match=r"trigger 'hot': 'qualifcation' is not a phase; "
                                            r"did you mean 'qualification'\?"):
        trigger("hot", on=["demo_requested"], then=[escalate_now("demo")],
                phases=["qualifcation"])
    with pytest.raises(PlaybookError, match=r"in_phase\('salse'\).*did you mean 'sales'"):
        in_phase("salse")
    # A spec built without the builders is checked when its playbook is built...
    bad = TrackSpec.model_validate({**simple().model_dump(), "phase": "accel"})
    with pytest.raises(TrackError, match="'accel' is not a phase a track can be in"):
        playbook("p", tracks=[bad], default_track="welcome")
    with pytest.raises(PlaybookError, match=r"triggers\['t'\].phases: 'qualifcation'"):
        playbook("p", tracks=[simple()], default_track="welcome", triggers=[
            Trigger(name="t", on=["demo_requested"], phases=["qualifcation"],
                    actions=[escalate_now("x")])])


def test_a_stored_version_with_a_misspelled_phase_still_loads(tmp_path: Path) -> None:
    """...not when it is read back: leads already on a version keep running it."""
    good = playbook("p", tracks=[simple()], default_track="welcome")
    stored = good.model_copy(update={"tracks": {"welcome": good.tracks["welcome"].model_copy(
        update={"phase": "accel"})}})
    with Store(f"sqlite:///{tmp_path / 'p.db'}", upgrade=True) as store:
        store.save_playbook(stored, now=datetime.now(UTC))
        loaded = store.stored_playbook(stored.version)
    assert loaded is not None and loaded.version == stored.version
    assert loaded.tracks["welcome"].phase == "accel"


def test_a_dead_end_says_to_end_the_track_with_end() -> None:
    with pytest.raises(TrackError) as caught:
        track("t", phase="qualification", steps=[send("a", "x"), wait("w", days=1)])
    assert "end()" in str(caught.value) and "exit()" not in str(caught.value)


def _listening(*types: str) -> TrackSpec:
    return track("listen", phase="qualification", steps=[
        wait_for("w", on(*types, goto="hot"), timeout=days(7), on_timeout="cold"),
        end("hot", "engaged"), end("cold", "quiet")])


def test_a_misspelled_event_type_fails_the_build_saying_what_was_meant() -> None:
    with pytest.raises(PlaybookError) as caught:
        playbook("p", tracks=[_listening("pricing_page_visited")], default_track="listen")
    message = str(caught.value)
    assert "tracks['listen'].steps['w'].branches[0].on" in message
    assert "'pricing_page_visited' is not an event type" in message
    assert "did you mean 'pricing_page_viewed'?" in message
    with pytest.raises(PlaybookError, match=r"triggers\['t'\].on.*'demo_requestd'"):
        playbook("p", tracks=[_listening(PRICING_PAGE_VIEWED)], default_track="listen",
                 triggers=[trigger("t", on=["demo_requestd"], then=[escalate_now("x")])])
    with pytest.raises(PlaybookError, match=r"entry\[0\].when.types.*'trail_started'"):
        playbook("p", tracks=[_listening(PRICING_PAGE_VIEWED)], default_track="listen",
                 entry=[route(seen("trail_started"), "listen")])


def test_a_custom_event_declared_with_its_points_can_be_listened_for_and_scores() -> None:
    scoring = ScoringModel(intent=IntentRules(points={PRICING_PAGE_VIEWED: 10}))
    built = playbook("p", tracks=[_listening("trial_started")], default_track="listen",
                     scoring=scoring, custom_events={"trial_started": 15})

    assert built.scoring.intent.points == {PRICING_PAGE_VIEWED: 10, "trial_started": 15}
    with pytest.raises(PlaybookError, match="is a canonical event type"):
        playbook("p", tracks=[_listening("trial_started")], default_track="listen",
                 custom_events={PRICING_PAGE_VIEWED: 15})
    with pytest.raises(PlaybookError, match="lower_snake_case, e.g. 'trial_started'"):
        playbook("p", tracks=[_listening("trial_started")], default_track="listen",
                 custom_events={"Trial Started": 15})


def test_a_send_about_an_event_keeps_the_hash_of_steps_without_one() -> None:
    assert "about" not in send("a", "x").model_dump(mode="json")  # versions stay as they were
    assert send("a", "x", about="webinar_attended").about == "webinar_attended"
    with pytest.raises(PlaybookError, match=r"\.about.*'webinar_attend'.*'webinar_attended'"):
        playbook("p", default_track="t", tracks=[track("t", phase="qualification", steps=[
            send("a", "welcome_confirmation", about="webinar_attend"), end("e", "x")])])
