"""Store fixtures: every store test runs on SQLite and, when a server is named, PostgreSQL."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path

import pytest

from engine.store import Store
from engine.store.connect import scratch_schema

POSTGRES_URL_VARIABLE = "NURTURE_TEST_DATABASE_URL"
POSTGRES_MISSING = "NURTURE_TEST_DATABASE_URL is not set; PostgreSQL store tests need a server"


@pytest.fixture(
    name="store",
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)],
)
def store_fixture(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """An empty store on a SQLite file, or in a fresh PostgreSQL schema of its own."""
    if request.param == "sqlite":
        store = Store(f"sqlite:///{tmp_path / 'nurture.db'}", upgrade=True)
        yield store
        store.dispose()
        return
    server_url = os.environ.get(POSTGRES_URL_VARIABLE)
    if not server_url:
        pytest.skip(POSTGRES_MISSING)
    with scratch_schema(server_url, "store_test") as url:
        store = Store(url, upgrade=True)
        yield store
        store.dispose()


@pytest.fixture(
    name="blank_database",
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)],
)
def blank_database_fixture(request: pytest.FixtureRequest,
                           tmp_path: Path) -> Iterator[Callable[[], str]]:
    """Makes URLs of empty databases: new SQLite files, or fresh PostgreSQL schemas."""
    if request.param == "sqlite":
        made = iter(range(1_000))
        yield lambda: f"sqlite:///{tmp_path / f'blank-{next(made)}.db'}"
        return
    server_url = os.environ.get(POSTGRES_URL_VARIABLE)
    if not server_url:
        pytest.skip(POSTGRES_MISSING)
    with ExitStack() as schemas:
        yield lambda: schemas.enter_context(scratch_schema(server_url, "migration_test"))


@pytest.fixture(name="now")
def now_fixture() -> datetime:
    """A fixed moment, so rows compare exactly."""
    return datetime(2026, 1, 5, 9, 30, tzinfo=UTC)
