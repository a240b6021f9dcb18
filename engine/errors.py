"""One error root for the engine.

    NurtureError
    ├── TrackError          a track or playbook definition is invalid (names track, step, fix)
    ├── PlaybookError       a trigger, condition or name in a playbook is invalid (names it)
    ├── TemplateError       a template is missing or fails to render
    ├── ScenarioError       a simulation scenario is malformed (names the field)
    ├── ConfigError         a setting is missing or has a bad value
    │   └── SchemaError     the database schema is not the one this code needs (names the command)
    ├── PayloadError        an HTTP request body is malformed (names the field)
    └── DeliveryError       an email could not be delivered
        └── PermanentDeliveryError   retrying will not help (5.x.x, suppressed address)
            └── OutcomeUnknownError  cut off while the message went out (may have arrived)

Activities turn permanent errors into non-retryable failures; everything else retries.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class NurtureError(Exception):
    """Root of every error the engine raises on purpose."""


def did_you_mean(name: str, choices: Iterable[str], *, cutoff: float = 0.5) -> str:
    """"did you mean 'x'? " for the choice closest to a misspelled `name`, or ""."""
    close = difflib.get_close_matches(name, sorted(choices), n=1, cutoff=cutoff)
    return f"did you mean {close[0]!r}? " if close else ""


class TrackError(NurtureError):
    """A track definition is invalid; the message names the track, the step and the fix."""

    def __init__(self, track: str, problem: str, *, step: str | None = None, fix: str = "") -> None:
        self.track, self.step, self.problem, self.fix = track, step, problem, fix
        where = f"track {track!r}" + (f", step {step!r}" if step else "")
        super().__init__(f"{where}: {problem}" + (f" — fix: {fix}" if fix else ""))


class PlaybookError(NurtureError, ValueError):
    """A playbook definition outside a track's steps (a trigger, a condition) is invalid;
    the message names it and what would be valid."""


class TemplateError(NurtureError):
    """A template is missing or cannot be rendered."""


class ScenarioError(NurtureError):
    """A simulation scenario is malformed."""


class ConfigError(NurtureError):
    """A setting is missing or has a bad value."""


class SchemaError(ConfigError):
    """The database's schema is not at the revision this code needs; the message says which
    command brings it there (usually `nurture db upgrade`)."""


class PayloadError(NurtureError, ValueError):
    """A request body sent to the API is malformed; `field` says where (`batch[2].event`)."""

    def __init__(self, field: str, problem: str) -> None:
        self.field, self.problem = field, problem
        super().__init__(f"{field}: {problem}" if field else problem)


class DeliveryError(NurtureError):
    """An email could not be delivered (transient unless a subclass says otherwise)."""


class PermanentDeliveryError(DeliveryError):
    """Delivery failed in a way that retrying cannot fix."""

    def __init__(self, message: str, *, suppress: bool = False) -> None:
        self.suppress = suppress
        super().__init__(message)


class OutcomeUnknownError(PermanentDeliveryError):
    """The connection was lost while the message went out: it may have been delivered, so
    it is not retried (an operator may re-send it, see `nurture sends`)."""
