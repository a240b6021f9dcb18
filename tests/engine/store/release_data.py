"""Databases made by a past release's own code: its tables, and rows in every one of them.

`fill_with_release(tree, url)` runs this file as a script with the release's checkout
(tests/releases.py) first on the path and as the working folder:

    cd RELEASE_TREE && PYTHONPATH=RELEASE_TREE python path/to/release_data.py DATABASE_URL

The release's `Store(url)` creates its tables the way that release did, and `write_rows`
fills them through its API. The script prints JSON: the sign-in token it issued and how many
rows each table holds. The tests use the values below to find every row again through the
current code. The script part keeps to the API every release in releases.toml has.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import text

import engine
from engine.events import Event
from engine.leads import LeadProfile
from engine.store import Inbound, InboundKind, LeadDelivery, Store

NOW = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)
LEAD = LeadProfile(
    id="lead-ana", email="ana@acme-analytics.io", first_name="Ana", last_name="Ruiz",
    title="VP Marketing", company="Acme Analytics", company_domain="acme-analytics.io",
    company_size=500, industry="saas", country="US", timezone="America/Chicago",
    source="webinar", campaign="q4-webinar", account_id="acme-analytics.io")
COLLEAGUE = LeadProfile(id="lead-ben", email="ben@acme-analytics.io",
                        company_domain="acme-analytics.io")
EVENTS = [
    Event(id="evt-1", type="webinar_attended", at=NOW - timedelta(days=2),
          properties={"webinar": "pipeline-101", "minutes": 42}),
    Event(id="evt-2", type="pricing_viewed", at=NOW - timedelta(hours=3),
          properties={"url": "https://northwind.example/pricing"}),
]
SEND_KEY = "lead-ana:welcome:1"
SEND_LINKS = ["https://northwind.example/guide", "https://northwind.example/pricing"]
ESCALATION = "lead-ana:escalation:1"
ALERT = "lead-ben:alert:1"
SUPPRESSED = "Gone@Example.com"
ANONYMOUS_ID = "anon-7"
TABLES = ("leads", "events", "email_sends", "email_clicks", "sales_tasks", "suppressions",
          "inbound", "contacts", "identities", "leases", "sales_tokens", "counters")
"""Release 0.1.0's tables; every one of them gets rows."""


def write_rows(store: Store) -> dict[str, object]:
    """One of every kind of row; what the caller needs to find them again."""
    store.upsert_lead(LEAD, now=NOW - timedelta(days=3))
    store.set_lead_position(LEAD.id, phase="acceleration", track="pricing_intent", now=NOW)
    store.upsert_lead(COLLEAGUE, now=NOW)
    for event in EVENTS:
        store.record_event(LEAD.id, event, now=NOW)
    store.begin_send(key=SEND_KEY, lead_id=LEAD.id, to_address=LEAD.email,
                     template="welcome_confirmation", track="qualification", step="welcome",
                     subject="Welcome, Ana", message_id="<welcome-1@northwind.example>",
                     now=NOW - timedelta(days=2), links=SEND_LINKS)
    store.finish_send(SEND_KEY, status="sent", now=NOW - timedelta(days=2))
    store.record_click(SEND_KEY, 1, now=NOW - timedelta(days=1),
                       scanner_after_send=timedelta(seconds=10), burst=timedelta(seconds=2))
    store.create_sales_task(
        id=ESCALATION, lead_id=LEAD.id, kind="escalation", tier=1,
        reason="VP at a 500-person SaaS company viewed pricing after the webinar.",
        opener="Saw you at the pipeline webinar", handoff={"source": "webinar", "tier": 1},
        now=NOW, due_at=NOW + timedelta(minutes=30), owner="lena", owner_name="Lena Park",
        route_rule="tier-1 saas", follow_up_until=NOW + timedelta(days=5))
    store.close_task(ESCALATION, status="recycled", at=NOW + timedelta(minutes=20), by="lena",
                     reason="timing_not_active", note="back in Q2", next_step="nurture",
                     recycle_until=date(2027, 4, 1), time_to_sql_seconds=None)
    store.create_sales_task(id=ALERT, lead_id=COLLEAGUE.id, kind="alert", tier=3,
                            reason="A colleague of an open lead engaged.", opener="",
                            handoff={}, now=NOW, due_at=None)
    store.suppress(SUPPRESSED, lead_id=None, reason="hard bounce 5.1.1", now=NOW)
    store.accept_inbound([
        Inbound(message_id="msg-1", kind=InboundKind.EVENT, lead_id=LEAD.id,
                payload={"event": "Demo Requested"}),
        Inbound(message_id="msg-2", kind=InboundKind.EVENT, anonymous_id=ANONYMOUS_ID,
                payload={"event": "Page Viewed"}),
    ], now=NOW)
    delivered = [row.seq for row in store.pending_inbound() if row.lead_id == LEAD.id]
    store.settle_pass([LeadDelivery(lead_id=LEAD.id, delivered=[s for s in delivered if s],
                                    traits={"plan": "trial"}, enrolled=True)],
                      anonymous=[], now=NOW)
    store.link_identity(ANONYMOUS_ID, LEAD.id, now=NOW)
    store.hold_lease("relay", "api-1", ttl=timedelta(days=3650), now=NOW)
    token = store.issue_token("lena", role="rep", now=NOW)
    store.next_turn()
    store.next_turn()
    return {"token": token}


def count_rows(store: Store) -> dict[str, int]:
    """How many rows each table holds."""
    with store.engine.connect() as connection:
        return {table: int(connection.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())
                for table in TABLES}


def run_release(tree: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run Python with the release's code (its checkout first on the path, and as cwd)."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    done = subprocess.run([sys.executable, *args], cwd=tree, env=env, capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def create_with_release(tree: Path, url: str) -> None:
    """Create the release's tables at `url` with its code, and nothing else."""
    run_release(tree, "-c", "import sys; from engine.store import Store; "
                            "Store(sys.argv[1]).dispose()", url)


def fill_with_release(tree: Path, url: str) -> dict[str, Any]:
    """Create the release's tables at `url` and write rows with its code; what it wrote."""
    written: dict[str, Any] = json.loads(run_release(tree, __file__, url).stdout)
    assert Path(written["code"]).is_relative_to(tree), "the rows were not written by the release"
    return written


def main(url: str) -> None:
    """Fill the database at `url`; print what was written as JSON."""
    with Store(url) as store:
        written = write_rows(store)
        written["counts"] = count_rows(store)
    written["code"] = engine.__file__  # whose code wrote them
    print(json.dumps(written))


if __name__ == "__main__":
    main(sys.argv[1])
