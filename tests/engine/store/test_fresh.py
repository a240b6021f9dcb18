"""A new database made straight from the models is the database the revisions make: the
same tables, columns, keys and indexes (a column a revision added comes last there, where
the models put it; nothing reads columns by position), stamped at the newest revision, so
the schema check finds it current and a later `nurture db upgrade` finds nothing to do."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from engine.errors import SchemaError
from engine.leads import LeadProfile
from engine.store import Store, schema_status, upgrade_schema
from engine.store.fresh import create_current_schema, newest_revision
from engine.store.revisions import head, model_drift
from tests.engine.store.test_migrations import schema_of


def test_the_newest_revision_is_read_from_the_file_names_as_alembic_finds_it() -> None:
    assert newest_revision() == head()


def test_a_created_database_is_the_one_the_revisions_make(
        blank_database: Callable[[], str]) -> None:
    created, upgraded = blank_database(), blank_database()
    Store(created, create=True).dispose()
    Store(upgraded, upgrade=True).dispose()

    assert in_any_column_order(schema_of(created)) == in_any_column_order(schema_of(upgraded))
    with Store(created) as store, store.engine.connect() as connection:  # the check passes
        assert model_drift(connection) == []
        assert schema_status(store.engine).is_current


def test_a_created_database_needs_no_upgrade_and_keeps_its_rows(
        blank_database: Callable[[], str]) -> None:
    url = blank_database()
    with Store(url, create=True) as store:
        store.upsert_lead(LeadProfile(id="lead-1", email="ada@acme.io"), now=datetime.now(UTC))
        done = upgrade_schema(store.engine)

    assert done.applied == [] and done.before == done.after == head()
    with Store(url) as reopened:
        assert reopened.get_lead("lead-1") is not None


def test_a_database_with_tables_is_never_created_over(
        blank_database: Callable[[], str]) -> None:
    url = blank_database()
    Store(url, upgrade=True).dispose()

    with pytest.raises(SchemaError, match="not empty .*nurture db upgrade"):
        Store(url, create=True)
    with Store(url) as store:
        with pytest.raises(SchemaError, match="not empty"):
            create_current_schema(store.engine)


def in_any_column_order(schema: dict[str, Any]) -> dict[str, Any]:
    """The schema with each table's columns sorted by name, and on SQLite its statements
    split into sorted clauses (they list the columns in the order they were added)."""
    tables = {name: {**table, "columns": sorted(table["columns"])}
              for name, table in schema.items() if name != "sqlite_master"}
    if "sqlite_master" in schema:
        tables["sqlite_master"] = [
            (*row[:3], sorted(part.strip() for part in re.split(r"[,\n]", row[3])
                              if part.strip()))
            for row in schema["sqlite_master"]]
    return tables


def test_creating_a_database_never_loads_alembic() -> None:
    probe = ("import sys; from engine.store import Store; Store.temporary().dispose(); "
             "print(sorted(m for m in ('alembic', 'mako') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          check=True)
    assert done.stdout.strip() == "[]"


def test_a_scratch_file_is_created_and_its_commits_do_not_wait_for_the_disk(
        tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'scratch.db'}"
    with Store.scratch(url) as scratch, scratch.engine.connect() as connection:
        assert schema_status(scratch.engine).is_current
        assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == 0  # OFF
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    with Store(url) as kept, kept.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA synchronous").scalar() != 0
