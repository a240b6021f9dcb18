"""What the sales desk refuses, and the HTTP status each refusal stands for:

    DeskError
    ├── NotSignedIn        401  no token, or one the store does not know
    ├── NotAllowed         403  a rep asked for another rep's list; a manager dismissed
    │                           another rep's alert
    ├── TaskNotFound       404  no such task, or one the viewer may not see
    ├── TaskClosed         409  the task was already accepted, rejected, recycled or
    │                           dismissed
    ├── FeedbackRefused    409  the workflow turned the answer down, or the task takes no
    │                           such answer (nothing changed)
    ├── InvalidFeedback    422  the answer itself is malformed (names field and allowed values)
    └── DeskUnavailable    503  Temporal cannot be reached (nothing changed)
"""

from __future__ import annotations

from engine.errors import NurtureError


class DeskError(NurtureError):
    """A sales-desk request that cannot be served; `status` is its HTTP status."""

    status = 400

    def __init__(self, message: str, *, field: str | None = None,
                 allowed: list[str] | None = None) -> None:
        self.message, self.field, self.allowed = message, field, allowed
        super().__init__(message)


class NotSignedIn(DeskError):
    """No token, or a token the store does not know (or revoked)."""

    status = 401


class NotAllowed(DeskError):
    """A rep asked for something only a manager may see."""

    status = 403


class TaskNotFound(DeskError):
    """No such task — or one the viewer may not see, which must look the same."""

    status = 404


class TaskClosed(DeskError):
    """The task already has an outcome; the message says which, when and by whom."""

    status = 409


class FeedbackRefused(DeskError):
    """The lead's workflow refused the answer; nothing changed."""

    status = 409


class InvalidFeedback(DeskError):
    """The answer is malformed: a field is missing or holds a value that is not allowed."""

    status = 422


class DeskUnavailable(DeskError):
    """Temporal cannot be reached or did not answer in time; retry after `retry_after` s."""

    status = 503
    retry_after = 5
