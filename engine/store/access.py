"""Row-level plumbing shared by the store's queries: sessions, insert-once, conditional update.

Anything that must happen once is decided by the database — a primary key or an
UPDATE ... WHERE that reports how many rows it changed — never by reading first and
writing after, so it holds across threads, worker processes and machines.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, Engine, update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlmodel import Session, SQLModel

from engine.errors import ConfigError, NurtureError
from engine.store.connect import BUSY_WAIT, connect, mask_password

if TYPE_CHECKING:
    from sqlalchemy.dialects import postgresql, sqlite


class RecordNotFoundError(NurtureError, LookupError):
    """A lead or email send named by the caller does not exist in the store."""


class TableAccess:
    """An engine on a database whose schema is current, and the few ways the store writes rows.

    `upgrade=True` applies the revisions the database lacks first (under the schema lock);
    `create=True` makes the tables of a new, empty database straight from the models, at
    the newest revision (a simulation's or a test's scratch database); otherwise a schema
    that is not at the newest revision raises SchemaError naming `nurture db upgrade`.
    `durable=False` is for a scratch SQLite file: commits do not wait for the disk.
    """

    def __init__(self, url: str, *, upgrade: bool = False, create: bool = False,
                 durable: bool = True, busy_wait: float = BUSY_WAIT) -> None:
        if upgrade and create:
            raise ValueError("upgrade=True and create=True exclude each other")
        self.url = mask_password(url)
        self.engine: Engine = connect(url, durable=durable, busy_wait=busy_wait)
        try:
            if create:
                # Alembic (imported by the schema module) is needed only to read or change
                # an existing schema; a simulation never loads it.
                from engine.store.fresh import create_current_schema

                create_current_schema(self.engine)
            elif upgrade:
                from engine.store.schema import upgrade_schema

                upgrade_schema(self.engine)
            else:
                from engine.store.schema import require_current_schema

                require_current_schema(self.engine)
        except OperationalError as exc:
            self.engine.dispose()
            raise ConfigError(
                f"cannot open database {self.url!r}: {exc.orig}; check that the server is "
                "running, the database exists, and (for SQLite) the folder exists"
            ) from exc
        except BaseException:
            self.engine.dispose()
            raise

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()

    def _insert_on_conflict(self, table: Any) -> postgresql.Insert | sqlite.Insert:
        """An INSERT into `table` that can say what to do on a conflict
        (`on_conflict_do_nothing`, `on_conflict_do_update`), in this database's dialect; only
        that dialect is imported."""
        if self.engine.dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as postgresql_insert

            return postgresql_insert(table)
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        return sqlite_insert(table)

    def _insert_once(self, row: SQLModel) -> bool:
        """Insert the row; False if its primary key is already taken."""
        try:
            with self._session() as session:
                session.add(row)
        except IntegrityError:
            return False
        return True

    def _update(self, table: type[SQLModel], where: ColumnElement[bool], **values: Any) -> int:
        """Set `values` on the rows matching `where`; how many rows matched.

        A plain statement on a connection: no ORM session to set up and synchronise, which
        cost more CPU than the write itself (activities update a lead at every step)."""
        with self.engine.begin() as connection:
            return connection.execute(update(table).where(where).values(**values)).rowcount

    @contextmanager
    def _session(self) -> Iterator[Session]:
        """A session that commits when the block ends, or rolls back if it raises."""
        with Session(self.engine) as session, session.begin():
            yield session
