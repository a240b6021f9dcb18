"""Where a database's schema stands, and bringing it to the newest revision under a lock.

Serving processes (`nurture api`, `nurture worker`, `nurture tasks`) only check that the
database is at the newest revision and refuse anything else with the command that fixes it;
`nurture db upgrade` and `nurture dev` apply what is missing. A database made by release
0.1.0 (its tables, no `alembic_version`) is recognised as the baseline revision first.

    status = schema_status(engine)      # revision, head, whether it is current
    done = upgrade_schema(engine)       # what was applied; safe when many processes start

Upgrading takes a lock before it reads the revision, so processes starting together apply
each revision once: `pg_advisory_xact_lock` on PostgreSQL, `BEGIN EXCLUSIVE` on a SQLite
file. The revisions run inside that same transaction, so a failed upgrade changes nothing
on PostgreSQL and SQLite alike.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from alembic import command
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, Engine, inspect, text

from engine.errors import SchemaError
from engine.store.connect import connect_exclusive, is_in_memory
from engine.store.revisions import BASELINE, Revision, alembic_config, between, head, is_known
from engine.store.tables import TABLES

UPGRADE_COMMAND = "nurture db upgrade"

# Any fixed number works; release 0.1.0 took the same one around its create_all.
_SCHEMA_LOCK = 7_106_119

RELEASE_0_1_0_TABLES = frozenset({
    "leads", "events", "email_sends", "email_clicks", "sales_tasks", "suppressions",
    "inbound", "contacts", "identities", "leases", "sales_tokens", "counters"})
"""The tables release 0.1.0 created before the schema had revisions."""


@dataclass(frozen=True)
class SchemaStatus:
    """A database's schema against the revisions this code ships."""

    url: str  # password masked
    revision: str | None  # None: no `alembic_version` (empty, or made by release 0.1.0)
    head: str
    tables: frozenset[str] = field(default_factory=frozenset)  # the 0.1.0 tables present

    @property
    def is_current(self) -> bool:
        """Whether the database is at the newest revision."""
        return self.revision == self.head

    def problem(self) -> str | None:
        """What keeps this code from using the database and how to fix it, or None."""
        where = f"the database {self.url}"
        if self.is_current:
            return None
        if self.revision is None and not self.tables:
            return f"{where} has no nurture tables yet; create them with `{UPGRADE_COMMAND}`"
        if self.revision is None:
            return (f"{where} was made by nurture 0.1.0 and has no schema revision yet; "
                    f"bring it to revision {self.head} with `{UPGRADE_COMMAND}`")
        if not is_known(self.revision):
            return (f"{where} is at schema revision {self.revision}, which this version of "
                    "nurture does not know: a newer release upgraded it; run that release "
                    "or a newer one")
        return (f"{where} is at schema revision {self.revision}, this version needs "
                f"{self.head}; back it up, then run `{UPGRADE_COMMAND}`")


@dataclass(frozen=True)
class SchemaUpgrade:
    """What `upgrade_schema` did."""

    url: str  # password masked
    before: str | None  # the revision before, None for an empty or a 0.1.0 database
    after: str
    adopted: bool  # a 0.1.0 database was stamped with the baseline revision first
    applied: list[Revision]  # oldest first; empty when the database was already current


def schema_status(engine: Engine) -> SchemaStatus:
    """Where the database's schema stands (reads only, takes no lock)."""
    with engine.connect() as connection:
        return _read_status(connection)


def require_current_schema(engine: Engine) -> None:
    """Raise SchemaError, naming the command that fixes it, unless the schema is current."""
    problem = schema_status(engine).problem()
    if problem is not None:
        raise SchemaError(problem)


def upgrade_schema(engine: Engine) -> SchemaUpgrade:
    """Apply every revision the database lacks, adopting a 0.1.0 database as the baseline.

    Safe to call from many processes at once: each waits for the lock, then reads the
    revision again, so the first applies the revisions and the others find nothing to do.
    """
    with _schema_lock(engine) as connection:
        status = _read_status(connection)
        if status.revision is not None and not is_known(status.revision):
            raise SchemaError(status.problem() or status.revision)
        adopted = status.revision is None and bool(status.tables)
        if adopted:
            _check_adoptable(connection, status)
            command.stamp(alembic_config(connection), BASELINE)
        command.upgrade(alembic_config(connection), "head")
        after = _read_status(connection).revision
    assert after is not None
    start = BASELINE if adopted else status.revision
    return SchemaUpgrade(url=status.url, before=status.revision, after=after, adopted=adopted,
                         applied=between(start, after) if start != after else [])


def _read_status(connection: Connection) -> SchemaStatus:
    revision = MigrationContext.configure(connection).get_current_revision()
    present = frozenset() if revision else (
        RELEASE_0_1_0_TABLES & set(inspect(connection).get_table_names()))
    url = connection.engine.url.render_as_string()  # the password as ***
    return SchemaStatus(url=url, revision=revision, head=head(), tables=present)


def _check_adoptable(connection: Connection, status: SchemaStatus) -> None:
    """Refuse to stamp a database without revisions as the baseline unless it holds
    exactly release 0.1.0's tables (not some, and none a later model added)."""
    missing = sorted(RELEASE_0_1_0_TABLES - status.tables)
    if missing:
        raise SchemaError(
            f"the database {status.url} holds some of nurture's tables but not "
            f"{', '.join(missing)}, and has no schema revision: it was not made by nurture, "
            "or making it was cut short; restore it from a backup or use an empty database")
    later = {str(table.__tablename__) for table in TABLES} - RELEASE_0_1_0_TABLES
    newer = sorted(later & set(inspect(connection).get_table_names()))
    if newer:
        raise SchemaError(
            f"the database {status.url} has no schema revision but holds tables release "
            f"0.1.0 did not make ({', '.join(newer)}): a development version of nurture "
            "made it, so it cannot be adopted; use an empty database (for `nurture dev`, "
            "remove its nurture.db) or restore a 0.1.0 backup")


@contextmanager
def _schema_lock(engine: Engine) -> Iterator[Connection]:
    """A transaction that no other process changing this database's schema is in."""
    if engine.dialect.name == "postgresql":
        with engine.begin() as connection:
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"),
                               {"key": _SCHEMA_LOCK})
            yield connection
        return
    if is_in_memory(engine.url):  # private to this process: nobody to wait for
        with engine.begin() as connection:
            yield connection
        return
    exclusive = connect_exclusive(engine.url.render_as_string(hide_password=False))
    try:
        with exclusive.begin() as connection:
            yield connection
    finally:
        exclusive.dispose()
