"""`nurture db …` as an operator runs it, and `nurture api` / `nurture worker` refusing a
database whose schema is not the newest, with the command that fixes it."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest
from click.testing import Result
from sqlalchemy import Column, String, Table
from sqlmodel import SQLModel
from typer.testing import CliRunner

from engine.store import Store
from engine.store.revisions import head, model_drift, next_id
from engine.store.timestamps import UTCDateTime
from tests.engine.store.release_data import create_with_release
from tests.releases import release_tree
from worker.cli import app

ROOT = Path(__file__).resolve().parents[2]
NURTURE = Path(sys.executable).parent / "nurture"
UPGRADE = "`nurture db upgrade`"


@pytest.fixture(name="release_database", scope="module")
def release_database_fixture(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file as release 0.1.0's own code created it (copy it before changing it)."""
    path = tmp_path_factory.mktemp("release") / "nurture.db"
    with release_tree("0.1.0") as tree:
        create_with_release(tree, f"sqlite:///{path}")
    return path


def db(url: str, *args: str) -> Result:
    return CliRunner().invoke(app, ["db", *args], env={"NURTURE_DATABASE_URL": url})


def nurture(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    """The installed `nurture` command, on the database at `url`."""
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "NURTURE_DATABASE_URL": url,
           "NURTURE_WRITE_KEYS": "k", "TEMPORAL_ADDRESS": "127.0.0.1:1"}
    return subprocess.run([str(NURTURE), *args], capture_output=True, text=True, cwd=ROOT,
                          timeout=60, env=env, check=False)


def test_current_on_a_missing_database_says_what_creates_it_and_creates_nothing(
        tmp_path: Path) -> None:
    shown = db(f"sqlite:///{tmp_path / 'data' / 'nurture.db'}", "current")

    assert shown.exit_code == 1
    assert f"no database yet; {UPGRADE} creates it at revision {head()}" in shown.stdout
    assert not (tmp_path / "data").exists()


def test_upgrade_creates_the_schema_and_current_then_says_up_to_date(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'data' / 'nurture.db'}"

    upgraded = db(url, "upgrade")
    shown = db(url, "current")
    again = db(url, "upgrade")

    assert upgraded.exit_code == 0, upgraded.output
    assert "applied   0001  The schema of release 0.1.0 (baseline)" in upgraded.stdout
    assert f"now at    {head()}, the newest revision" in upgraded.stdout
    assert shown.exit_code == 0, shown.output
    assert f"revision  {head()}" in shown.stdout and shown.stdout.endswith("up to date\n")
    assert again.exit_code == 0
    assert f"already at {head()}, the newest revision: nothing to apply" in again.stdout


def test_upgrade_adopts_a_release_0_1_0_database(release_database: Path,
                                                 tmp_path: Path) -> None:
    url = f"sqlite:///{shutil.copy(release_database, tmp_path / 'nurture.db')}"

    before = db(url, "current")
    upgraded = db(url, "upgrade")
    after = db(url, "current")

    assert before.exit_code == 1
    assert "revision  none (made by nurture 0.1.0)" in before.stdout
    assert f"bring it to revision {head()} with {UPGRADE}" in before.stdout
    assert upgraded.exit_code == 0, upgraded.output
    assert ("adopted   a release 0.1.0 database as 0001  The schema of release 0.1.0 "
            "(baseline)") in upgraded.stdout
    assert after.exit_code == 0 and "up to date" in after.stdout


def test_the_api_refuses_a_release_0_1_0_database_and_names_the_upgrade(
        release_database: Path, tmp_path: Path) -> None:
    url = f"sqlite:///{shutil.copy(release_database, tmp_path / 'nurture.db')}"

    refused = nurture(url, "api")

    assert refused.returncode == 1
    assert "made by nurture 0.1.0 and has no schema revision yet" in refused.stderr
    assert refused.stderr.strip().endswith(f"with {UPGRADE}")


def test_the_worker_refuses_a_database_without_tables_instead_of_creating_them(
        tmp_path: Path) -> None:
    path = tmp_path / "nurture.db"

    refused = nurture(f"sqlite:///{path}", "worker")

    assert refused.returncode == 1
    assert f"has no nurture tables yet; create them with {UPGRADE}" in refused.stderr
    with closing(sqlite3.connect(path)) as database:  # nothing made behind the operator's back
        assert database.execute("SELECT count(*) FROM sqlite_master").fetchone() == (0,)


@pytest.fixture(name="new_model")
def new_model_fixture() -> Iterator[Table]:
    """A table the models have and no revision creates, removed again afterwards."""
    table = Table("lead_notes", SQLModel.metadata,
                  Column("id", String(200), primary_key=True),
                  Column("written_at", UTCDateTime(), nullable=False))
    yield table
    SQLModel.metadata.remove(table)


def test_revision_drafts_the_next_revision_from_the_models(
        migrations_copy: Path, new_model: Table, tmp_path: Path) -> None:
    number, parent = next_id(), head()

    drafted = db("sqlite://", "revision", "-m", "add lead notes")

    assert drafted.exit_code == 0, drafted.output
    path = migrations_copy / "versions" / f"{number}_add_lead_notes.py"
    assert f"wrote {path}" in drafted.stdout and "upgrade() is empty" not in drafted.stdout
    source = path.read_text()
    assert f"revision = '{number}'" in source
    assert f"down_revision: str | None = '{parent}'" in source
    assert "sa.DateTime(timezone=True)" in source and "engine.store" not in source
    with Store(f"sqlite:///{tmp_path / 'drafted.db'}", upgrade=True) as store, \
            store.engine.connect() as connection:
        assert model_drift(connection) == []  # the draft creates exactly the new table


def test_revision_without_model_changes_says_upgrade_is_empty(migrations_copy: Path) -> None:
    number = next_id()

    drafted = db("sqlite://", "revision", "-m", "move data")

    assert drafted.exit_code == 0, drafted.output
    assert "upgrade() is empty" in drafted.stdout
    assert (migrations_copy / "versions" / f"{number}_move_data.py").exists()
