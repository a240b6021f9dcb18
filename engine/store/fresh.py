"""A brand-new database made straight from the models, without running the revisions.

An existing database needs its missing revisions applied, one after the other
(`engine.store.schema`). A database made a moment ago for one simulation or one test only
needs the newest schema: `create_current_schema` creates the tables from the models and
stamps the newest revision, which is what `nurture db upgrade` would have left, at a
fraction of the cost (Alembic is never imported). Two tests keep that honest: the result has
no drift from the revisions, and `schema_status` finds it current.

    engine = connect("sqlite:///simulation.db")
    create_current_schema(engine)       # SchemaError if the database already holds tables
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Column, Engine, MetaData, PrimaryKeyConstraint, String, Table, inspect
from sqlmodel import SQLModel

from engine.errors import SchemaError
from engine.store import tables

VERSIONS = Path(__file__).parent / "migrations" / "versions"

# Alembic's own bookkeeping table, spelled as Alembic creates it.
_VERSION_TABLE = Table(
    "alembic_version", MetaData(),
    Column("version_num", String(32), nullable=False),
    PrimaryKeyConstraint("version_num", name="alembic_version_pkc"))


def newest_revision() -> str:
    """The newest revision's id, read from the scripts' file names (`0002_….py`).

    Revisions are numbered `0001`, `0002`, … in one line and every file name starts with
    its id (`engine.store.revisions`), so the highest number is the head Alembic finds.
    """
    ids = sorted(path.name.split("_", 1)[0] for path in VERSIONS.glob("[0-9]*_*.py"))
    if not ids:
        raise SchemaError(f"no schema revisions in {VERSIONS}: the package is incomplete; "
                          "reinstall nurture-engine")
    return ids[-1]


def create_current_schema(engine: Engine) -> str:
    """Create every table on an empty database and stamp it at the newest revision, in one
    transaction; return that revision. A database that holds any table is refused: bring
    it up to date with `nurture db upgrade` instead."""
    assert tables.TABLES  # importing the module registers every table on SQLModel.metadata
    revision = newest_revision()
    with engine.begin() as connection:
        present = inspect(connection).get_table_names()
        if present:
            url = connection.engine.url.render_as_string()  # the password as ***
            raise SchemaError(
                f"the database {url} is not empty (it holds {', '.join(sorted(present))}); "
                "only a new database is created from the models; upgrade this one with "
                "`nurture db upgrade`")
        SQLModel.metadata.create_all(connection)
        _VERSION_TABLE.create(connection)
        connection.execute(_VERSION_TABLE.insert().values(version_num=revision))
    return revision
