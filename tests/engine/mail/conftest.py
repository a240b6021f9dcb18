"""Mail test fixtures: the shipped templates, throwaway template folders, an SMTP server."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from engine.mail import TemplateRenderer

REPO_TEMPLATES = Path(__file__).resolve().parents[3] / "templates"

LAYOUT_TXT = """Hi {{ lead.first_name or "there" }},
{% block body %}{% endblock %}
--
{{ sender.address }}
Unsubscribe: {{ unsubscribe_url }}
"""

LAYOUT_HTML = """<html><body>
<p>Hi {{ lead.first_name or "there" }},</p>
{% block body %}{% endblock %}
<p>{{ sender.address }} <a href="{{ unsubscribe_url }}">Unsubscribe</a></p>
</body></html>
"""


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Run any test that takes `template_name` once per shipped email template."""
    if "template_name" in metafunc.fixturenames:
        metafunc.parametrize("template_name", TemplateRenderer(REPO_TEMPLATES).names())


@pytest.fixture(name="templates_dir")
def fixture_templates_dir() -> Path:
    """The repository's templates folder."""
    return REPO_TEMPLATES


@pytest.fixture(name="renderer")
def fixture_renderer() -> TemplateRenderer:
    """The renderer over the repository's real templates."""
    return TemplateRenderer(REPO_TEMPLATES)


@pytest.fixture(name="write_email")
def fixture_write_email(tmp_path: Path) -> Callable[..., TemplateRenderer]:
    """Write one email template (any part may be left out) into a fresh templates folder."""

    def write(name: str, *, subject: str | None = "Hello {{ lead.first_name }}",
              text: str | None = "{{ lead.full_name }}", html: str | None = "{{ lead.full_name }}",
              ) -> TemplateRenderer:
        email_dir = tmp_path / "email"
        (email_dir / name).mkdir(parents=True, exist_ok=True)
        (email_dir / "_layout.txt").write_text(LAYOUT_TXT)
        (email_dir / "_layout.html").write_text(LAYOUT_HTML)
        parts = {
            "subject.txt": subject,
            "body.txt": None if text is None else _extend("txt", text),
            "body.html": None if html is None else _extend("html", html),
        }
        for filename, source in parts.items():
            if source is not None:
                (email_dir / name / filename).write_text(source)
        return TemplateRenderer(tmp_path)

    return write


def _extend(kind: str, body: str) -> str:
    return f'{{% extends "email/_layout.{kind}" %}}\n{{% block body %}}\n{body}\n{{% endblock %}}\n'


class RecordingSMTPHandler:
    """An aiosmtpd handler that counts connections, records messages and refuses on cue.

    Recipients whose local part is a key of `refusals` get that reply at RCPT.
    """

    refusals = {
        "missing": "550 5.1.1 <{address}>: Recipient address rejected: mailbox unavailable",
        "blocked": "554 5.7.1 <{address}>: Relay access denied by policy",
        "busy": "451 4.3.0 <{address}>: Temporary local problem, try again later",
    }

    def __init__(self) -> None:
        self.connections = 0
        self.messages: list[bytes] = []
        self.envelopes: list[tuple[str, list[str]]] = []

    async def handle_EHLO(self, server: Any, session: Any, envelope: Any, hostname: str,
                          responses: list[str]) -> list[str]:
        self.connections += 1
        session.host_name = hostname
        return responses

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,
                          rcpt_options: list[str]) -> str:
        refusal = self.refusals.get(address.partition("@")[0])
        if refusal:
            return refusal.format(address=address)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(envelope.content)
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 Message accepted for delivery"


class LocalSMTPServer:
    """A real SMTP server on a loopback port, run by aiosmtpd in its own thread."""

    def __init__(self, *, idle_timeout: float = 300) -> None:
        controller_module = pytest.importorskip("aiosmtpd.controller")
        self.handler = RecordingSMTPHandler()
        self.port = _free_port()
        self.controller = controller_module.Controller(
            self.handler, hostname="127.0.0.1", port=self.port, server_hostname="localhost",
            ready_timeout=5, timeout=idle_timeout,
        )

    def __enter__(self) -> LocalSMTPServer:
        self.controller.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.controller.stop()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(name="smtp_server")
def fixture_smtp_server() -> Iterator[LocalSMTPServer]:
    """A local SMTP server that keeps connections open."""
    with LocalSMTPServer() as server:
        yield server


@pytest.fixture(name="impatient_smtp_server")
def fixture_impatient_smtp_server() -> Iterator[LocalSMTPServer]:
    """A local SMTP server that drops connections idle for more than a quarter second."""
    with LocalSMTPServer(idle_timeout=0.25) as server:
        yield server
