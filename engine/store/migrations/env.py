"""How Alembic runs the store's revisions: always on a connection the engine hands it.

`engine.store.schema` (behind `nurture db upgrade` and `nurture dev`) takes the schema lock,
opens the transaction and passes its connection as `config.attributes["connection"]`;
`nurture db revision` does the same on a scratch database at the newest revision. SQLite gets
batch operations (copy and move), since it cannot alter most of a column in place.
"""

from __future__ import annotations

from typing import Any, Literal

from alembic import context
from alembic.autogenerate.api import AutogenContext
from sqlmodel import SQLModel
from sqlmodel.sql.sqltypes import AutoString

from engine.errors import ConfigError
from engine.store import tables
from engine.store.timestamps import UTCDateTime

assert tables.TABLES  # importing the module registers every table on SQLModel.metadata


def render_item(kind: str, item: Any, _context: AutogenContext) -> str | Literal[False]:
    """Spell the store's own column types as plain SQLAlchemy types in revision files, so a
    revision never imports the models it must outlive."""
    if kind != "type":
        return False
    if isinstance(item, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    if isinstance(item, AutoString):
        return f"sa.String(length={item.length})" if item.length else "sa.String()"
    return False


def run_migrations() -> None:
    """Run the revisions Alembic's command asked for, in the caller's transaction."""
    connection = context.config.attributes.get("connection")
    if connection is None:
        raise ConfigError("the store's revisions run on a connection the engine opens; use "
                          "`nurture db upgrade` or `nurture db revision`, not the alembic "
                          "command")
    context.configure(connection=connection, target_metadata=SQLModel.metadata,
                      render_as_batch=connection.dialect.name == "sqlite",
                      render_item=render_item, compare_type=True)
    with context.begin_transaction():
        context.run_migrations()


run_migrations()
