"""Playbook diffs: what changed from one version to the next, in the words ops read."""

from collections.abc import Sequence

from engine.dsl import (
    IntentRules,
    PlaybookSpec,
    RejectReason,
    SalesPolicy,
    ScoringModel,
    SilenceRule,
    TrackSpec,
    Trigger,
    branch,
    days,
    end,
    escalate,
    escalate_now,
    move_on_reject,
    on,
    playbook,
    score,
    send,
    track,
    trigger,
    wait,
    wait_for,
    when,
)
from engine.dsl.diff import diff_playbooks, diff_tracks, step_mapping
from workflows import PLAYBOOK


def welcome(*steps: object) -> TrackSpec:
    return track("welcome", phase="qualification", steps=steps or [  # type: ignore[arg-type]
        send("hello", "welcome_intro"),
        wait("pause", days=5),
        send("value", "activation_value"),
        end("done", "welcome finished"),
    ])


def pricing() -> TrackSpec:
    return track("pricing", phase="acceleration", steps=[
        send("proof", "pricing_proof"),
        wait_for("listen", on("demo_page_viewed", goto="hand_over"), timeout=days(5)),
        end("done", "pricing finished"),
        escalate("hand_over", "looked at the demo page", tier=2),
    ])


def book(*tracks: TrackSpec, triggers: Sequence[Trigger] = (),
         scoring: ScoringModel | None = None, sales: SalesPolicy | None = None) -> PlaybookSpec:
    return playbook("test", tracks=tracks or [welcome()], default_track="welcome",
                    triggers=triggers, scoring=scoring, sales=sales)


def said(old: PlaybookSpec, new: PlaybookSpec) -> list[str]:
    return [str(change) for change in diff_playbooks(old, new).changes]


def test_identical_playbooks_have_no_changes() -> None:
    diff = diff_playbooks(book(), book())
    assert diff.is_empty
    assert diff.lines() == []
    assert diff.render().endswith("no changes")


def test_a_longer_wait_reads_as_the_new_and_the_old_duration() -> None:
    edited = welcome(send("hello", "welcome_intro"), wait("pause", days=7),
                     send("value", "activation_value"), end("done", "welcome finished"))
    assert said(book(), book(edited)) == [
        "track `welcome`: step `pause`: waits 7 days instead of 5 days"]


def test_a_changed_template_names_both_and_which_template_is_no_longer_used() -> None:
    edited = welcome(send("hello", "welcome_intro_v2"), wait("pause", days=5),
                     send("value", "activation_value"), end("done", "welcome finished"))
    assert said(book(), book(edited)) == [
        "track `welcome`: step `hello`: sends template `welcome_intro_v2` instead of "
        "`welcome_intro`",
        "template `welcome_intro`: no longer used",
        "template `welcome_intro_v2`: now used",
    ]


def test_an_added_step_says_where_it_sits_and_what_it_does() -> None:
    edited = welcome(send("hello", "welcome_intro"), wait("pause", days=5),
                     send("value", "activation_value"), wait("breather", days=2),
                     send("story", "customer_story"), end("done", "welcome finished"))
    assert said(book(), book(edited)) == [
        "track `welcome`: step `breather` added after `value`: waits 2 days",
        "track `welcome`: step `story` added after `breather`: sends template `customer_story`",
        "template `customer_story`: now used",
    ]


def test_a_removed_step_says_what_it_used_to_do() -> None:
    edited = welcome(send("hello", "welcome_intro"), send("value", "activation_value"),
                     end("done", "welcome finished"))
    assert said(book(), book(edited)) == [
        "track `welcome`: step `pause` removed (was: waits 5 days)"]


def test_an_added_track_gives_its_phase_and_size_and_its_templates() -> None:
    assert said(book(), book(welcome(), pricing())) == [
        "track `pricing`: added (phase acceleration, 4 steps)",
        "template `pricing_proof`: now used",
    ]


def test_a_removed_trigger_is_named() -> None:
    demo = trigger("demo_request", on=["demo_requested"], then=[escalate_now("asked", tier=1)])
    assert said(book(triggers=[demo]), book()) == ["trigger `demo_request`: removed"]


def test_a_changed_trigger_says_what_it_fires_on_and_does_now() -> None:
    old = trigger("demo_request", on=["demo_requested", "contact_requested"],
                  then=[escalate_now("asked", tier=1)])
    new = trigger("demo_request", on=["demo_requested"], cooldown=days(2),
                  then=[escalate_now("asked", tier=2)])
    assert said(book(triggers=[old]), book(triggers=[new])) == [
        "trigger `demo_request`: no longer fires on contact_requested",
        "trigger `demo_request`: now hands the lead to sales (tier 2) "
        "(was: hands the lead to sales (tier 1))",
        "trigger `demo_request`: cooldown: none → 2 days",
    ]


