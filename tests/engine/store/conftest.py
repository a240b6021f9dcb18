"""Store fixtures: every store test runs on SQLite and, when a server is named, PostgreSQL."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from engine.store import Store, parse_database_url

POSTGRES_URL_VARIABLE = "NURTURE_TEST_DATABASE_URL"
POSTGRES_MISSING = "NURTURE_TEST_DATABASE_URL is not set; PostgreSQL store tests need a server"


@pytest.fixture(
    name="store",
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)],
)
def store_fixture(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """An empty store on a SQLite file, or in a fresh PostgreSQL schema of its own."""
    if request.param == "sqlite":
        store = Store(f"sqlite:///{tmp_path / 'nurture.db'}")
        yield store
        store.dispose()
        return
    server_url = os.environ.get(POSTGRES_URL_VARIABLE)
    if not server_url:
        pytest.skip(POSTGRES_MISSING)
    with _private_schema(server_url) as url:
        store = Store(url)
        yield store
        store.dispose()


@pytest.fixture(name="now")
def now_fixture() -> datetime:
    """A fixed moment, so rows compare exactly."""
    return datetime(2026, 1, 5, 9, 30, tzinfo=UTC)


@contextmanager
def _private_schema(server_url: str) -> Iterator[str]:
    """A URL for a schema only one test sees, so tests never share rows or clash with others."""
    server = parse_database_url(server_url)
    schema = f"store_test_{uuid.uuid4().hex[:12]}"
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
