"""The chaos run's playbook: every lead's journey over within seconds, so faults land on
work in flight and a drained run has nothing left to do.

    identify   → welcome_confirmation at once, a pause of PAUSE, activation_value, exit
    Demo Requested (at any point, also after the exit) → a tier-1 sales task and a notice
                 to its owner; a second hand-raise finds the task open and opens no other

Chaos pings (`chaos_ping`, no points) are behavior that moves nothing: they only have to
reach the lead's workflow. Sales is open around the clock with an SLA of hours, so no task
breaches during a run and each task has exactly one notice. Leads get a time zone where it
is daytime, and the frequency cap leaves room for every email of the journey.

The processes import it as `tests.chaos.playbook:PLAYBOOK` (NURTURE_PLAYBOOK), with the
repository root on their PYTHONPATH.
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
    days,
    end,
    escalate_now,
    playbook,
    send,
    track,
    trigger,
    wait,
)
from engine.dsl.events import DEMO_REQUESTED
from workflows import template_names

REFERENCE = "tests.chaos.playbook:PLAYBOOK"
"""How the processes name this playbook."""

PAUSE = timedelta(seconds=3)
"""The wait between a lead's two emails."""

PING = "chaos_ping"
"""A custom event worth nothing: it only has to arrive."""

INTRO, FOLLOW_UP = "welcome_confirmation", "activation_value"
"""The two emails of the journey, by template."""

REP, MANAGER = "cara", "max"

INTRO_TRACK = track(
    "chaos_intro", phase="qualification",
    description="Welcome at once, a short pause, one follow-up, then done.",
    steps=[send("hello", INTRO),
           wait("pause", hours=PAUSE / timedelta(hours=1)),
           send("follow_up", FOLLOW_UP),
           end("done", "both emails sent")],
)

ALWAYS_OPEN = BusinessHours(timezone="UTC", days=[0, 1, 2, 3, 4, 5, 6], opens=time(0),
                            closes=time(23, 59, 59, 999999))

SALES = SalesPolicy(
    hours=ALWAYS_OPEN,
    tiers=SlaTiers(tier_1=timedelta(hours=6), same_day_floor=timedelta(hours=6),
                   tier_3_days=2, follow_up_days=2),
    routing=RoutingRules(reps=[
        Rep(id=REP, name="Cara Diaz", email="cara@northwind.example", manager=MANAGER),
        Rep(id=MANAGER, name="Max Ito", email="max@northwind.example", role="manager"),
    ]),
)

PLAYBOOK = playbook(
    "chaos",
    tracks=[INTRO_TRACK],
    default_track="chaos_intro",
    triggers=[trigger("hand_raise", on=[DEMO_REQUESTED],
                      then=[escalate_now("asked for a demo", tier=1)])],
    cadence=Cadence(max_emails=10, per=days(1)),
    sales=SALES,
    custom_events={PING: 0},
    templates=template_names(),
)
