"""Re-engagement after 21 quiet days, and reactivation 60-90 days after a lead went dark."""

from engine.dsl import (
    branch,
    days,
    end,
    move_to,
    on,
    score,
    seen,
    send,
    track,
    wait_for,
    when,
)
from engine.dsl.events import EMAIL_CLICKED, EMAIL_REPLIED, PRICING_PAGE_VIEWED
from workflows.signals import ACTIVE_ENGAGEMENT

RE_ENGAGEMENT = track(
    "re_engagement", phase="re_engagement",
    description="No opens or clicks for 21 days: stop the main sequence, try a new angle, "
                "offer fewer emails, then close politely. Dark at day 60 -> reactivation.",
    steps=[
        send("new_angle", "reengage_new_angle"),
        wait_for("after_angle", on(*ACTIVE_ENGAGEMENT, goto="welcome_back"), timeout=days(10)),
        send("preferences", "reengage_preferences"),
        wait_for("after_prefs", on(*ACTIVE_ENGAGEMENT, goto="welcome_back"), timeout=days(10)),
        send("last_note", "reengage_last_note"),
        wait_for("after_last", on(*ACTIVE_ENGAGEMENT, goto="welcome_back"), timeout=days(19)),
        move_to("gone_dark", "reactivation", "dark for 60 days"),
        branch("welcome_back", when(score("intent").at_least(20), goto="back_to_proof"),
               otherwise="back_to_learning"),
        move_to("back_to_proof", "acceleration", "re-engaged with buying interest"),
        move_to("back_to_learning", "education", "re-engaged"),
    ],
)

REACTIVATION = track(
    "reactivation", phase="reactivation",
    description="Acknowledge the gap, lead with something new, offer an easy way back; "
                "previously engaged and never engaged leads get different angles.",
    steps=[
        branch("history", when(seen(EMAIL_CLICKED, EMAIL_REPLIED, PRICING_PAGE_VIEWED),
                               goto="engaged_angle"), otherwise="fresh_angle"),
        send("engaged_angle", "reactivate_engaged", then="listen"),
        send("fresh_angle", "reactivate_never_engaged"),
        wait_for("listen", on(*ACTIVE_ENGAGEMENT, goto="back"), timeout=days(30)),
        end("rest", "no response to reactivation"),
        move_to("back", "education", "came back after reactivation"),
    ],
)
