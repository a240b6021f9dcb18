"""The track DSL: Python builders that compile to versioned, JSON-ready specs."""

from engine.business_hours import BusinessHours
from engine.dsl.builders import (
    all_of,
    any_of,
    attribute,
    branch,
    days,
    disqualified,
    end,
    escalate,
    escalate_now,
    fit_is,
    go_to,
    hours,
    in_phase,
    matches_lead,
    move_to,
    not_,
    notify_sales,
    on,
    playbook,
    route,
    score,
    seen,
    send,
    send_email,
    suppress,
    suppress_now,
    track,
    trigger,
    wait,
    wait_for,
    when,
)
from engine.dsl.conditions import Condition, Facts, evaluate, event_matches
from engine.dsl.pages import PageRule, page, page_event_type
from engine.dsl.sales import (
    NextStep,
    SalesPolicy,
    move_on_reject,
    reactivate_on,
    suppress_on_reject,
)
from engine.dsl.spec import (
    Cadence,
    PlaybookSpec,
    SilenceRule,
    Step,
    TrackSpec,
    Trigger,
)
from engine.dsl.validate import validate_playbook, validate_track
from engine.feedback import RejectReason
from engine.routing import Rep, RoutingRules
from engine.scoring import (
    FitRules,
    IntentRules,
    NegativeRule,
    RelationshipRules,
    ScoringModel,
    SizeBand,
    TitleRule,
)
from engine.sla import SlaTiers

__all__ = [
    "BusinessHours", "RejectReason", "Rep", "RoutingRules", "SlaTiers",
    "NextStep", "SalesPolicy", "move_on_reject", "reactivate_on", "suppress_on_reject",
    "Cadence", "Condition", "Facts", "FitRules", "IntentRules", "NegativeRule", "PageRule",
    "PlaybookSpec", "RelationshipRules", "ScoringModel", "SilenceRule", "SizeBand",
    "Step", "TitleRule", "TrackSpec", "Trigger", "all_of", "any_of", "attribute", "branch",
    "days", "disqualified", "end", "escalate", "escalate_now", "evaluate", "event_matches",
    "fit_is", "go_to", "hours", "in_phase", "matches_lead", "move_to", "not_", "notify_sales",
    "on", "page", "page_event_type", "playbook", "route", "score", "seen", "send", "send_email",
    "suppress", "suppress_now", "track", "trigger", "validate_playbook", "validate_track",
    "wait", "wait_for", "when",
]
