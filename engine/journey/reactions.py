"""How a lead reacts to an event: recorded once, rescored, triggers fired, interrupts wanted.

No Temporal here: everything takes the state and `now` and says what should happen; the
workflow does it.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from datetime import datetime

from engine.dsl.conditions import MOST_COUNTED, Facts, evaluate, event_matches
from engine.dsl.spec import (
    Action,
    EscalateAction,
    EventBranch,
    PlaybookSpec,
    SuppressAction,
    TrackSpec,
    Trigger,
)
from engine.events import EMAIL_BOUNCED, UNSUBSCRIBED, Event
from engine.journey import dedupe
from engine.journey.journal import note_scores
from engine.journey.state import LeadState, SeenIds
from engine.leads import NURTURE_PHASES, Phase
from engine.scoring import Scores, Tally, readiness, score, score_tallied, tally_add, tally_of

MAX_EVENTS = 500
MAX_SEEN_IDS = 5_000
MAX_EMAILS = 200
# With constant cost: the events a lead keeps for conditions and the handoff, newest first
# within each type (a flood of one type never pushes out the rest), and in all.
KEEP_PER_TYPE = MOST_COUNTED
KEEP_EVENTS = 100
# Interrupts by precedence: suppress beats escalate beats move.
PRIORITY = {"suppress": 0, "escalate": 1, "move": 2}
QUIET_PHASES = frozenset({Phase.SUPPRESSED, Phase.SALES, Phase.SQL})
# What a trigger may still do while the lead is with sales: make the task more urgent, or
# tell its owner (no email goes to the lead then).
SALES_ACTIONS = frozenset({"escalate", "notify_sales"})


def current_track(state: LeadState) -> TrackSpec | None:
    """The track the lead runs, if any."""
    if state.position is None:
        return None
    return state.playbook.tracks.get(state.position.track)


def facts(state: LeadState, now: datetime) -> Facts:
    """A snapshot for conditions."""
    return Facts(lead=state.lead, scores=state.scores.as_dict(), fit_tier=state.scores.fit_tier,
                 flags=state.scores.flags, phase=state.phase, events=state.events, now=now)


def rescore(state: LeadState, now: datetime) -> Scores:
    """Scores as of `now`."""
    if state.constant_cost:
        return score_tallied(state.lead, _tally(state, now), now=now,
                             enrolled_at=state.enrolled_at, model=state.playbook.scoring)
    return score(state.lead, state.events, now=now, enrolled_at=state.enrolled_at,
                 model=state.playbook.scoring, intent_since=state.intent_since)


def _tally(state: LeadState, now: datetime) -> Tally:
    """The lead's running sums, counted afresh from the events it keeps when there are
    none yet or the scoring model changed, and with intent restarted when sales handed the
    lead back (`intent_since`)."""
    tally, model = state.tally, state.playbook.scoring
    if tally is None or tally.version != state.playbook.version:
        tally = tally_of(state.events, model, now, since=state.intent_since)
        tally.version = state.playbook.version
    elif tally.since != state.intent_since:
        fresh = tally_of(state.events, model, now, since=state.intent_since)
        tally.since, tally.at, tally.intent = fresh.since, fresh.at, fresh.intent
    state.tally = tally
    return tally


def entry_track(playbook: PlaybookSpec, state: LeadState, now: datetime) -> str:
    """The first entry rule that matches the new lead, else the default track."""
    snapshot = facts(state, now)
    for rule in playbook.entry:
        if evaluate(rule.when, snapshot):
            return rule.track
    return playbook.default_track


def accept(state: LeadState, event: Event, now: datetime) -> bool:
    """Record an event once; False when its id was already applied."""
    if state.constant_cost:
        if state.seen is None:
            state.seen = SeenIds()
            for old_id in state.seen_ids:
                dedupe.first_time(state.seen, old_id, now)
            state.seen_ids = []
        if not dedupe.first_time(state.seen, event.id, now):
            return False
        tally_add(_tally(state, now), event, state.playbook.scoring, now)
        keep(state.events, event)
    else:
        if event.id in state.seen_ids:
            return False
        state.seen_ids.append(event.id)
        del state.seen_ids[:-MAX_SEEN_IDS]
        state.events.append(event)
        state.events.sort(key=lambda e: e.at)
        del state.events[:-MAX_EVENTS]
    state.event_count += 1
    silence = state.playbook.silence
    if silence is not None and event.type in silence.engagement \
            and event.properties.get("bot") is not True:
        if state.last_engagement_at is None or event.at > state.last_engagement_at:
            state.last_engagement_at = event.at
    return True


def keep(events: list[Event], event: Event) -> None:
    """Add `event` to the events a lead keeps (oldest first): at most KEEP_PER_TYPE of a
    type and KEEP_EVENTS in all, the oldest going first."""
    at = bisect.bisect_right([e.at for e in events], event.at)
    events.insert(at, event)
    same = [i for i, e in enumerate(events) if e.type == event.type]
    if len(same) > KEEP_PER_TYPE:
        del events[same[0]]
    del events[:-KEEP_EVENTS]


def _trigger_applies(trigger: Trigger, state: LeadState, event: Event, now: datetime) -> bool:
    if not event_matches(event, trigger.on, trigger.where):
        return False
    if trigger.phases:
        if state.phase not in trigger.phases:
            return False
    elif state.phase in QUIET_PHASES and not (
            state.phase == Phase.SALES and any(a.kind in SALES_ACTIONS for a in trigger.actions)):
        return False  # with sales, only a hand-raise or news for the owner still counts
    fired = state.fired.get(trigger.name)
    if fired is not None:
        if trigger.once:
            return False
        if trigger.cooldown is not None and now - fired < trigger.cooldown:
            return False
    return trigger.when is None or evaluate(trigger.when, facts(state, now))


def triggers_for(state: LeadState, event: Event, now: datetime) -> list[Trigger]:
    """Triggers this event fires: the current track's first, then the playbook's."""
    track = current_track(state)
    candidates = list(track.triggers if track and state.phase in NURTURE_PHASES else [])
    candidates += state.playbook.triggers
    return [t for t in candidates if _trigger_applies(t, state, event, now)]


def silence_deadline(state: LeadState) -> datetime | None:
    """When the silence rule moves an engaged-then-quiet lead to re-engagement."""
    rule = state.playbook.silence
    if rule is None or state.last_engagement_at is None or state.position is None:
        return None
    if state.phase not in rule.phases or state.position.track == rule.track:
        return None
    return state.last_engagement_at + rule.after


@dataclass
class Reaction:
    """What one event asks for: interrupts (in the order wanted), actions that interrupt
    nothing (an email, a note to sales), and the waiting branch it answers, if any."""

    wants: list[Action] = field(default_factory=list)
    side: list[Action] = field(default_factory=list)
    matched: EventBranch | None = None


def react(state: LeadState, event: Event, now: datetime,
          listening: list[EventBranch]) -> Reaction:
    """Apply one event to the state and say what it asks for."""
    reaction = Reaction()
    if not accept(state, event, now):
        return reaction
    if event.type == "buying_committee_signal" and "contact_id" in event.properties:
        contact = str(event.properties["contact_id"])
        if contact not in state.committee:
            state.committee.append(contact)
    before = state.scores
    state.scores = rescore(state, now)
    note_scores(state, before, now)
    if state.phase == Phase.SUPPRESSED:
        return reaction
    if event.type == UNSUBSCRIBED:
        reaction.wants.append(SuppressAction(reason="unsubscribed"))
        return reaction
    if event.type == EMAIL_BOUNCED and event.properties.get("hard", True):
        reaction.wants.append(SuppressAction(reason="hard bounce"))
        return reaction
    for trigger in triggers_for(state, event, now):
        state.fired[trigger.name] = now
        for action in trigger.actions:
            if state.phase == Phase.RECYCLED and action.kind != "escalate":
                continue  # a resting lead gets no email; a hand-raise still counts
            if state.phase == Phase.SALES and action.kind not in SALES_ACTIONS:
                continue  # with sales: no email, but the owner hears what happens
            (reaction.wants if action.kind in PRIORITY else reaction.side).append(action)
    reaction.matched = next((b for b in listening if event_matches(event, b.on, b.where)),
                            None)
    reaction.wants.extend(ready(state))
    return reaction


def ready(state: LeadState) -> list[Action]:
    """An escalation, when the scores make a nurtured lead sales-ready."""
    tier = readiness(state.scores, state.playbook.scoring)
    if tier is not None and state.phase in NURTURE_PHASES and state.escalation is None:
        return [EscalateAction(tier=tier, reason="sales-ready by score")]
    return []


def decisive(current: Action | None, action: Action) -> Action:
    """The more decisive of two interrupts: suppress beats escalate beats move, and of two
    escalations the more urgent tier (a demo request outranks a score crossing)."""
    if current is None or PRIORITY[action.kind] < PRIORITY[current.kind]:
        return action
    if isinstance(action, EscalateAction) and isinstance(current, EscalateAction) \
            and (action.tier or 4) < (current.tier or 4):
        return action
    return current
