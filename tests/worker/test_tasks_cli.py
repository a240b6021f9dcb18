"""`nurture tasks …` as an admin or a rep at a terminal runs it: over the configured
database, with Temporal unreachable (answers are refused, reading falls back to the store)."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import Result
from typer.testing import CliRunner

from engine.feedback import RejectReason
from engine.store import Store
from tests.engine.api.test_sales_api import seed
from tests.stack import free_port
from worker.cli import app


@pytest.fixture(name="env")
def _env(tmp_path: Path) -> Iterator[dict[str, str]]:
    """Settings naming a seeded SQLite file and a Temporal address nobody listens on."""
    url = f"sqlite:///{tmp_path}/nurture.db"
    store = Store(url, upgrade=True)
    seed(store, datetime.now(UTC))
    store.dispose()
    yield {"NURTURE_DATABASE_URL": url, "TEMPORAL_ADDRESS": f"127.0.0.1:{free_port()}",
           "COLUMNS": "200"}


def nurture(env: dict[str, str], *args: str) -> Result:
    return CliRunner().invoke(app, ["tasks", *args], env=env)


def open_store(env: dict[str, str]) -> Store:
    return Store(env["NURTURE_DATABASE_URL"])


def test_token_prints_a_new_token_once_and_revoke_ends_it(env: dict[str, str]) -> None:
    issued = nurture(env, "token", "lena")
    assert issued.exit_code == 0, issued.output
    token = issued.stdout.strip()
    assert token.startswith("nt_") and "shown once" in issued.stderr
    manager = nurture(env, "token", "priya", "--manager").stdout.strip()
    store = open_store(env)
    try:
        assert store.token_user(token) == ("lena", "rep")
        assert store.token_user(manager) == ("priya", "manager")
        revoked = nurture(env, "revoke", "lena")
        assert revoked.exit_code == 0 and "revoked 1 token of lena" in revoked.stdout
        assert store.token_user(token) is None
        assert store.token_user(manager) == ("priya", "manager")
    finally:
        store.dispose()


def test_a_rep_token_needs_a_rep_in_the_routing_rules(env: dict[str, str]) -> None:
    refused = nurture(env, "token", "lenna")

    assert refused.exit_code == 1 and refused.stdout == ""
    assert "'lenna' is not a rep in the playbook's routing rules" in refused.stderr
    assert "jordan, lena, priya, sam" in refused.stderr
    store = open_store(env)
    try:
        assert store.revoke_tokens("lenna", now=datetime.now(UTC)) == 0  # none was issued
        admin = nurture(env, "token", "ops-admin", "--manager")  # managers may be anyone
        assert store.token_user(admin.stdout.strip()) == ("ops-admin", "manager")
    finally:
        store.dispose()


def test_list_shows_every_open_escalation_soonest_due_first(env: dict[str, str]) -> None:
    listed = nurture(env, "list", "--json")
    assert listed.exit_code == 0, listed.output
    body = json.loads(listed.stdout)
    assert [t["id"] for t in body["tasks"]] == [
        "cy:escalation:3", "ana:escalation:2", "bo:escalation:4", "xss:escalation:1",
        "web/eve:escalation:9"]
    assert body["tasks"][0]["sla"].startswith("overdue by 1 h")
    filtered = json.loads(nurture(env, "list", "--owner", "jordan", "--tier", "1",
                                  "--json").stdout)
    assert [t["id"] for t in filtered["tasks"]] == ["ana:escalation:2"]
    closed = json.loads(nurture(env, "list", "--status", "rejected", "--json").stdout)
    assert [t["id"] for t in closed["tasks"]] == ["dee:escalation:5"]

    table = nurture(env, "list")
    assert table.exit_code == 0
    assert "cy:escalation:3" in table.stdout and "Cy Diaz" in table.stdout
    assert "Sam Ortiz" in table.stdout and "overdue by 1 h" in table.stdout
    assert "<script>alert(1)</script>" in table.stdout  # shown as typed, not read as markup


def test_list_refuses_an_unknown_status(env: dict[str, str]) -> None:
    done = nurture(env, "list", "--status", "pending")
    assert done.exit_code == 2 and "unknown status 'pending'" in done.stderr
    assert "recycled" in done.stderr


def test_show_prints_the_handoff_package_and_both_timelines(env: dict[str, str]) -> None:
    shown = nurture(env, "show", "ana:escalation:2", "--json")
    assert shown.exit_code == 0, shown.output
    body = json.loads(shown.stdout)
    assert body["task"]["handoff"]["likely_pain"] == "needs to justify the spend with numbers"
    assert body["lead"]["first_name"] == "Ana"
    assert body["lead_timeline"]["source"] == "store"
    assert [e["kind"] for e in body["task_timeline"]] == ["opened"]

    text = nurture(env, "show", "ana:escalation:2")
    assert text.exit_code == 0
    for part in ("Tier 1", "Ana Ruiz — VP Marketing at Acme", "Jordan Lee", "likely pain",
                 "lead timeline (from the store)"):
        assert part in text.stdout, part
    # In the owner's words and zone: Jordan works from New York.
    assert re.search(r"\d\d:\d\d E[SD]T +lead +viewed the pricing page", text.stdout)

    missing = nurture(env, "show", "nope:escalation:1")
    assert missing.exit_code == 1 and "no task 'nope:escalation:1'" in missing.stderr


def test_an_unknown_reason_exits_2_listing_every_allowed_one(env: dict[str, str]) -> None:
    done = nurture(env, "reject", "ana:escalation:2", "--reason", "meh")
    assert done.exit_code == 2
    assert "unknown reject reason 'meh'" in done.stderr
    assert all(reason.value in done.stderr for reason in RejectReason)


def test_a_timing_reject_without_a_date_exits_2(env: dict[str, str]) -> None:
    done = nurture(env, "reject", "ana:escalation:2", "--reason", "Timing not active")
    assert done.exit_code == 2 and "needs the date" in done.stderr


def test_answering_a_closed_task_exits_1_saying_how_it_was_closed(env: dict[str, str]) -> None:
    done = nurture(env, "accept", "dee:escalation:5")
    assert done.exit_code == 1
    assert "already rejected (Duplicate record)" in done.stderr and "by jordan" in done.stderr


def test_an_answer_while_temporal_is_down_exits_1_and_changes_nothing(
        env: dict[str, str]) -> None:
    store = open_store(env)
    try:
        before = store.sales_task("ana:escalation:2")
        done = nurture(env, "recycle", "ana:escalation:2", "--until", "2031-01-01")
        assert done.exit_code == 1
        assert "Temporal is unreachable" in done.stderr and "nothing changed" in done.stderr
        assert store.sales_task("ana:escalation:2") == before
    finally:
        store.dispose()


def seeded_folder(folder: Path) -> Path:
    """A data folder like `nurture dev --data-dir` leaves: its database with tasks."""
    folder.mkdir(parents=True, exist_ok=True)
    store = Store(f"sqlite:///{folder / 'nurture.db'}", upgrade=True)
    seed(store, datetime.now(UTC))
    store.dispose()
    return folder


def no_database_env() -> dict[str, str | None]:
    """The environment of a user who set nothing: NURTURE_DATABASE_URL unset."""
    return {"NURTURE_DATABASE_URL": None, "NURTURE_BASE_URL": None,
            "TEMPORAL_ADDRESS": f"127.0.0.1:{free_port()}", "COLUMNS": "200"}


def test_data_dir_reads_that_folders_database_not_the_default_one(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".nurture").mkdir()
    demo = Store(f"sqlite:///{tmp_path / '.nurture' / 'nurture.db'}", upgrade=True)
    demo.dispose()  # the demo's folder: a database without any task
    mine = seeded_folder(tmp_path / "mine")

    default = CliRunner().invoke(app, ["tasks", "list", "--json"], env=no_database_env())
    chosen = CliRunner().invoke(app, ["tasks", "list", "--json", "--data-dir", str(mine)],
                                env=no_database_env())

    assert default.exit_code == 0 and json.loads(default.stdout)["tasks"] == []
    assert chosen.exit_code == 0, chosen.output
    assert len(json.loads(chosen.stdout)["tasks"]) == 5


def test_without_a_database_it_says_so_and_creates_nothing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)

    default = CliRunner().invoke(app, ["tasks", "list"], env=no_database_env())
    empty = CliRunner().invoke(app, ["tasks", "token", "lena", "--data-dir", "elsewhere"],
                               env=no_database_env())

    assert default.exit_code == 2 and default.stdout == ""
    assert "there is no nurture database in .nurture/" in default.stderr
    assert "--data-dir" in default.stderr and "NURTURE_DATABASE_URL" in default.stderr
    assert empty.exit_code == 2 and empty.stdout == ""  # no token issued
    assert "--data-dir elsewhere holds no nurture database" in empty.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # no folder, no empty database


def test_a_token_names_the_inbox_of_the_running_dev_stack(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from worker.dev_addresses import DevAddresses, keep

    monkeypatch.chdir(tmp_path)
    folder = seeded_folder(tmp_path / "data")
    keep(folder, DevAddresses(api_url="http://127.0.0.1:8123", temporal_address="127.0.0.1:7300",
                              ui_url="http://127.0.0.1:8300", pid=os.getpid()))

    issued = CliRunner().invoke(app, ["tasks", "token", "lena", "--data-dir", str(folder)],
                                env=no_database_env())

    assert issued.exit_code == 0, issued.output
    assert "sign in at http://127.0.0.1:8123/inbox/login" in issued.stderr
    stale = DevAddresses(api_url="http://127.0.0.1:8123", temporal_address="127.0.0.1:7300",
                         ui_url=None, pid=2**22 + 7)  # above Linux's pid_max: nobody runs it
    keep(folder, stale)
    again = CliRunner().invoke(app, ["tasks", "token", "lena", "--data-dir", str(folder)],
                               env=no_database_env())
    assert "sign in at http://127.0.0.1:8000/inbox/login" in again.stderr  # the default


def test_lead_text_reaches_the_terminal_as_text_not_escape_sequences(
        env: dict[str, str]) -> None:
    store = open_store(env)
    lead = store.get_lead("bo")
    assert lead is not None
    store.upsert_lead(lead.model_copy(update={"first_name": "Bo\x1b[2J\x1b]0;owned\x07"}),
                      now=datetime.now(UTC))
    store.dispose()

    listed = nurture(env, "list")
    shown = nurture(env, "show", "bo:escalation:4")
    unknown = nurture(env, "show", "nope\x1b[31m")

    for result in (listed, shown):
        assert result.exit_code == 0, result.output
        assert "\x1b[2J" not in result.stdout and "\x07" not in result.stdout
    assert "Bo\\x1b[2J" in shown.stdout
    assert "\x1b" not in unknown.stderr and "nope\\x1b[31m" in unknown.stderr
