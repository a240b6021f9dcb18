"""`nurture tracks versions` and `migrate --dry-run` over the configured database, as an ops
person runs them (no Temporal needed to look)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import Result
from typer.testing import CliRunner

from engine.leads import LeadProfile
from engine.store import Store
from tests.engine.runtime.test_migrate import A, B
from tests.stack import free_port
from worker.cli import app

NOW = datetime(2026, 3, 3, 15, tzinfo=UTC)


@pytest.fixture(name="env")
def _env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """A database with three leads on version A (two waiting in `pause`, one with sales)
    and B as the playbook the command loads."""
    url = f"sqlite:///{tmp_path}/nurture.db"
    with Store(url, upgrade=True) as store:
        store.save_playbook(A, now=NOW)
        for lead_id, phase, step in (("ana", "qualification", "pause"),
                                     ("ben", "qualification", "pause"), ("cy", "sales", None)):
            store.upsert_lead(LeadProfile(id=lead_id, email=f"{lead_id}@acme.io"), now=NOW)
            store.set_lead_position(lead_id, phase=phase, track="trial" if step else None,
                                    step=step, playbook_version=A.version, now=NOW)
    return {"NURTURE_DATABASE_URL": url, "TEMPORAL_ADDRESS": f"127.0.0.1:{free_port()}",
            "NURTURE_PLAYBOOK": "tests.worker.test_tracks_versions:B", "COLUMNS": "200"}


def nurture(env: dict[str, str], *args: str) -> Result:
    return CliRunner().invoke(app, ["tracks", *args], env=env)


def test_versions_counts_leads_by_version_track_and_step_and_marks_the_current(
        env: dict[str, str]) -> None:
    result = nurture(env, "versions")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith(f"{A.version} (2026-03-03 15:00 UTC): 3 leads")
    assert "2  qualification  trial.pause" in result.output
    assert "1  sales          -" in result.output
    assert f"{B.version} (" in result.output and "0 leads  <- current" in result.output


def test_the_dry_run_lists_where_each_group_lands_and_changes_nothing(
        env: dict[str, str]) -> None:
    result = nurture(env, "migrate", "--dry-run", "--map", "pause=rest")
    assert result.exit_code == 0, result.output
    assert f"would move 2 leads to version {B.version} (3 not on it)" in result.output
    assert f"2  {A.version}  trial.pause -> trial.rest  moves (mapped)" in result.output
    assert "left alone: with sales" in result.output
    with Store(env["NURTURE_DATABASE_URL"]) as store:
        assert {p.version for p in store.lead_positions()} == {A.version}
    unmapped = nurture(env, "migrate", "--dry-run")
    assert "stays: step 'pause' is gone; add --map pause=STEP" in unmapped.output


def test_unknown_versions_and_steps_get_a_clear_error(env: dict[str, str]) -> None:
    unknown = nurture(env, "migrate", "--from", "0123abc", "--dry-run")
    assert unknown.exit_code == 2
    assert f"unknown version '0123abc'; stored versions: {A.version}" in unknown.output
    bad_step = nurture(env, "migrate", "--map", "pause=nowhere", "--dry-run")
    assert bad_step.exit_code == 2 and "has no step 'nowhere'" in bad_step.output
    bad_map = nurture(env, "migrate", "--map", "pause", "--dry-run")
    assert bad_map.exit_code == 2 and "write it as OLD_STEP=NEW_STEP" in bad_map.output


def test_diff_says_in_words_what_changed_since_the_version_leads_run(
        env: dict[str, str]) -> None:
    result = nurture(env, "diff")
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"Playbook {A.version} → {B.version}")
    assert "step `pause` removed (was: waits 5 days)" in result.output
    assert "step `rest` added after `hello`: waits 7 days" in result.output
    assert "sends template `education_pipeline` instead of `activation_value`" in result.output
    unknown = nurture(env, "diff", "--from", "nope")
    assert unknown.exit_code == 2 and "unknown version 'nope'" in unknown.output
