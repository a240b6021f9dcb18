"""Schema revisions against real databases: a past release's database, rows and all, upgrades
with nothing lost; the baseline is exactly release 0.1.0's schema; and the newest revision
matches the models, so a table or column changed without a revision fails here.

Past releases run their own code, checked out with `git worktree` (tests/releases.py), on
SQLite and, with NURTURE_TEST_DATABASE_URL, in a fresh PostgreSQL schema.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import Engine, inspect, text
from sqlmodel import Session, select

from engine.store import Inbound, InboundKind, Store, upgrade_schema
from engine.store.connect import connect
from engine.store.revisions import BASELINE, alembic_config, head, model_drift, scripts
from engine.store.tables import EmailClickRow, InboundRow
from tests.engine.store import release_data as rows
from tests.engine.store.release_data import create_with_release, fill_with_release
from tests.releases import release_tree, releases


@pytest.fixture(name="release", scope="module", params=[r.version for r in releases()])
def release_fixture(request: pytest.FixtureRequest) -> Iterator[Path]:
    """A checkout of a past release, shared by the module's tests."""
    with release_tree(request.param) as tree:
        yield tree


def upgrade(url: str, to: str = "head") -> None:
    """Upgrade the database at `url` to a revision, as `nurture db upgrade` would."""
    engine = connect(url)
    try:
        if to == "head":
            upgrade_schema(engine)
        else:
            with engine.begin() as connection:
                command.upgrade(alembic_config(connection), to)
    finally:
        engine.dispose()


def test_revisions_form_one_numbered_line() -> None:
    line = list(reversed(list(scripts().walk_revisions())))

    assert [script.revision for script in line] == [f"{n:04d}" for n in range(1, len(line) + 1)]
    assert [script.down_revision for script in line] == [None] + [s.revision for s in line[:-1]]
    assert line[0].revision == BASELINE and head() == line[-1].revision


def test_a_release_database_with_rows_upgrades_with_nothing_lost(
        release: Path, blank_database: Callable[[], str]) -> None:
    url = blank_database()
    written = fill_with_release(release, url)

    engine = connect(url)
    try:
        done = upgrade_schema(engine)
    finally:
        engine.dispose()

    assert done.adopted and done.before is None and done.after == head()
    with Store(url) as store:
        assert rows.count_rows(store) == written["counts"]
        assert store.get_lead(rows.LEAD.id) == rows.LEAD
        lead = store.lead_row(rows.LEAD.id)
        assert lead is not None
        assert (lead.phase, lead.track) == ("acceleration", "pricing_intent")
        assert lead.created_at == rows.NOW - timedelta(days=3) and lead.updated_at == rows.NOW
        assert store.colleagues(rows.LEAD.id, "acme-analytics.io") == [rows.COLLEAGUE.id]
        assert store.events_for(rows.LEAD.id) == list(reversed(rows.EVENTS))
        send = store.get_send(rows.SEND_KEY)
        assert send is not None
        assert (send.status, send.links, send.sent_at) == (
            "sent", rows.SEND_LINKS, rows.NOW - timedelta(days=2))
        escalation = store.sales_task(rows.ESCALATION)
        assert escalation is not None
        assert (escalation.status, escalation.owner, escalation.recycle_until) == (
            "recycled", "lena", date(2027, 4, 1))
        assert escalation.handoff == {"source": "webinar", "tier": 1}
        assert [entry["kind"] for entry in escalation.timeline] == ["opened", "recycled"]
        assert [task.id for task in store.sales_tasks(rows.COLLEAGUE.id)] == [rows.ALERT]
        assert store.suppression(rows.SUPPRESSED.lower()) == "hard bounce 5.1.1"
        assert store.inbound_counts(rows.LEAD.id) == {"delivered": 1}
        assert [row.payload for row in store.pending_inbound()] == [{"event": "Page Viewed"}]
        assert store.identity([rows.ANONYMOUS_ID]) == {rows.ANONYMOUS_ID: rows.LEAD.id}
        contact = store.contacts([rows.LEAD.id])[rows.LEAD.id]
        assert (contact.traits, contact.enrolled) == ({"plan": "trial"}, True)
        assert not store.hold_lease("relay", "api-2", ttl=timedelta(minutes=1), now=rows.NOW)
        assert store.token_user(written["token"]) == ("lena", "rep")
        assert store.next_turn() == 2

        # 0002: leads stored before it stand at no step, on no recorded playbook version.
        assert (lead.step, lead.playbook_version) == (None, None)
        assert store.playbook_versions() == []
        store.set_lead_position(rows.LEAD.id, phase="acceleration", track="pricing_intent",
                                step="pause", playbook_version="v2", now=rows.NOW)
        assert [(p.lead_id, p.step) for p in store.lead_positions(version="v2")] == [
            (rows.LEAD.id, "pause")]

        # New rows go on where the release left off (PostgreSQL sequences survive).
        assert store.accept_inbound([Inbound(message_id="msg-3", kind=InboundKind.EVENT,
                                             lead_id=rows.LEAD.id)], now=rows.NOW) == 1
        click = store.record_click(rows.SEND_KEY, 0, now=rows.NOW, burst=timedelta(0),
                                   scanner_after_send=timedelta(0))
        with Session(store.engine) as session:
            assert click.id == max(session.exec(select(EmailClickRow.id))) == 2
            assert sorted(session.exec(select(InboundRow.seq))) == [1, 2, 3]


