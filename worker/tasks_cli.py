"""`nurture tasks …`: the sales inbox from a terminal, and the inbox's sign-in tokens.

    nurture tasks list --status open --tier 1
    nurture tasks show 'lead-42:escalation:7'
    nurture tasks reject 'lead-42:escalation:7' --reason timing_not_active --until 2026-09-01
    nurture tasks token jordan            # prints a new sign-in token, once
    nurture tasks list --data-dir ~/nurture-data   # the stack `nurture dev --data-dir` runs

The command works as the manager "cli" (it sees every task) through the same sales desk
as the inbox and the API: answers go to the lead's workflow, which alone changes the task.
It reads the database `nurture dev` keeps in its data folder (`--data-dir`, default
`.nurture`), and talks to that stack's Temporal server while it runs; NURTURE_DATABASE_URL
and TEMPORAL_ADDRESS, when set, win (as they do for `nurture dev`). A folder without a
database is an error, never an empty inbox.
Exit codes: 0 done, 1 refused (unknown or closed task, Temporal down), 2 bad input.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from engine.errors import NurtureError
from worker.cli_settings import DataDirOption, settings_for

# The desk pulls in Temporal and rich takes a while to load; `nurture --help` and the other
# commands (`nurture simulate`) should not wait for them.
if TYPE_CHECKING:
    from rich.text import Text

    from engine.client import SalesDesk, Viewer
    from engine.settings import Settings
    from engine.store import Store

tasks_app = typer.Typer(help="Work sales tasks: list, show, accept, reject, recycle; issue "
                             "and revoke inbox sign-in tokens.", no_args_is_help=True)

CLI_USER = "cli"
T = TypeVar("T")

IdArgument = Annotated[str, typer.Argument(help="Task id, e.g. 'lead-42:escalation:7'.")]
NoteOption = Annotated[str, typer.Option("--note", help="A note for the task's timeline.")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


def _fail(message: str, code: int = 1) -> typer.Exit:
    from worker.terminal import plain

    typer.echo(f"error: {plain(message)}", err=True)  # it may quote a task id as typed
    return typer.Exit(code)


def _settings(data_dir: Path | None) -> Settings:
    try:
        return settings_for(data_dir)
    except NurtureError as err:
        raise _fail(str(err), 2) from None


@contextmanager
def _store(settings: Settings) -> Iterator[Store]:
    from worker.serve import open_store

    try:
        store = open_store(settings)
    except NurtureError as err:
        raise _fail(str(err)) from None
    try:
        yield store
    finally:
        store.dispose()


def _run(work: Callable[[SalesDesk, Viewer], Coroutine[Any, Any, T]],
         data_dir: Path | None) -> T:
    """Run `work` with a desk over the store, playbook and Temporal the data folder and
    the environment name, as the manager "cli"; desk errors become the exit codes in the
    module's docstring."""
    from engine.client import DeskError, InvalidFeedback, SalesDesk, Viewer, connect_from
    from engine.settings import load_playbook

    settings = _settings(data_dir)
    with _store(settings) as store:
        try:
            desk = SalesDesk(store, load_playbook(settings.playbook),
                             lambda: connect_from(settings))
            return asyncio.run(work(desk, Viewer(CLI_USER, "manager")))
        except DeskError as err:
            allowed = f"; allowed: {', '.join(err.allowed)}" if err.allowed else ""
            raise _fail(err.message + allowed, 2 if isinstance(err, InvalidFeedback)
                        else 1) from None
        except NurtureError as err:
            raise _fail(str(err)) from None


def _text(value: Any) -> Text:
    """Lead-controlled text, shown as typed: never read as rich markup, and its control
    characters (escape sequences) shown as escapes rather than obeyed by the terminal."""
    from worker.terminal import shown

    return shown(value)


