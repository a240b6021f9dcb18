"""`nurture db …`: the database schema, on the database the settings name (NURTURE_DATABASE_URL).

    nurture db current                     # its revision, and whether that is the newest
    nurture db upgrade                     # apply the revisions it lacks
    nurture db revision -m "add lead score"   # draft the next revision from the models

`nurture api` and `nurture worker` refuse a database that is not at the newest revision and
name `nurture db upgrade`; run it once per release, before starting them (it is safe to run
from several machines at once). Exit codes: 0 done or up to date, 1 needs an upgrade or failed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from engine.errors import NurtureError

if TYPE_CHECKING:
    from sqlalchemy import Engine

db_app = typer.Typer(help="The database schema: show its revision, upgrade it, draft a new "
                          "revision.", no_args_is_help=True)


def _fail(message: str, code: int = 1) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


@contextmanager
def _database(*, create: bool) -> Iterator[Engine | None]:
    """An engine on the configured database; None for a SQLite file that does not exist
    (only `create` makes it, and its folder)."""
    from engine.settings import load_settings
    from engine.store.connect import connect, is_in_memory, parse_database_url

    try:
        url = load_settings().database_url
        parsed = parse_database_url(url)
    except NurtureError as err:
        raise _fail(str(err)) from None
    if parsed.get_backend_name() == "sqlite" and not is_in_memory(parsed):
        path = Path(str(parsed.database))
        if not path.exists() and not create:
            yield None
            return
        path.parent.mkdir(parents=True, exist_ok=True)
    engine = connect(url)
    try:
        yield engine
    finally:
        engine.dispose()


def _guarded(work: Callable[[], None]) -> None:
    """Run `work`; engine errors (and unreachable databases) become one-line failures."""
    from sqlalchemy.exc import OperationalError

    try:
        work()
    except NurtureError as err:
        raise _fail(str(err)) from None
    except OperationalError as err:
        raise _fail(f"the database failed: {err.orig} (check NURTURE_DATABASE_URL, and that "
                    "the server is running)") from None


@db_app.command()
def current() -> None:
    """Print the database's schema revision and whether it is the newest; exit 1 if not."""
    from engine.store import schema_status
    from engine.store.revisions import describe, head, is_known
    from engine.store.schema import UPGRADE_COMMAND

    def show() -> None:
        with _database(create=False) as engine:
            if engine is None:
                newest = describe(head())
                typer.echo(f"no database yet; `{UPGRADE_COMMAND}` creates it at revision "
                           f"{newest.id} ({newest.title})")
                raise typer.Exit(1)
            status = schema_status(engine)
        typer.echo(f"database  {status.url}")
        if status.revision is None:
            made = "made by nurture 0.1.0" if status.tables else "no nurture tables yet"
            typer.echo(f"revision  none ({made})")
        elif is_known(status.revision):
            typer.echo(f"revision  {status.revision}  {describe(status.revision).title}")
        else:
            typer.echo(f"revision  {status.revision}  (unknown to this version)")
        newest = describe(status.head)
        typer.echo(f"newest    {newest.id}  {newest.title}")
        problem = status.problem()
        if problem is not None:
            typer.echo(f"not up to date: {problem}")
            raise typer.Exit(1)
        typer.echo("up to date")

    _guarded(show)


@db_app.command()
def upgrade() -> None:
    """Apply every revision the database lacks (adopting a release 0.1.0 database first)."""
    from engine.store import upgrade_schema
    from engine.store.revisions import BASELINE, describe

    def apply() -> None:
        with _database(create=True) as engine:
            assert engine is not None
            done = upgrade_schema(engine)
        typer.echo(f"database  {done.url}")
        if done.adopted:
            baseline = describe(BASELINE)
            typer.echo(f"adopted   a release 0.1.0 database as {baseline.id}  {baseline.title}")
        for revision in done.applied:
            typer.echo(f"applied   {revision.id}  {revision.title}")
        if done.applied:
            typer.echo(f"now at    {done.after}, the newest revision")
        else:
            typer.echo(f"already at {done.after}, the newest revision: nothing to apply")

    _guarded(apply)


@db_app.command()
def revision(message: Annotated[str, typer.Option(
        "-m", "--message", help="What the revision changes, e.g. 'add lead score'.")]) -> None:
    """Draft the next revision from the models in engine/store/tables.py (source checkouts)."""
    from engine.store.revisions import draft_revision

    def draft() -> None:
        made = draft_revision(message)
        typer.echo(f"wrote {made.path}")
        if not made.changes:
            typer.echo("note: the models match the newest revision, so upgrade() is empty; "
                       "write its operations by hand (e.g. moving data) or delete the file")
        typer.echo("next: review it (renames, defaults for NOT NULL columns, data to move), "
                   "then assert what it does to the last release's rows in "
                   "tests/engine/store/test_migrations.py (docs/migrations.md)")

    _guarded(draft)
