"""An email the SMTP server refuses for now is retried by Temporal, logged once per attempt
in one line with the server's answer, and sent once when the server takes it."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import pytest
from temporalio.exceptions import ApplicationError, ApplicationErrorCategory
from temporalio.testing import ActivityEnvironment

from engine.errors import DeliveryError
from engine.leads import LeadProfile
from engine.mail import MemoryTransport
from engine.runtime.models import SendEmailInput
from engine.settings import Settings
from engine.store import Store
from worker.assembly import build_activities

NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)


async def test_a_refusal_for_now_is_one_log_line_and_a_quiet_retry(
        caplog: pytest.LogCaptureFixture) -> None:
    store, transport = Store.temporary(), MemoryTransport()
    activities = build_activities(Settings(), store, transport).nurture
    send = SendEmailInput(key="ana\n:welcome", template="welcome_confirmation",
                          track="welcome", step="confirm", now=NOW,
                          lead=LeadProfile(id="ana\n", email="ana@acme.io", first_name="Ana"))
    transport.fail_next(DeliveryError("SMTP 451 4.7.1 greylisted, try again later"))

    with caplog.at_level(logging.DEBUG, logger="temporalio"), \
            pytest.raises(ApplicationError) as refused:
        await ActivityEnvironment().run(activities.send_email, send)

    assert refused.value.category == ApplicationErrorCategory.BENIGN  # no traceback logged
    assert refused.value.type == "DeliveryError" and "451 4.7.1" in refused.value.message
    (line,) = [r for r in caplog.records if r.levelno >= logging.WARNING]
    text = line.getMessage()
    assert "not delivered on attempt 1, will retry" in text and "451 4.7.1" in text
    assert line.exc_info is None and "\n" not in text  # the lead's id stays on one line
    assert (await ActivityEnvironment().run(activities.send_email, send)).status == "sent"
    assert len(transport.sent) == 1
    store.dispose()
