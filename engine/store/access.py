"""Row-level plumbing shared by the store's queries: sessions, insert-once, conditional update.

Anything that must happen once is decided by the database — a primary key or an
UPDATE ... WHERE that reports how many rows it changed — never by reading first and
writing after, so it holds across threads, worker processes and machines.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import ColumnElement, Engine, update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlmodel import Session, SQLModel

from engine.errors import ConfigError, NurtureError
from engine.store.connect import connect, mask_password
from engine.store.schema import require_current_schema, upgrade_schema


class RecordNotFoundError(NurtureError, LookupError):
    """A lead or email send named by the caller does not exist in the store."""


class TableAccess:
    """An engine on a database whose schema is current, and the few ways the store writes rows.

    `upgrade=True` applies the revisions the database lacks first (under the schema lock);
    otherwise a schema that is not at the newest revision raises SchemaError naming
    `nurture db upgrade`.
    """

    def __init__(self, url: str, *, upgrade: bool = False) -> None:
        self.url = mask_password(url)
        self.engine: Engine = connect(url)
        try:
            if upgrade:
                upgrade_schema(self.engine)
            else:
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
