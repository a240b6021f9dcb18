"""The Python API marketing ops write tracks with. Everything compiles to `engine.dsl.spec`.

    welcome = track(
        "welcome", phase="qualification",
        steps=[
            send("hello", "welcome_confirmation"),
            wait("pause", days=3),
            send("value", "activation_value"),
            end("done", "welcome finished"),
        ],
    )

Steps run in the order written unless a step says otherwise (`then=`, `goto=`).
Building validates at once and raises `TrackError` naming the track, the step and the fix.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import timedelta
from typing import Any, Literal

from engine.dsl import conditions as c
from engine.dsl.pages import PageRule
from engine.dsl.sales import SalesPolicy
from engine.dsl.spec import (
    BranchStep,
    Cadence,
    Case,
    EntryRule,
    EscalateAction,
    EscalateStep,
    EventBranch,
    ExitStep,
    MoveAction,
    MoveStep,
    NotifySalesAction,
    PlaybookSpec,
    SendAction,
    SendStep,
    SilenceRule,
    Step,
    SuppressAction,
    SuppressStep,
    TrackSpec,
    Trigger,
    WaitForStep,
    WaitStep,
)
from engine.dsl.validate import validate_playbook, validate_track
from engine.errors import PlaybookError, TrackError
from engine.events import CANONICAL_TYPES, normalize_event_type
from engine.leads import check_phase
from engine.scoring import ScoringModel

Tier = Literal[1, 2, 3]


def days(n: float) -> timedelta:
    """A duration in days."""
    return timedelta(days=n)


def hours(n: float) -> timedelta:
    """A duration in hours."""
    return timedelta(hours=n)


# --- steps -------------------------------------------------------------------------------


def send(id: str, template: str, *, then: str | None = None, about: str | None = None,
         **ctx: Any) -> SendStep:
    """Send the email template `template`; keyword arguments become `ctx` in the template.
    `about`: an event type; the template sees the lead's newest event of it as `event`."""
    return SendStep(id=id, template=template, ctx=ctx, next=then, about=about)


def wait(id: str, *, days: float = 0, hours: float = 0, then: str | None = None) -> WaitStep:
    """Pause for a while. Triggers still interrupt."""
    return WaitStep(id=id, duration=timedelta(days=days, hours=hours), next=then)


def on(*types: str, goto: str, **where: Any) -> EventBranch:
    """A way out of `wait_for`: an event of one of `types` (with matching properties)."""
    return EventBranch(on=list(types), where=where, next=goto)


def wait_for(id: str, *branches: EventBranch, timeout: timedelta,
             on_timeout: str | None = None) -> WaitForStep:
    """Wait for the first matching event; after `timeout` go to `on_timeout` (or the next step)."""
    return WaitForStep(id=id, branches=list(branches), timeout=timeout, on_timeout=on_timeout)


def when(condition: c.Condition, goto: str) -> Case:
    """A branch case."""
    return Case(when=condition, next=goto)


def branch(id: str, *cases: Case, otherwise: str | None = None) -> BranchStep:
    """Go to the first case that holds; otherwise to `otherwise` (or the next step)."""
    return BranchStep(id=id, cases=list(cases), otherwise=otherwise)


def move_to(id: str, track: str, reason: str) -> MoveStep:
    """Continue on another track (and in its phase)."""
    return MoveStep(id=id, track=track, reason=reason)


def escalate(id: str, reason: str, *, tier: Tier | None = None) -> EscalateStep:
    """Hand the lead to sales with a qualification reason; tier None = the tier scores earn."""
    return EscalateStep(id=id, tier=tier, reason=reason)


def suppress(id: str, reason: str) -> SuppressStep:
    """Stop all email to the lead."""
    return SuppressStep(id=id, reason=reason)


def end(id: str, reason: str) -> ExitStep:
    """Leave nurture (no more email from tracks; scoring and triggers go on)."""
    return ExitStep(id=id, reason=reason)


# --- conditions --------------------------------------------------------------------------


