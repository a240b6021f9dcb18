"""The sales handoff: business hours, SLA tiers, routing, and where a lead goes when
sales gives it back.

Reject reasons map to a next step (`engine.feedback.RejectReason` lists them):
- timing not active → rest until the date the rep gives, then reactivation;
- budget not realistic → ROI and business-case content;
- no response after sequence → a short value-based follow-up (also what a task with no
  outcome in ten business days gets);
- wrong contact role → ask for the right person and watch the account;
- no business need → the slow six-weekly check-in;
- poor fit, student/vendor/competitor, unsupported geography, duplicate → suppressed.
"""

from datetime import date, time, timedelta

from engine.dsl import (
    BusinessHours,
    RejectReason,
    SalesPolicy,
    SlaTiers,
    days,
    end,
    escalate,
    move_on_reject,
    move_to,
    notify_sales,
    on,
    reactivate_on,
    send,
    suppress_on_reject,
    track,
    trigger,
    wait,
    wait_for,
)
from engine.dsl.events import BUYING_COMMITTEE_SIGNAL, EMAIL_REPLIED
from workflows.routing import ROUTING

# US office holidays; reps in other zones keep these days too unless ops list their own.
HOLIDAYS = [
    date(2026, 11, 26), date(2026, 11, 27), date(2026, 12, 24), date(2026, 12, 25),
    date(2027, 1, 1), date(2027, 1, 18), date(2027, 5, 31), date(2027, 7, 5),
    date(2027, 9, 6), date(2027, 11, 25), date(2027, 11, 26), date(2027, 12, 24),
]

BUDGET_BUSINESS_CASE = track(
    "budget_business_case", phase="conversion",
    description="Rejected on budget: the numbers and a business case the buyer can forward.",
    steps=[
        send("roi", "conv_roi_data"),
        wait("w1", days=7),
        send("business_case", "conv_business_case"),
        wait("w2", days=14),
        move_to("slow_down", "timing_stuck", "business case delivered"),
    ],
)

NO_RESPONSE_FOLLOW_UP = track(
    "no_response_follow_up", phase="conversion",
    description="Sales could not reach the lead: one short, useful note, then a slower pace.",
    steps=[
        send("value_note", "followup_value_note"),
        wait_for("listen", on(EMAIL_REPLIED, goto="replied"), timeout=days(14)),
        move_to("slow_down", "timing_stuck", "no reply to the follow-up"),
        escalate("replied", "replied to the follow-up after sales could not reach them",
                 tier=2),
    ],
)

RIGHT_PERSON = track(
    "right_person", phase="conversion",
    description="Wrong contact: ask who owns the problem, and tell sales when someone else "
                "from the account shows up.",
    steps=[
        send("ask", "followup_right_person"),
        wait_for("listen", on(EMAIL_REPLIED, goto="replied"), timeout=days(120)),
        end("quiet", "no answer about the right person in 120 days"),
        escalate("replied", "answered who the right person is", tier=2),
    ],
    triggers=[trigger("account_watch", on=[BUYING_COMMITTEE_SIGNAL], cooldown=days(7),
                      then=[notify_sales("a new contact at this account is engaging; the "
                                         "earlier contact was the wrong role")])],
)

SALES_TRACKS = [BUDGET_BUSINESS_CASE, NO_RESPONSE_FOLLOW_UP, RIGHT_PERSON]

SALES = SalesPolicy(
    hours=BusinessHours(timezone="America/New_York", opens=time(9), closes=time(17),
                        holidays=HOLIDAYS),
    tiers=SlaTiers(tier_1=timedelta(minutes=30), tier_3_days=3, follow_up_days=10),
    routing=ROUTING,
    on_reject={
        RejectReason.TIMING: reactivate_on("reactivation"),
        RejectReason.BUDGET: move_on_reject("budget_business_case"),
        RejectReason.NO_RESPONSE: move_on_reject("no_response_follow_up"),
        RejectReason.WRONG_CONTACT: move_on_reject("right_person"),
        RejectReason.NO_NEED: move_on_reject("timing_stuck"),
        RejectReason.POOR_FIT: suppress_on_reject(),
        RejectReason.NOT_A_BUYER: suppress_on_reject(),
        RejectReason.GEOGRAPHY: suppress_on_reject(),
        RejectReason.DUPLICATE: suppress_on_reject(),
    },
    # Recycled without a reason: rest until the rep's date (if any), then reactivation.
    on_recycle=reactivate_on("reactivation", needs_date=False),
    max_reroutes=1,
)
