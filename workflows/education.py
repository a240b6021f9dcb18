"""The rest of the 30/60/90 cadence: education (8-30), consideration (31-60), decision (61-90).

Emails 7-15 days apart: nine touches in ninety days with the welcome week, never a burst.
"""

from engine.dsl import branch, move_to, score, send, track, wait, when

EDUCATION = track(
    "education", phase="qualification",
    description="Teach, then show proof, then make a low-friction offer. No pitch before day 30.",
    steps=[
        send("pipeline", "education_pipeline"),
        wait("w1", days=8),
        send("attribution", "education_attribution"),
        wait("w2", days=9),
        send("forecasting", "education_forecasting"),
        wait("w3", days=10),
        send("social_proof", "consideration_social_proof"),
        wait("w4", days=12),
        send("roi_comparison", "consideration_roi_comparison"),
        branch("interested_yet", when(score("intent").at_least(20), goto="to_acceleration")),
        wait("w5", days=15),
        send("audit_offer", "decision_audit_offer"),
        wait("w6", days=14),
        send("demo_offer", "decision_demo_offer"),
        wait("w7", days=14),
        move_to("slow_down", "timing_stuck", "90-day cadence finished without a decision"),
        move_to("to_acceleration", "acceleration", "intent grew during consideration"),
    ],
)