@tasks_app.command("list")
def list_tasks(
    status: Annotated[str, typer.Option(
        "--status", help="open, accepted, rejected, recycled, all; dismissed for "
                         "alerts.")] = "open",
    owner: Annotated[str | None, typer.Option("--owner", help="Only this rep's tasks.")] = None,
    tier: Annotated[int | None, typer.Option("--tier", min=1, max=3, help="1, 2 or 3.")] = None,
    kind: Annotated[str, typer.Option("--kind", help="escalation or alert.")] = "escalation",
    limit: Annotated[int, typer.Option("--limit", min=1, max=200)] = 50,
    as_json: JsonOption = False,
    data_dir: DataDirOption = None,
) -> None:
    """Tasks soonest due first, with their SLA in words."""
    from rich import box
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    from engine.client import task_sla

    page = _run(lambda desk, viewer: desk.list(viewer, status=status, owner=owner, tier=tier,
                                               kind=kind, limit=limit), data_dir)
    now = datetime.now(UTC)
    if as_json:
        typer.echo(json.dumps({"total": page.total, "tasks": [
            {**t.model_dump(mode="json"), "sla": task_sla(t.status, t.due_at, now)}
            for t in page.tasks]}, indent=2))
        return
    if not page.tasks:
        typer.echo(f"No {'' if status == 'all' else status + ' '}tasks.")
        return
    console = Console()
    wide = console.width >= 140  # room for the reason; else `nurture tasks show` has it
    table = Table(box=box.SIMPLE_HEAD, title=f"{len(page.tasks)} of {page.total} tasks",
                  title_justify="left")
    closed = status != "open"
    for name in ("task", "tier", "lead", "owner", "sla", *(["status"] if closed else []),
                 *(["why now"] if wide else [])):
        table.add_column(name, no_wrap=name in ("task", "tier", "sla"), overflow="fold",
                         min_width={"why now": 40}.get(name))
    for t in page.tasks:
        lead = Text.assemble(_text(t.lead_name or t.lead_id),
                             ("\n" + t.lead_company if t.lead_company else "", "dim"))
        table.add_row(_text(t.id), str(t.tier), lead,
                      _text(t.owner_name or t.owner or "unassigned"),
                      task_sla(t.status, t.due_at, now), *([t.status] if closed else []),
                      *([_text(t.reason)] if wide else []))
    console.print(table)


@tasks_app.command("show")
def show(task_id: IdArgument, as_json: JsonOption = False,
         data_dir: DataDirOption = None) -> None:
    """One task: the handoff package, its own timeline and the lead's timeline, with times
    in the owner's time zone."""
    from rich import box
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    from engine.api.sales import detail_json
    from engine.client import Viewer
    from engine.phrasing import source_label

    async def look(desk: SalesDesk, viewer: Viewer) -> tuple[Any, str]:
        detail = await desk.detail(viewer, task_id)
        return detail, desk.timezone(Viewer(detail.task.owner or viewer.user_id))

    detail, zone = _run(look, data_dir)
    body = detail_json(detail)
    if as_json:
        typer.echo(json.dumps(body, indent=2))
        return
    task, console = body["task"], Console()
    console.print(Text.assemble((f"Tier {task['tier']} ", "bold"), _text(task["id"]),
                                f"  {task['status']} · {task['sla']}"))
    facts = Table.grid(padding=(0, 2))
    facts.add_column(style="bold", no_wrap=True)
    facts.add_column(overflow="fold")
    lead = body["lead"] or {}
    name = " ".join(p for p in (lead.get("first_name"), lead.get("last_name")) if p)
    role = " at ".join(p for p in (lead.get("title"), lead.get("company")) if p)
    facts.add_row("lead", _text(" — ".join(p for p in (
        name or lead.get("email") or task["lead_id"], role) if p)))
    facts.add_row("owner", _text(task["owner_name"] or task["owner"] or "unassigned"))
    facts.add_row("due", _when(task["due_at"], zone) or "—")
    facts.add_row("why now", _text(task["reason"]))
    facts.add_row("opener", _text(task["opener"]))
    for key, value in (task["handoff"] or {}).items():
        if value and key not in ("qualification_reason", "suggested_opener", "tier"):
            shown = ", ".join(map(str, value)) if isinstance(value, list) else value
            if key == "source":
                shown = source_label(value) or value
            facts.add_row(key.replace("_", " "), _text(shown))
    console.print(facts)
    for title, entries in (("task timeline", body["task_timeline"]),
                           (f"lead timeline (from the {body['lead_timeline']['source']})",
                            body["lead_timeline"]["entries"])):
        table = Table(box=box.SIMPLE_HEAD, title=title, title_justify="left")
        for column in ("at", "who", "what"):
            table.add_column(column, overflow="fold")
        for entry in entries[-30:]:
            table.add_row(_when(entry["at"], zone), _text(entry["kind"]),
                          _text(entry["detail"]))
        console.print(table)