class _Measure:
    def __init__(self, make: Any) -> None:
        self._make = make

    def at_least(self, value: Any) -> c.Condition:
        """>= value."""
        return self._make("gte", value)  # type: ignore[no-any-return]

    def below(self, value: Any) -> c.Condition:
        """< value."""
        return self._make("lt", value)  # type: ignore[no-any-return]

    def is_(self, value: Any) -> c.Condition:
        """== value (text compares case-insensitively)."""
        return self._make("eq", value)  # type: ignore[no-any-return]

    def is_not(self, value: Any) -> c.Condition:
        """!= value."""
        return self._make("ne", value)  # type: ignore[no-any-return]

    def one_of(self, values: Iterable[Any]) -> c.Condition:
        """In a list of values."""
        return self._make("in", list(values))  # type: ignore[no-any-return]

    def contains(self, text: str) -> c.Condition:
        """Text contains `text`."""
        return self._make("contains", text)  # type: ignore[no-any-return]


def score(dimension: c.Dimension) -> _Measure:
    """A score dimension: `score("intent").at_least(40)`."""
    return _Measure(lambda op, v: c.ScoreIs(dimension=dimension, op=op, value=v))


def attribute(field: str) -> _Measure:
    """A lead attribute: `attribute("source").is_("webinar")`."""
    return _Measure(lambda op, v: c.AttributeIs(field=field, op=op, value=v))


def fit_is(*tiers: Literal["high", "medium", "low"]) -> c.Condition:
    """The fit tier is one of these."""
    return c.FitTierIs(tiers=list(tiers))


def seen(*types: str, at_least: int = 1, within: timedelta | None = None,
         **where: Any) -> c.Condition:
    """The lead did one of these things (at least n times, recently, with these properties)."""
    if not 1 <= at_least <= c.MOST_COUNTED:
        raise ValueError(f"seen(..., at_least={at_least}): a condition counts from 1 to "
                         f"{c.MOST_COUNTED} events of a type (a lead keeps the newest "
                         f"{c.MOST_COUNTED} of each)")
    return c.EventSeen(types=list(types), at_least=at_least, within=within, where=where)


def matches_lead(*types: str, property: str, attribute: str) -> c.Condition:
    """The newest such event's property equals the lead's attribute."""
    return c.PropertyMatchesLead(types=list(types), property=property, attribute=attribute)


def disqualified() -> c.Condition:
    """The lead is a student, competitor, job seeker or otherwise out."""
    return c.Disqualified()


def in_phase(*phases: str) -> c.Condition:
    """The lead is in one of these phases."""
    _phases(phases, f"in_phase({', '.join(map(repr, phases))})")
    return c.InPhase(phases=list(phases))


def _phases(phases: Sequence[str], where: str) -> None:
    for phase in phases:
        try:
            check_phase(phase)
        except ValueError as err:
            raise PlaybookError(f"{where}: {err}") from None


def all_of(*conditions: c.Condition) -> c.Condition:
    """All hold."""
    return c.AllOf(conditions=list(conditions))


def any_of(*conditions: c.Condition) -> c.Condition:
    """One holds."""
    return c.AnyOf(conditions=list(conditions))


def not_(condition: c.Condition) -> c.Condition:
    """Does not hold."""
    return c.Not(condition=condition)


# --- triggers ----------------------------------------------------------------------------


def go_to(track: str, reason: str) -> MoveAction:
    """Trigger action: interrupt and move to `track`."""
    return MoveAction(track=track, reason=reason)


def escalate_now(reason: str, *, tier: Tier | None = None) -> EscalateAction:
    """Trigger action: interrupt and hand to sales."""
    return EscalateAction(tier=tier, reason=reason)


def suppress_now(reason: str) -> SuppressAction:
    """Trigger action: interrupt and suppress."""
    return SuppressAction(reason=reason)


def send_email(template: str, **ctx: Any) -> SendAction:
    """Trigger action: send an email and carry on with the current step."""
    return SendAction(template=template, ctx=ctx)


def notify_sales(reason: str) -> NotifySalesAction:
    """Trigger action: alert sales and carry on."""
    return NotifySalesAction(reason=reason)


