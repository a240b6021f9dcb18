"""The schema check every process makes at start, and upgrading: adopting a release 0.1.0
database, refusing what cannot be upgraded, and processes that start together."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import text
from sqlmodel import SQLModel

from engine.errors import SchemaError
from engine.store import SchemaStatus, Store, schema_status, upgrade_schema
from engine.store.connect import connect
from engine.store.revisions import BASELINE, alembic_config, between, head
from engine.store.schema import RELEASE_0_1_0_TABLES
from engine.store.tables import TABLES
from tests.engine.store.conftest import POSTGRES_MISSING, POSTGRES_URL_VARIABLE

ROOT = Path(__file__).resolve().parents[3]


def made_by_release_0_1_0(url: str) -> None:
    """Make the database as release 0.1.0 left it: the baseline's tables (test_migrations
    proves them equal to 0.1.0's), no version table."""
    engine = connect(url)
    try:
        with engine.begin() as connection:
            command.upgrade(alembic_config(connection), BASELINE)
            connection.execute(text("DROP TABLE alembic_version"))
    finally:
        engine.dispose()


def test_a_store_refuses_an_empty_database_and_names_the_command(
        blank_database: Callable[[], str]) -> None:
    with pytest.raises(SchemaError, match=r"no nurture tables yet; create them with "
                                          r"`nurture db upgrade`"):
        Store(blank_database())


def test_a_store_refuses_a_release_0_1_0_database_until_it_is_upgraded(
        blank_database: Callable[[], str]) -> None:
    url = blank_database()
    made_by_release_0_1_0(url)

    with pytest.raises(SchemaError, match=r"made by nurture 0\.1\.0.*`nurture db upgrade`"):
        Store(url)
    engine = connect(url)
    try:
        done = upgrade_schema(engine)
        again = upgrade_schema(engine)
    finally:
        engine.dispose()

    assert (done.before, done.after, done.adopted) == (None, head(), True)
    assert done.applied == between(BASELINE, head())  # the baseline itself is not run again
    assert (again.before, again.adopted, again.applied) == (head(), False, [])
    Store(url).dispose()


def test_upgrading_an_empty_database_applies_every_revision_once(tmp_path: Path) -> None:
    engine = connect(f"sqlite:///{tmp_path / 'nurture.db'}")
    try:
        done = upgrade_schema(engine)
        status = schema_status(engine)
    finally:
        engine.dispose()

    assert done.applied[0].id == BASELINE and done.applied[-1].id == head()
    assert done.applied[0].title == "The schema of release 0.1.0 (baseline)"
    assert status.is_current and status.problem() is None


def test_a_behind_schema_names_both_revisions_and_the_command() -> None:
    status = SchemaStatus(url="sqlite:///n.db", revision=BASELINE, head="0999")

    assert status.problem() == (
        f"the database sqlite:///n.db is at schema revision {BASELINE}, this version needs "
        "0999; back it up, then run `nurture db upgrade`")


def test_a_database_a_newer_release_upgraded_is_refused_not_touched(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'nurture.db'}"
    with Store(url, upgrade=True) as store, store.engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '0999'"))

    with pytest.raises(SchemaError, match="revision 0999, which this version of nurture "
                                          "does not know: a newer release upgraded it"):
        Store(url, upgrade=True)
    engine = connect(url)
    try:
        assert schema_status(engine).revision == "0999"
    finally:
        engine.dispose()


def test_a_database_with_only_some_release_tables_is_refused(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'nurture.db'}"
    made_by_release_0_1_0(url)
    engine = connect(url)
    try:
        with engine.begin() as connection:
            connection.execute(text("DROP TABLE counters"))
        with pytest.raises(SchemaError, match="nurture's tables but not counters"):
            upgrade_schema(engine)
    finally:
        engine.dispose()


def test_a_database_a_development_version_made_is_refused_not_adopted(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'nurture.db'}"
    made_by_release_0_1_0(url)
    later = sorted({str(t.__tablename__) for t in TABLES} - RELEASE_0_1_0_TABLES)
    engine = connect(url)
    try:
        with engine.begin() as connection:
            SQLModel.metadata.tables[later[0]].create(connection)
        with pytest.raises(SchemaError, match=rf"tables release 0\.1\.0 did not make "
                                              rf"\({later[0]}\): a development version"):
            upgrade_schema(engine)
        assert schema_status(engine).revision is None
    finally:
        engine.dispose()


FAILING_REVISION = '''"""Half a change, then a failure, as a revision with a mistake does."""

import sqlalchemy as sa
from alembic import op

revision = "0999"
down_revision = "{parent}"


def upgrade() -> None:
    op.create_table("half_done", sa.Column("id", sa.Integer(), primary_key=True))
    raise RuntimeError("this revision has a mistake")
'''


def test_a_failing_revision_leaves_the_database_as_it_was(
        migrations_copy: Path, blank_database: Callable[[], str]) -> None:
    (migrations_copy / "versions" / "0999_failing.py").write_text(
        FAILING_REVISION.replace("{parent}", head()))
    url = blank_database()
    engine = connect(url)
    try:
        with pytest.raises(RuntimeError, match="has a mistake"):
            upgrade_schema(engine)
        status = schema_status(engine)
    finally:
        engine.dispose()

    # Every revision ran in one transaction, the baseline included: none of it is kept.
    assert (status.revision, status.tables) == (None, frozenset())


def start_together(folder: Path, rounds: int, server: str | None = None) -> list[Any]:
    """Rounds of three processes starting at once on a fresh database (start_together.py)."""
    done = subprocess.run(
        [sys.executable, "-m", "tests.engine.store.start_together", str(folder), str(rounds),
         *([server] if server else [])],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    return [json.loads(line) for line in done.stdout.splitlines()]


def assert_every_start_succeeded(played: list[Any], rounds: int) -> None:
    """Every process exited 0, at most one `nurture db upgrade` of a round applied
    revisions, and every database ended at the newest revision, recorded once."""
    assert len(played) == rounds
    failed = [p for r in played for p in r["processes"] if p["code"] != 0]
    assert failed == [], f"{len(failed)} starts failed; first: {failed[:1]}"
    for one in played:
        applied = [p for p in one["processes"] if "applied" in p["output"]]
        assert len(applied) <= 1, applied
        assert (one["revision"], one["versions"], one["drift"]) == (head(), 1, [])


def test_three_processes_starting_together_on_a_fresh_sqlite_file_all_succeed(
        tmp_path: Path) -> None:
    # Before the lock, one start in five failed with "table leads already exists".
    assert_every_start_succeeded(start_together(tmp_path, 20), 20)


@pytest.mark.postgres
def test_three_processes_starting_together_on_fresh_postgresql_all_succeed(
        tmp_path: Path) -> None:
    server = os.environ.get(POSTGRES_URL_VARIABLE)
    if not server:
        pytest.skip(POSTGRES_MISSING)
    assert_every_start_succeeded(start_together(tmp_path, 5, server), 5)
