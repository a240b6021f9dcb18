"""Render email templates: one sandboxed Jinja2 environment over `templates/`.

Each email is a folder `email/<name>/` holding `subject.txt`, `body.txt` and `body.html`.
Bodies extend `email/_layout.txt` / `email/_layout.html`, which carry the signature and the
footer with the postal address and the unsubscribe link.
"""

from __future__ import annotations

import re
from pathlib import Path
from types import TracebackType

import jinja2
from jinja2.sandbox import SandboxedEnvironment
from pydantic import BaseModel

from engine.errors import TemplateError
from engine.mail.context import EmailContext
from engine.phrasing import industry_name, sentence, source_label, with_article

EMAIL_FOLDER = "email"
"""Where email templates live inside the templates directory."""

PARTS = ("subject.txt", "body.txt", "body.html")
"""The files every email template folder holds."""

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")


def _text(value: object) -> str:
    return "" if value is None else str(value)


FILTERS = {
    "industry_name": lambda value: industry_name(_text(value)),
    "source_label": lambda value: source_label(_text(value)),
    "with_article": lambda value: with_article(_text(value)),
    "sentence": lambda value: sentence(_text(value)),
}
"""Phrasing for templates (`engine.phrasing`): `{{ lead.industry | industry_name }}` says
SaaS for saas, `{{ name | with_article }}` puts a or an before it, `{{ text | sentence }}`
starts it with a capital, `{{ source | source_label }}` names a lead source."""


class RenderedEmail(BaseModel):
    """A rendered email: a one-line subject, a plain-text body and an HTML body."""

    subject: str
    text: str
    html: str


class TemplateRenderer:
    """Renders the email templates of one templates directory.

    `environment` is the single sandboxed Jinja2 environment over the whole directory, so
    other content there (sales notifications, web pages) can share its rules.
    """

    def __init__(self, templates_dir: Path) -> None:
        self.templates_dir = Path(templates_dir)
        self.environment = SandboxedEnvironment(
            loader=jinja2.FileSystemLoader(self.templates_dir.resolve()),
            undefined=jinja2.StrictUndefined,
            autoescape=jinja2.select_autoescape(
                enabled_extensions=("html",), default_for_string=False, default=False
            ),
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
        )
        self.environment.filters.update(FILTERS)

    @property
    def email_dir(self) -> Path:
        """The folder that holds one sub-folder per email template."""
        return self.templates_dir / EMAIL_FOLDER

    def names(self) -> list[str]:
        """Every email template name, sorted; folders starting with `_` are not emails."""
        if not self.email_dir.is_dir():
            return []
        return sorted(
            entry.name
            for entry in self.email_dir.iterdir()
            if entry.is_dir() and _NAME.match(entry.name)
        )

    def exists(self, name: str) -> bool:
        """Whether `name` is an email template folder."""
        return bool(_NAME.match(name)) and (self.email_dir / name).is_dir()

    def render(self, name: str, context: EmailContext) -> RenderedEmail:
        """Render subject, text and HTML of template `name`, or raise `TemplateError`."""
        if not self.exists(name):
            known = ", ".join(self.names()[:8]) or "none"
            raise TemplateError(
                f"email template {name!r} not found: create {self.email_dir / name}/ with "
                f"{', '.join(PARTS)} (known templates include: {known})"
            )
        variables = context.variables()
        subject, text, html = (self._render_part(name, part, variables) for part in PARTS)
        subject = " ".join(subject.split())
        if not subject:
            raise TemplateError(f"email template {name!r}: subject.txt renders to nothing")
        return RenderedEmail(subject=subject, text=text.strip() + "\n", html=html)

    def _render_part(self, name: str, part: str, variables: dict[str, object]) -> str:
        path = f"{EMAIL_FOLDER}/{name}/{part}"
        try:
            return self.environment.get_template(path).render(variables)
        except jinja2.TemplateNotFound as exc:
            missing = exc.name if exc.name != path else part
            raise TemplateError(
                f"email template {name!r}: {missing} is missing — every template needs "
                f"{', '.join(PARTS)}, and bodies extend {EMAIL_FOLDER}/_layout.txt|.html"
            ) from exc
        except jinja2.TemplateSyntaxError as exc:
            where = _location(exc.name or path, exc.lineno, exc.source)
            raise TemplateError(
                f"email template {name!r}: syntax error in {where}: {exc.message}"
            ) from exc
        except jinja2.UndefinedError as exc:
            where = self._runtime_location(exc.__traceback__) or path
            raise TemplateError(
                f"email template {name!r}: undefined variable in {where}: {exc.message} — "
                "give it a value (ctx keys come from the track step) or guard it with "
                "`or`/`default`"
            ) from exc
        except jinja2.TemplateError as exc:
            where = self._runtime_location(exc.__traceback__) or path
            raise TemplateError(f"email template {name!r}: {where}: {exc}") from exc
        except Exception as exc:  # e.g. a type error in an expression: still a template bug
            where = self._runtime_location(exc.__traceback__) or path
            raise TemplateError(
                f"email template {name!r}: {where}: {type(exc).__name__}: {exc}"
            ) from exc

    def _runtime_location(self, tb: TracebackType | None) -> str | None:
        """The innermost template line in a traceback (Jinja maps frames back to templates)."""
        root = self.templates_dir.resolve()
        found: str | None = None
        while tb is not None:
            filename = Path(tb.tb_frame.f_code.co_filename)
            if filename.is_absolute() and filename.resolve().is_relative_to(root):
                relative = filename.resolve().relative_to(root).as_posix()
                found = _location(relative, tb.tb_lineno, _read(filename))
            tb = tb.tb_next
        return found


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except OSError:
        return None


def _location(path: str, lineno: int | None, source: str | None) -> str:
    """`path, line N: <the line>` so the message shows the offending expression."""
    if not lineno:
        return path
    where = f"{path}, line {lineno}"
    lines = source.splitlines() if source else []
    if 0 < lineno <= len(lines):
        where += f" (`{lines[lineno - 1].strip()}`)"
    return where
