"""Conversion: remove friction for the objection-stuck, slow down for the timing-stuck,
and answer each 'almost ready' pattern with the proof it needs."""

from engine.dsl import (
    branch,
    days,
    end,
    move_to,
    not_,
    seen,
    send,
    track,
    wait,
    when,
)
from workflows.signals import ENGAGEMENT

OBJECTION_STUCK = track(
    "objection_stuck", phase="conversion",
    description="Proof that removes friction: onboarding timelines, ROI data, implementation.",
    steps=[
        send("onboarding", "conv_onboarding_timeline"),
        wait("w1", days=7),
        send("roi_data", "conv_roi_data"),
        wait("w2", days=7),
        send("implementation", "conv_implementation_guide"),
        wait("w3", days=14),
        move_to("slow_down", "timing_stuck", "objection proof delivered"),
    ],
)

TIMING_STUCK = track(
    "timing_stuck", phase="conversion",
    description="Not now is not never: one light touch every six weeks while they still "
                "engage at all.",
    steps=[
        send("checkin", "conv_timing_checkin"),
        wait("quiet", days=45),
        branch("still_there", when(not_(seen(*ENGAGEMENT, within=days(120))), goto="done"),
               otherwise="checkin"),
        end("done", "no engagement for 120 days in timing nurture"),
    ],
)

ALMOST_PRICING = track(
    "almost_pricing", phase="conversion",
    description="Clicked pricing but did not book: proof, not pressure.",
    steps=[
        send("proof", "conv_pricing_proof"),
        wait("w1", days=7),
        send("roi_data", "conv_roi_data"),
        wait("w2", days=10),
        move_to("slow_down", "timing_stuck", "pricing proof delivered"),
    ],
)

ALMOST_WEBINAR = track(
    "almost_webinar", phase="conversion",
    description="Attended the webinar but ignored the follow-up: its sharpest takeaway.",
    steps=[
        send("takeaway", "conv_webinar_takeaway",
             takeaway="forecast accuracy improves fastest when stage exit criteria are written "
                      "down"),
        wait("w1", days=10),
        move_to("slow_down", "timing_stuck", "webinar takeaway delivered"),
    ],
)

ALMOST_CASE_STUDIES = track(
    "almost_case_studies", phase="conversion",
    description="Read case studies but never replied: make the internal sell easy.",
    steps=[
        send("exec_summary", "conv_exec_summary"),
        wait("w1", days=6),
        send("comparison", "conv_comparison_guide"),
        wait("w2", days=7),
        send("business_case", "conv_business_case"),
        wait("w3", days=10),
        move_to("slow_down", "timing_stuck", "business-case kit delivered"),
    ],
)
