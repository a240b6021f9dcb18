"""A playbook on a short clock for the release upgrade test.

Its waits and its sales SLA last about a minute, so a lead enrolled on the previous release
is still waiting when that release's processes stop, and its timer fires on the current
code. Sales is open around the clock (UTC, every day, no holidays) and email may go out at
any hour, so nothing depends on when the test runs.

The upgrade test's processes import it as `upgrade_playbook:PLAYBOOK` with this folder on
their `PYTHONPATH`; it uses only `engine.dsl`, so it builds on the release's engine and on
the current one alike.
"""

from __future__ import annotations

from datetime import time, timedelta

from engine.dsl import (
    BusinessHours,
    Cadence,
    Rep,
    RoutingRules,
    SalesPolicy,
    SlaTiers,
    attribute,
    days,
    end,
    escalate,
    move_to,
    on,
    playbook,
    reactivate_on,
    route,
    send,
    track,
    wait,
    wait_for,
)
from engine.dsl.events import EMAIL_REPLIED

PAUSE = timedelta(seconds=60)
"""How long the waits and the tier-1 SLA last."""

REP, MANAGER = "rita", "mona"


def pause(id: str) -> object:
    """A wait of `PAUSE`."""
    return wait(id, hours=PAUSE / timedelta(hours=1))


WAITING = track(
    "waiting", phase="qualification",
    description="Mails, waits a minute, mails again.",
    steps=[send("hello", "welcome_confirmation"), pause("pause"),
           send("follow_up", "activation_value"), end("done", "waited and followed up")],
)

LISTENING = track(
    "listening", phase="qualification",
    description="Mails, then waits a day for a reply, which earns another email at once.",
    steps=[send("hello", "welcome_confirmation"),
           wait_for("listen", on(EMAIL_REPLIED, goto="answer"), timeout=days(1)),
           end("quiet", "no reply within a day"),
           send("answer", "education_pipeline"), end("answered", "replied")],
)

OPENING = track(
    "opening", phase="qualification",
    description="Mails, then moves to a track of another phase (a new run of the workflow).",
    steps=[send("hello", "welcome_confirmation"),
           move_to("onward", "onward", "qualified at once")],
)

ONWARD = track(
    "onward", phase="acceleration",
    description="Mails, waits a minute, mails again.",
    steps=[send("compare", "accel_comparison"), pause("pause"),
           send("follow_up", "activation_value"), end("done", "acceleration finished")],
)

HANDOVER = track(
    "handover", phase="qualification",
    description="Straight to sales, tier 1.",
    steps=[escalate("to_sales", "asked for sales on sign-up", tier=1)],
)

ALWAYS_OPEN = BusinessHours(timezone="UTC", days=[0, 1, 2, 3, 4, 5, 6], opens=time(0),
                            closes=time(23, 59, 59, 999999))

SALES = SalesPolicy(
    hours=ALWAYS_OPEN,
    tiers=SlaTiers(tier_1=PAUSE, same_day_floor=PAUSE, tier_3_days=1, follow_up_days=1),
    routing=RoutingRules(reps=[
        Rep(id=REP, name="Rita Reyes", email="rita@northwind.example", manager=MANAGER),
        Rep(id=MANAGER, name="Mona Park", email="mona@northwind.example", role="manager"),
    ]),
    on_recycle=reactivate_on("waiting", needs_date=False),
)

PLAYBOOK = playbook(
    "upgrade-test",
    tracks=[WAITING, LISTENING, OPENING, ONWARD, HANDOVER],
    entry=[route(attribute("source").is_(name), name)
           for name in ("waiting", "listening", "opening", "handover")],
    default_track="waiting",
    cadence=Cadence(max_emails=20, per=days(1), window_start_hour=0, window_end_hour=24),
    sales=SALES,
)
