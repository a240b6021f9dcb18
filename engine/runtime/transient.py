"""A delivery that failed for now (an SMTP 4xx, a webhook endpoint down): one log line, and
a retry by Temporal that writes no traceback.

An expected, retried refusal is not an error: the worker's log says once per attempt what
was refused, by whom and which attempt it was, and Temporal retries the activity under its
retry policy. Unexpected exceptions keep their tracebacks.
"""

from __future__ import annotations

from temporalio import activity
from temporalio.exceptions import ApplicationError, ApplicationErrorCategory

from engine.errors import DeliveryError


def retry_later(err: DeliveryError, what: str) -> ApplicationError:
    """Log the refusal in one line and return the error to raise: Temporal retries the
    activity and, the error being benign, logs it without a traceback."""
    attempt = activity.info().attempt
    # repr: ids and server replies may carry newlines or escape codes; a log line stays one
    activity.logger.warning("%s not delivered on attempt %d, will retry: %r", what, attempt,
                            str(err))
    return ApplicationError(str(err), type=type(err).__name__,
                            category=ApplicationErrorCategory.BENIGN)
