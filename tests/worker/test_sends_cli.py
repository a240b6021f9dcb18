"""`nurture sends …`: an operator lists the emails a crash left with an unknown outcome and
re-sends the one that did not arrive: the very message, once, never to a suppressed address."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import Result
from typer.testing import CliRunner

from engine.mail import SenderIdentity, compose, make_message_id
from engine.mail.render import RenderedEmail
from engine.store import Store
from tests.engine.mail.conftest import LocalSMTPServer
from worker.cli import app

NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
EVIL = "Ada \x1b[2J\x1b]0;owned\x07"


def unknown_send(store: Store, key: str, to: str, *, subject: str = "Welcome") -> bytes:
    """A send whose attempt died while its message went out."""
    message = compose(RenderedEmail(subject=subject, text="Hello\n", html="<p>Hello</p>"), to=to,
                      sender=SenderIdentity(), message_id=make_message_id(key, "acme.io"),
                      unsubscribe_url="https://x.test/u/t", unsubscribe_mailto="mailto:u@x.test")
    fields = {"key": key, "lead_id": "lead-1", "to_address": to, "template": "welcome",
              "track": "welcome", "step": "one", "subject": subject,
              "message_id": str(message["Message-ID"]), "now": NOW}
    assert store.begin_send(**fields, message=message.as_bytes()) == "send"
    assert store.commit_send(key)
    assert store.begin_send(**fields) == "unknown"  # the retry after the crash
    return message.as_bytes()


@pytest.fixture(name="smtp")
def fixture_smtp() -> Iterator[LocalSMTPServer]:
    with LocalSMTPServer() as server:
        yield server


@pytest.fixture(name="env")
def fixture_env(tmp_path: Path, smtp: LocalSMTPServer) -> Iterator[dict[str, str]]:
    url = f"sqlite:///{tmp_path}/nurture.db"
    Store(url, upgrade=True).dispose()
    yield {"NURTURE_DATABASE_URL": url, "NURTURE_SMTP_HOST": "127.0.0.1",
           "NURTURE_SMTP_PORT": str(smtp.port), "COLUMNS": "200"}


def nurture(env: dict[str, str], *args: str) -> Result:
    return CliRunner().invoke(app, ["sends", *args], env=env)


def test_unknown_outcomes_are_listed_with_lead_text_escaped(env: dict[str, str]) -> None:
    store = Store(env["NURTURE_DATABASE_URL"])
    unknown_send(store, "lead-1:welcome", "ada@acme.io", subject=EVIL)
    store.dispose()

    listed = nurture(env, "unknown")

    assert listed.exit_code == 0, listed.output
    assert "lead-1:welcome" in listed.stdout and "1 of 1 emails" in listed.stdout
    assert "\x1b" not in listed.stdout and "\x07" not in listed.stdout
    assert "\\x1b[2J" in listed.stdout  # shown, not obeyed
    assert nurture(env, "unknown", "--json").stdout.count('"resendable": true') == 1


def test_a_resend_delivers_the_kept_message_once(env: dict[str, str],
                                                 smtp: LocalSMTPServer) -> None:
    store = Store(env["NURTURE_DATABASE_URL"])
    kept = unknown_send(store, "lead-1:welcome", "ada@acme.io")

    sent = nurture(env, "resend", "lead-1:welcome")
    again = nurture(env, "resend", "lead-1:welcome")

    assert sent.exit_code == 0, sent.output
    assert "Re-sent lead-1:welcome to ada@acme.io" in sent.stdout
    assert again.exit_code == 1 and "no email send 'lead-1:welcome' has an unknown" in \
        again.stderr
    (delivered,) = smtp.handler.messages
    message_id = next(line for line in kept.splitlines() if line.startswith(b"Message-ID:"))
    assert message_id in delivered.splitlines()  # the very message, same Message-ID
    row = store.get_send("lead-1:welcome")
    assert row is not None and (row.status, row.message) == ("sent", None)
    assert store.count_unknown_sends() == 0
    store.dispose()


def test_a_resend_to_an_address_suppressed_since_is_refused(env: dict[str, str],
                                                            smtp: LocalSMTPServer) -> None:
    store = Store(env["NURTURE_DATABASE_URL"])
    unknown_send(store, "lead-1:welcome", "ada@acme.io")
    store.suppress("ada@acme.io", lead_id="lead-1", reason="unsubscribed", now=NOW)

    refused = nurture(env, "resend", "lead-1:welcome")

    assert refused.exit_code == 1 and "ada@acme.io is suppressed (unsubscribed)" in \
        refused.stderr
    assert smtp.handler.messages == []
    assert store.count_unknown_sends() == 1  # still listed for the record
    store.dispose()


def test_the_resend_of_a_send_that_is_not_unknown_says_so(env: dict[str, str]) -> None:
    refused = nurture(env, "resend", "nope\x1b[2J")

    assert refused.exit_code == 1 and "no email send" in refused.stderr
    assert "\x1b" not in refused.stderr