def _when(iso: str | None, zone: str) -> str:
    """A time as the task's owner reads it, e.g. '2026-03-10 09:30 EST'."""
    from zoneinfo import ZoneInfo

    return datetime.fromisoformat(iso).astimezone(ZoneInfo(zone)).strftime(
        "%Y-%m-%d %H:%M %Z") if iso else ""


def _answer(task_id: str, action: str, data_dir: Path | None, *, reason: str | None = None,
            note: str = "", until: datetime | None = None) -> None:
    from engine.client import outcome_message, reject_reason
    from engine.feedback import Feedback

    def build() -> Feedback:
        return Feedback(task_id=task_id, action=action,  # type: ignore[arg-type]
                        reason=reject_reason(reason) if action == "reject" else None,
                        note=note, until=_day(until))

    result = _run(lambda desk, viewer: desk.act(viewer, task_id, build()), data_dir)
    typer.echo(outcome_message(result))


def _day(value: datetime | None) -> date | None:
    return value.date() if value else None


UntilOption = Annotated[datetime | None, typer.Option(
    "--until", formats=["%Y-%m-%d"], help="YYYY-MM-DD: rest the lead until this date.")]


@tasks_app.command("accept")
def accept(task_id: IdArgument, note: NoteOption = "", data_dir: DataDirOption = None) -> None:
    """Accept the lead: it becomes sales-qualified."""
    _answer(task_id, "accept", data_dir, note=note)


@tasks_app.command("reject")
def reject(task_id: IdArgument, reason: Annotated[str, typer.Option(
        "--reason", help="A reject reason code or label, e.g. poor_fit, timing_not_active.")],
        note: NoteOption = "", until: UntilOption = None,
        data_dir: DataDirOption = None) -> None:
    """Reject the lead with a standard reason (timing_not_active needs --until)."""
    _answer(task_id, "reject", data_dir, reason=reason, note=note, until=until)


@tasks_app.command("recycle")
def recycle(task_id: IdArgument, until: UntilOption = None, note: NoteOption = "",
            data_dir: DataDirOption = None) -> None:
    """Give the lead back to nurture, resting until --until when given."""
    _answer(task_id, "recycle", data_dir, note=note, until=until)


@tasks_app.command("token")
def token(user: Annotated[str, typer.Argument(help="The rep's id, as in the routing rules.")],
          manager: Annotated[bool, typer.Option(
              "--manager", help="A manager's token: sees every task.")] = False,
          data_dir: DataDirOption = None) -> None:
    """Issue a sign-in token for the inbox and the API; it is shown this once only. A rep's
    token needs the rep in the playbook's routing rules (a manager's may be anyone)."""
    from engine.settings import load_playbook

    settings = _settings(data_dir)
    routing = load_playbook(settings.playbook).sales.routing
    reps = sorted(rep.id for rep in routing.reps) if routing else []
    if not manager and user not in reps:
        known = f"the reps are {', '.join(reps)}" if reps else "the playbook routes to nobody"
        raise _fail(f"{user!r} is not a rep in the playbook's routing rules ({known}); "
                    "a task can never be theirs. Add them to the routing rules, or issue "
                    "a --manager token")
    with _store(settings) as store:
        issued = store.issue_token(user, role="manager" if manager else "rep",
                                   now=datetime.now(UTC))
    typer.echo(issued)
    typer.echo(f"(shown once) sign in at {settings.base_url.rstrip('/')}/inbox/login "
               "or send it as 'Authorization: Bearer <token>'", err=True)


@tasks_app.command("revoke")
def revoke(user: Annotated[str, typer.Argument(help="Whose tokens to revoke.")],
           data_dir: DataDirOption = None) -> None:
    """Revoke every sign-in token of a user."""
    with _store(_settings(data_dir)) as store:
        count = store.revoke_tokens(user, now=datetime.now(UTC))
    typer.echo(f"revoked {count} token{'s' if count != 1 else ''} of {user}")
