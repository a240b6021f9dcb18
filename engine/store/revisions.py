"""The catalogue of schema revisions: Alembic scripts in `migrations/`, configured in code.

Every change to a table or a column is a new revision in `migrations/versions/`, drafted with
`nurture db revision -m "what changes"` and tested from the previous release's database
(docs/migrations.md). Revisions are numbered `0001`, `0002`, … and form one line; no
alembic.ini is needed, `alembic_config` says where the scripts are.
"""

from __future__ import annotations

import functools
import tempfile
from argparse import Namespace
from pathlib import Path
from typing import Any, NamedTuple

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import Script, ScriptDirectory
from sqlalchemy import Connection
from sqlmodel import SQLModel

from engine.errors import SchemaError
from engine.store import tables
from engine.store.connect import connect

MIGRATIONS = Path(__file__).parent / "migrations"
BASELINE = "0001"
"""The revision that is release 0.1.0's schema."""


class Revision(NamedTuple):
    """One revision: its id and the first line of its docstring."""

    id: str
    title: str


def alembic_config(connection: Connection | None = None) -> Config:
    """Alembic's configuration for the store's scripts, running them on `connection`."""
    config = Config(attributes={"connection": connection})
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("path_separator", "os")
    config.set_main_option("file_template", "%%(rev)s_%%(slug)s")
    return config


@functools.cache
def scripts() -> ScriptDirectory:
    """The revision scripts this code ships (read once per process)."""
    return ScriptDirectory.from_config(alembic_config())


def head() -> str:
    """The newest revision; a SchemaError when two revisions follow the same parent."""
    heads = scripts().get_heads()
    if len(heads) != 1:
        raise SchemaError(
            f"the schema revisions have {len(heads)} newest ones ({', '.join(sorted(heads))}) "
            "instead of one line; set the later one's down_revision to the other's id and "
            "renumber it (docs/migrations.md)")
    return heads[0]


def is_known(revision: str) -> bool:
    """Whether this code ships `revision` (a newer release's revision is unknown here)."""
    return revision in {script.revision for script in scripts().walk_revisions()}


def describe(revision: str) -> Revision:
    """The revision's id and title."""
    script = scripts().get_revision(revision)
    assert script is not None, revision
    return Revision(script.revision, script.doc.strip().splitlines()[0].rstrip("."))


def between(older: str | None, newer: str) -> list[Revision]:
    """The revisions after `older` (None: from the start) up to `newer`, oldest first."""
    found = scripts().iterate_revisions(newer, older or "base")
    return [describe(script.revision) for script in reversed(list(found))]


def next_id() -> str:
    """The id the next revision takes: one more than the number of revisions."""
    return f"{sum(1 for _ in scripts().walk_revisions()) + 1:04d}"


def model_drift(connection: Connection) -> list[Any]:
    """How the database's tables differ from the models in `engine.store.tables`, as
    Alembic's autogenerate sees it; empty when the revisions and the models agree."""
    assert tables.TABLES  # the models are registered on SQLModel.metadata by that import
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, SQLModel.metadata))


class Draft(NamedTuple):
    """A revision file `draft_revision` wrote, and the model changes it holds."""

    path: Path
    changes: list[Any]  # empty: the models match the newest revision; write it by hand


def draft_revision(message: str) -> Draft:
    """Write the next revision file with the operations that take a database at the newest
    revision to the models (Alembic's autogenerate against a scratch SQLite database).

    Meant for a source checkout: the file lands in `migrations/versions/`; review it."""
    head()  # refuse to draft on top of two newest revisions
    with tempfile.TemporaryDirectory(prefix="nurture-revision-") as folder:
        engine = connect(f"sqlite:///{folder}/head.db")
        try:
            with engine.begin() as connection:
                config = alembic_config(connection)
                config.cmd_opts = Namespace(quiet=True)  # the caller says what was written
                command.upgrade(config, "head")
                changes = model_drift(connection)
                made = command.revision(config, message=message, autogenerate=True,
                                        rev_id=next_id())
        finally:
            engine.dispose()
    scripts.cache_clear()
    assert isinstance(made, Script), made
    return Draft(Path(made.path), changes)