def trigger(name: str, *, on: Sequence[str], then: Sequence[Any],
            when: c.Condition | None = None, phases: Sequence[str] = (), once: bool = False,
            cooldown: timedelta | None = None, **where: Any) -> Trigger:
    """React the moment a matching event lands, whatever step the lead is on."""
    _phases(phases, f"trigger {name!r}")
    return Trigger(name=name, on=list(on), where=where, when=when, phases=list(phases),
                   actions=list(then), once=once, cooldown=cooldown)


# --- tracks and playbooks ----------------------------------------------------------------


def _link(steps: Sequence[Step]) -> list[Step]:
    """Fill in each step's default successor: the step written after it."""
    linked: list[Step] = []
    for index, step in enumerate(steps):
        following = steps[index + 1].id if index + 1 < len(steps) else None
        if isinstance(step, SendStep | WaitStep) and step.next is None:
            step = step.model_copy(update={"next": following})
        elif isinstance(step, WaitForStep) and step.on_timeout is None:
            step = step.model_copy(update={"on_timeout": following})
        elif isinstance(step, BranchStep) and step.otherwise is None:
            step = step.model_copy(update={"otherwise": following})
        linked.append(step)
    return linked


def track(name: str, *, phase: str, steps: Sequence[Step], triggers: Sequence[Trigger] = (),
          description: str = "") -> TrackSpec:
    """Build and validate a track."""
    if not name.replace("_", "").isalnum():
        raise TrackError(name, "has a name that is not a plain identifier",
                         fix="use letters, digits and underscores, e.g. 'webinar_follow_up'")
    spec = TrackSpec(name=name, phase=phase, description=description, steps=_link(steps),
                     triggers=list(triggers))
    validate_track(spec)
    return spec


def _with_custom_events(scoring: ScoringModel, custom: Mapping[str, float]) -> ScoringModel:
    for name in custom:
        if normalize_event_type(name) != name:
            raise PlaybookError(f"custom event {name!r}: an event type is lower_snake_case, "
                                f"e.g. {normalize_event_type(name)!r}")
        if name in CANONICAL_TYPES:
            raise PlaybookError(f"custom event {name!r} is a canonical event type; give it "
                                "points in scoring(intent=...) instead")
    if not custom:
        return scoring
    intent = scoring.intent.model_copy(update={"points": {**scoring.intent.points, **custom}})
    return scoring.model_copy(update={"intent": intent})


def route(when: c.Condition, track: str) -> EntryRule:
    """Entry rule: new leads matching `when` start on `track`."""
    return EntryRule(when=when, track=track)


def playbook(name: str, *, tracks: Sequence[TrackSpec], default_track: str,
             entry: Sequence[EntryRule] = (), triggers: Sequence[Trigger] = (),
             silence: SilenceRule | None = None, scoring: ScoringModel | None = None,
             cadence: Cadence | None = None, sales: SalesPolicy | None = None,
             templates: Iterable[str] | None = None,
             pages: Sequence[PageRule] = (),
             custom_events: Mapping[str, float] | None = None) -> PlaybookSpec:
    """Build and validate a whole playbook; pass `templates` to check every template name.

    Tracks, triggers and conditions may name the canonical event types and the playbook's
    custom events: `custom_events` declares them with their intent points (`{"trial_started":
    15}`), as `scoring` would; any other type is refused as a likely typo."""
    scoring = _with_custom_events(scoring or ScoringModel(), custom_events or {})
    by_name: dict[str, TrackSpec] = {}
    for spec in tracks:
        if spec.name in by_name:
            raise TrackError(spec.name, "is defined twice", fix="give each track its own name")
        by_name[spec.name] = spec
    built = PlaybookSpec(
        name=name, tracks=by_name, entry=list(entry), default_track=default_track,
        triggers=list(triggers), silence=silence, scoring=scoring,
        cadence=cadence or Cadence(), sales=sales or SalesPolicy(), pages=list(pages),
    )
    validate_playbook(built, templates)
    return built
