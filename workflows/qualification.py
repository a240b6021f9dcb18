"""Qualification: learn fit, problem and role; never sell. Four entry paths."""

from engine.dsl import days, move_to, on, send, track, wait, wait_for
from engine.dsl.events import (
    CASE_STUDY_DOWNLOADED,
    CASE_STUDY_VIEWED,
    DEMO_PAGE_VIEWED,
    EMAIL_CLICKED,
    PRICING_PAGE_VIEWED,
    ROI_CALCULATOR_USED,
    WEBINAR_ATTENDED,
)

SALES_SIGNALS = (CASE_STUDY_VIEWED, CASE_STUDY_DOWNLOADED, DEMO_PAGE_VIEWED, PRICING_PAGE_VIEWED)

WEBINAR = track(
    "webinar_follow_up", phase="qualification",
    description="Webinar attendees: replay with one takeaway, a related resource, a case "
                "study. A case-study click or a demo/pricing visit hands them to acceleration.",
    steps=[
        # The webinar the lead attended names the replay (its `topic` and `takeaway`).
        send("replay", "webinar_replay", about=WEBINAR_ATTENDED),
        wait_for("after_replay", on(*SALES_SIGNALS, goto="sales_steps_in"), timeout=days(4)),
        send("related", "webinar_related_resource", about=WEBINAR_ATTENDED),
        wait_for("after_related", on(*SALES_SIGNALS, goto="sales_steps_in"), timeout=days(5)),
        send("case_study", "webinar_case_study"),
        wait_for("after_case_study",
                 on(*SALES_SIGNALS, goto="sales_steps_in"),
                 on(EMAIL_CLICKED, goto="sales_steps_in", template="webinar_case_study"),
                 timeout=days(7)),
        move_to("keep_learning", "education", "webinar follow-up finished"),
        move_to("sales_steps_in", "acceleration", "webinar attendee showed buying interest"),
    ],
)

PRICING_VISITOR = track(
    "pricing_visitor", phase="qualification",
    description="Came in through pricing: no beginner education. Proof first (case study, "
                "ROI, buying guide), then risk (implementation, onboarding, time-to-value).",
    steps=[
        send("proof", "pricing_case_study"),
        wait_for("after_proof", on(DEMO_PAGE_VIEWED, ROI_CALCULATOR_USED, goto="accelerate"),
                 timeout=days(3)),
        send("roi", "pricing_roi"),
        wait("after_roi", days=4),
        send("buying_guide", "pricing_buying_guide"),
        wait("after_guide", days=5),
        send("risk", "pricing_implementation"),
        wait("after_risk", days=7),
        move_to("accelerate", "acceleration", "pricing visitor worked through the proof"),
    ],
)

SYNDICATION = track(
    "content_syndication", phase="qualification",
    description="Syndicated leads barely remember us: remind them what they asked for, teach "
                "one idea, offer a diagnostic, then ask one soft segmentation question.",
    steps=[
        send("reminder", "syndication_reminder", asset="The Pipeline Leak Report"),
        wait("let_it_land", days=3),
        send("one_idea", "syndication_one_idea"),
        wait("after_idea", days=5),
        send("diagnostic", "syndication_diagnostic"),
        wait("after_diagnostic", days=6),
        send("segment", "syndication_segmentation"),
        wait("after_segment", days=7),
        move_to("keep_learning", "education", "syndication path finished"),
    ],
)

WELCOME = track(
    "welcome", phase="qualification",
    description="Days 0-7 of the 30/60/90 cadence: confirm what they signed up for, then one "
                "email of pure value.",
    steps=[
        send("confirm", "welcome_confirmation"),
        wait("settle", days=3),
        send("value", "activation_value"),
        wait("before_education", days=6),
        move_to("educate", "education", "activation week done"),
    ],
)
