"""Opening a store: the URLs it accepts and the errors that say how to fix the rest."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from engine.errors import ConfigError
from engine.leads import LeadProfile
from engine.store import Store, mask_password, parse_database_url


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("nurture.db", "not a database URL"),
        ("mysql://app:hunter2@db/nurture", "'mysql' is not supported"),
        ("postgresql://app:hunter2@db", "names no database"),
    ],
)
def test_a_bad_url_names_the_problem_and_the_expected_forms(url: str, problem: str) -> None:
    with pytest.raises(ConfigError) as caught:
        Store(url)

    message = str(caught.value)
    assert problem in message
    assert "sqlite:///path.db" in message
    assert "postgresql+psycopg://user@host/db" in message
    assert "hunter2" not in message


def test_an_unreachable_server_is_a_config_error_without_the_password() -> None:
    with pytest.raises(ConfigError, match=r"app:\*\*\*@127\.0\.0\.1:1/nurture") as caught:
        Store("postgresql+psycopg://app:hunter2@127.0.0.1:1/nurture?connect_timeout=2")
    assert "hunter2" not in str(caught.value)


def test_a_sqlite_file_in_a_missing_folder_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="folder exists"):
        Store(f"sqlite:///{tmp_path / 'missing' / 'nurture.db'}")


@pytest.mark.parametrize("scheme", ["postgresql", "postgres", "postgresql+psycopg"])
def test_plain_postgresql_urls_use_the_psycopg_driver(scheme: str) -> None:
    parsed = parse_database_url(f"{scheme}://app@db.internal:5432/nurture")

    assert parsed.drivername == "postgresql+psycopg"
    assert (parsed.host, parsed.database) == ("db.internal", "nurture")


def test_passwords_are_masked_even_with_an_at_sign() -> None:
    assert mask_password("postgresql://app:p@ss@db/n") == "postgresql://app:***@db/n"
    assert mask_password("sqlite:///nurture.db") == "sqlite:///nurture.db"


def test_a_sqlite_file_store_keeps_its_rows_across_reopening(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'nurture.db'}"
    with Store(url, upgrade=True) as store:
        store.upsert_lead(LeadProfile(id="lead-1", email="ada@acme.io"), now=datetime.now(UTC))

    with Store(url) as reopened:
        assert reopened.get_lead("lead-1") is not None


def test_a_temporary_store_is_one_database_shared_by_every_session() -> None:
    with Store.temporary() as store:
        store.upsert_lead(LeadProfile(id="lead-1", email="ada@acme.io"), now=datetime.now(UTC))
        assert store.get_lead("lead-1") is not None

    with Store.temporary() as fresh:
        assert fresh.get_lead("lead-1") is None