def test_a_step_of_another_kind_says_what_it_does_now_and_did_before() -> None:
    edited = welcome(send("hello", "welcome_intro"), wait("pause", days=5),
                     wait_for("value", on("email_clicked", goto="done"), timeout=days(3)),
                     end("done", "welcome finished"))
    assert [change.text for change in diff_tracks(welcome(), edited)] == [
        "step `value`: now waits up to 3 days for email_clicked "
        "(was: sends template `activation_value`)"]


def test_changed_points_and_thresholds_read_old_to_new() -> None:
    old = ScoringModel(intent=IntentRules(points={"demo_requested": 40}), mql=60)
    new = ScoringModel(intent=IntentRules(points={"demo_requested": 50}), mql=65)
    assert said(book(scoring=old), book(scoring=new)) == [
        "intent points for demo_requested: 40 → 50",
        "MQL threshold: 60 → 65",
    ]


def test_a_wait_for_listening_for_more_events_says_which() -> None:
    old = pricing()
    new = track("pricing", phase="acceleration", steps=[
        send("proof", "pricing_proof"),
        wait_for("listen", on("demo_page_viewed", "pricing_page_viewed", goto="hand_over"),
                 timeout=days(5)),
        end("done", "pricing finished"),
        escalate("hand_over", "looked at the demo page", tier=2),
    ])
    assert [change.text for change in diff_tracks(old, new)] == [
        "step `listen`: now also listens for pricing_page_viewed"]


def test_a_changed_branch_condition_and_a_new_successor_read_as_such() -> None:
    def check(threshold: int, *steps: object) -> TrackSpec:
        return track("check", phase="qualification", steps=[
            branch("check", when(score("intent").at_least(threshold), goto="hot")),
            *steps,  # type: ignore[list-item]
            escalate("hot", "intent is high"),
        ])

    old = check(20, send("nudge", "nudge"), send("story", "story"), end("done", "quiet"))
    new = check(30, send("story", "story", then="nudge"), send("nudge", "nudge", then="done"),
                end("done", "quiet"))
    assert [change.text for change in diff_tracks(old, new)] == [
        "step `check`: goes to `hot` if intent score is at least 30 (was: if intent score is "
        "at least 20)",
        "steps reordered: `story` now follows `check` otherwise (instead of `nudge`)",
        "steps reordered: `done` now follows `nudge` (instead of `story`)",
        "steps reordered: `nudge` now follows `story` (instead of `done`)",
    ]


def test_sales_policy_changes_are_summarised() -> None:
    old = SalesPolicy()
    new = SalesPolicy(on_reject={**old.on_reject,
                                 RejectReason.BUDGET: move_on_reject("welcome")},
                      max_reroutes=2)
    assert said(book(sales=old), book(sales=new)) == [
        "re-routes per breached task: 1 → 2",
        "after a reject for budget not realistic: back to nurture on the default track → "
        "back to nurture on track welcome",
    ]


def test_a_silence_rule_change_reads_old_to_new() -> None:
    old = book().model_copy(update={"silence": SilenceRule(after=days(21), track="welcome")})
    new = old.model_copy(update={"silence": SilenceRule(after=days(30), track="welcome")})
    assert said(old, new) == ["quiet period: 21 days → 30 days"]


def test_render_groups_changes_by_area_then_by_subject() -> None:
    edited = welcome(send("hello", "welcome_intro_v2"), wait("pause", days=7),
                     send("value", "activation_value"), end("done", "welcome finished"))
    diff = diff_playbooks(book(), book(edited, scoring=ScoringModel(mql=65)))
    assert diff.lines() == [
        "Tracks",
        "  track `welcome`:",
        "    step `hello`: sends template `welcome_intro_v2` instead of `welcome_intro`",
        "    step `pause`: waits 7 days instead of 5 days",
        "Templates",
        "  template `welcome_intro`: no longer used",
        "  template `welcome_intro_v2`: now used",
        "Scoring",
        "  MQL threshold: 60 → 65",
    ]
    assert diff.render().splitlines()[0] == f"Playbook {book().version} → {diff.new_version}"


def test_step_mapping_keeps_surviving_steps_and_marks_removed_ones_none() -> None:
    edited = welcome(send("hello", "welcome_intro"), send("value", "activation_value"),
                     end("done", "welcome finished"))
    assert step_mapping(welcome(), edited) == {
        "hello": "hello", "pause": None, "value": "value", "done": "done"}


def test_the_shipped_playbook_compared_with_itself_is_empty() -> None:
    assert diff_playbooks(PLAYBOOK, PLAYBOOK).is_empty


def test_one_step_changed_in_the_shipped_playbook_is_exactly_one_change() -> None:
    education = PLAYBOOK.track("education")
    steps = [step.model_copy(update={"duration": days(10)}) if step.id == "w1" else step
             for step in education.steps]
    edited = PLAYBOOK.model_copy(update={"tracks": {
        **PLAYBOOK.tracks, "education": education.model_copy(update={"steps": steps})}})
    assert said(PLAYBOOK, edited) == [
        "track `education`: step `w1`: waits 10 days instead of 8 days"]
