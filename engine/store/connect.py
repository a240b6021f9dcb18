"""Turning a database URL into a SQLAlchemy engine, or a ConfigError that says how to fix it."""

from __future__ import annotations

import importlib.util
import re
import sqlite3
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.pool import NullPool, StaticPool

from engine.errors import ConfigError

EXPECTED_FORMS = "sqlite:///path.db, sqlite:// (in memory) or postgresql+psycopg://user@host/db"

_SQLITE_DRIVERS = frozenset({"sqlite", "sqlite+pysqlite"})
# Plain PostgreSQL URLs (as hosting providers hand them out) mean the psycopg 3 driver.
_POSTGRES_DRIVERS = frozenset({"postgres", "postgresql", "postgresql+psycopg"})
_PASSWORD_IN_URL = re.compile(r"(://[^:/@\s]*):[^/\s]*@")


def mask_password(url: str) -> str:
    """The URL with any password replaced by `***`, safe to print in an error or a log."""
    return _PASSWORD_IN_URL.sub(r"\1:***@", url)


def parse_database_url(url: str) -> URL:
    """The SQLAlchemy URL for a supported database, with PostgreSQL pointed at psycopg."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise _bad_url(url, "it is not a database URL") from exc
    if parsed.drivername in _SQLITE_DRIVERS:
        return parsed
    if parsed.drivername in _POSTGRES_DRIVERS:
        if not parsed.database:
            raise _bad_url(url, "it names no database after the host")
        if importlib.util.find_spec("psycopg") is None:
            raise ConfigError(
                f"database URL {mask_password(url)!r} needs the psycopg driver, which is not "
                "installed; install it with: pip install 'nurture-engine[postgres]'"
            )
        return parsed.set(drivername="postgresql+psycopg")
    raise _bad_url(url, f"the database kind {parsed.drivername!r} is not supported")


def is_in_memory(url: URL) -> bool:
    """Whether a SQLite URL names a private in-memory database rather than a file."""
    return url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:")


BUSY_WAIT = 30.0
"""Seconds a SQLite write waits for the write lock by default."""


def connect(url: str, *, durable: bool = True, busy_wait: float = BUSY_WAIT) -> Engine:
    """A SQLAlchemy engine for `url`; SQLite files use WAL so readers never block the writer.

    `durable=False` is for a scratch SQLite file nobody keeps (a simulation's): a commit
    does not wait for the disk (`synchronous=OFF`), so a crash of the machine may lose it.
    `busy_wait`: seconds a write waits for a lock another connection holds before failing
    (SQLite: "database is locked"; PostgreSQL: its `lock_timeout`, "canceling statement due
    to lock timeout"): the API waits less than the worker, and answers 503. `durable`
    changes nothing on PostgreSQL, neither does anything in memory.
    """
    parsed = parse_database_url(url)
    if parsed.get_backend_name() == "postgresql":
        # Before the URL's own options, so a lock_timeout there wins.
        given = parsed.query.get("options") or ""
        given = " ".join(given) if isinstance(given, tuple) else given
        wait = f"-c lock_timeout={max(1, round(busy_wait * 1000))}"
        parsed = parsed.update_query_dict({"options": f"{wait} {given}".strip()})
        # Waiting for a free connection is bounded like waiting for a lock.
        return create_engine(parsed, pool_pre_ping=True, pool_timeout=busy_wait)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(parsed, pool_pre_ping=True)
    connect_args: dict[str, Any] = {"check_same_thread": False}
    if is_in_memory(parsed):
        # One shared connection, or every session would see its own empty database.
        return create_engine(parsed, connect_args=connect_args, poolclass=StaticPool)
    # Writers queue behind each other's short transactions instead of failing at once.
    # Connections to a file are cheap: enough that calls wait for the lock, not for one.
    engine = create_engine(parsed, connect_args={**connect_args, "timeout": busy_wait},
                           pool_size=10, max_overflow=54, pool_timeout=busy_wait)
    event.listen(engine, "connect", _use_write_ahead_log if durable else _use_scratch_file)
    return engine


def connect_exclusive(url: str) -> Engine:
    """A SQLite file engine whose every transaction starts with `BEGIN EXCLUSIVE`, so one
    process at a time changes the schema; the others wait (up to five minutes) for it."""
    parsed = parse_database_url(url)
    if parsed.get_backend_name() != "sqlite" or is_in_memory(parsed):
        raise ValueError(f"connect_exclusive needs a SQLite file, not {mask_password(url)!r}")
    # The driver must not open transactions of its own: the "begin" listener opens each one.
    engine = create_engine(parsed, poolclass=NullPool, connect_args={
        "check_same_thread": False, "timeout": 300.0, "isolation_level": None})
    event.listen(engine, "connect", _use_write_ahead_log)
    event.listen(engine, "begin", _begin_exclusive)
    return engine


def _begin_exclusive(connection: Connection) -> None:
    connection.exec_driver_sql("BEGIN EXCLUSIVE")


WAL_SWITCH_WAIT = 30.0
"""Seconds a new connection retries switching a fresh file to WAL while another process
holds it: SQLite answers that switch "database is locked" at once, without its busy wait."""


def _use_write_ahead_log(dbapi_connection: Any, _record: Any) -> None:
    deadline = time.monotonic() + WAL_SWITCH_WAIT
    while True:
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() >= deadline:
                raise
        finally:
            cursor.close()
        time.sleep(0.05)


def _use_scratch_file(dbapi_connection: Any, record: Any) -> None:
    _use_write_ahead_log(dbapi_connection, record)
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA synchronous=OFF")
    finally:
        cursor.close()


def _bad_url(url: str, problem: str) -> ConfigError:
    return ConfigError(
        f"database URL {mask_password(url)!r} cannot be used: {problem}; "
        f"expected one of {EXPECTED_FORMS}"
    )


@contextmanager
def scratch_schema(server_url: str, prefix: str = "scratch") -> Iterator[str]:
    """A URL for a fresh PostgreSQL schema nobody else sees, dropped afterwards (tests and
    benchmarks use it so runs never share rows)."""
    server = parse_database_url(server_url)
    schema = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server)
    try:
        with admin.begin() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
        scoped = server.update_query_dict({"options": f"-csearch_path={schema}"})
        yield scoped.render_as_string(hide_password=False)
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()