def test_0004_keys_the_leads_stored_before_it_by_their_company_in_any_case(
        blank_database: Callable[[], str]) -> None:
    url = blank_database()
    upgrade(url, to="0003")
    engine = connect(url)
    try:
        with engine.begin() as connection:
            for lead_id, domain in [("a", " Initech.COM "), ("b", "initech.com"),
                                    ("c", "initrode.com"), ("d", "  "), ("e", None)]:
                connection.execute(text(
                    "INSERT INTO leads (id, email, company_domain, phase, created_at, "
                    "updated_at) VALUES (:id, :email, :domain, 'qualification', :at, :at)"),
                    {"id": lead_id, "email": f"{lead_id}@x.io", "domain": domain,
                     "at": rows.NOW})
    finally:
        engine.dispose()
    upgrade(url)

    with Store(url) as store:
        assert store.colleagues("b", "INITECH.com") == ["a"]
        assert store.colleagues("x", "initech.com ") == ["a", "b"]
        assert store.colleagues("x", "initrode.com") == ["c"]
        assert [store.lead_row(i).company_key for i in "de"] == [None, None]  # type: ignore[union-attr]


def test_the_baseline_is_exactly_release_0_1_0s_schema(
        blank_database: Callable[[], str]) -> None:
    made_by_release, made_by_baseline = blank_database(), blank_database()
    with release_tree("0.1.0") as tree:
        create_with_release(tree, made_by_release)
    upgrade(made_by_baseline, to=BASELINE)

    assert schema_of(made_by_baseline) == schema_of(made_by_release)


def test_the_models_match_the_newest_revision(blank_database: Callable[[], str]) -> None:
    # Fails when a table, column or index changed in engine/store/tables.py without a
    # revision: draft one with `nurture db revision -m "..."` (docs/migrations.md).
    with Store(blank_database(), upgrade=True) as store, store.engine.connect() as connection:
        assert model_drift(connection) == []


def test_the_drift_check_sees_a_difference(tmp_path: Path) -> None:
    with Store(f"sqlite:///{tmp_path / 'drift.db'}", upgrade=True) as store:
        with store.engine.begin() as connection:
            connection.execute(text("DROP INDEX ix_leads_email"))
        with store.engine.connect() as connection:
            drift = model_drift(connection)

    assert [change[0] for change in drift] == ["add_index"]


def schema_of(url: str) -> dict[str, Any]:
    """Every table's columns, keys, indexes and constraints as the database reports them,
    and on SQLite the statements that made them (the version table left out)."""
    engine = connect(url)
    try:
        return _describe(engine)
    finally:
        engine.dispose()


def _describe(engine: Engine) -> dict[str, Any]:
    inspector = inspect(engine)
    described: dict[str, Any] = {}
    for table in sorted(set(inspector.get_table_names()) - {"alembic_version"}):
        described[table] = {
            "columns": [(c["name"], str(c["type"]), c["nullable"], c.get("default"),
                         c.get("autoincrement")) for c in inspector.get_columns(table)],
            "primary key": inspector.get_pk_constraint(table),
            "indexes": sorted((i["name"] or "", i["column_names"], i["unique"])
                              for i in inspector.get_indexes(table)),
            "unique": sorted((u["name"] or "", u["column_names"])
                             for u in inspector.get_unique_constraints(table)),
            "foreign keys": inspector.get_foreign_keys(table),
            "checks": inspector.get_check_constraints(table),
        }
    if engine.dialect.name == "sqlite":
        with engine.connect() as connection:
            described["sqlite_master"] = sorted(connection.execute(text(
                "SELECT type, name, tbl_name, coalesce(sql, '') FROM sqlite_master "
                "WHERE tbl_name != 'alembic_version'")).all())
    return described
