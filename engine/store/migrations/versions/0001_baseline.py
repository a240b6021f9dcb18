"""The schema of release 0.1.0 (baseline).

Tables, columns, types, indexes and constraints as 0.1.0's `create_all` made them on SQLite
and PostgreSQL; revision 0001 has no parent. A database made by 0.1.0 (these tables, no
`alembic_version`) is stamped with this revision instead of running it. Spelled out table by
table, never derived from the models, so later model changes leave the baseline as it was.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision: str | None = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the twelve tables of release 0.1.0 and their indexes."""
    _leads()
    _events()
    _email_sends()
    _email_clicks()
    _sales_tasks()
    _suppressions()
    _inbound()
    _contacts()
    _identities()
    _leases()
    _sales_tokens()
    _counters()


def _leads() -> None:
    op.create_table(
        "leads",
        sa.Column("id", sa.String(length=200), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("first_name", sa.String(), nullable=True),
        sa.Column("last_name", sa.String(), nullable=True),
        sa.Column("title", sa.String(), nullable=True),
        sa.Column("company", sa.String(), nullable=True),
        sa.Column("company_domain", sa.String(), nullable=True),
        sa.Column("company_size", sa.Integer(), nullable=True),
        sa.Column("industry", sa.String(), nullable=True),
        sa.Column("country", sa.String(), nullable=True),
        sa.Column("timezone", sa.String(), nullable=True),
        sa.Column("source", sa.String(), nullable=True),
        sa.Column("campaign", sa.String(length=200), nullable=True),
        sa.Column("account_id", sa.String(length=200), nullable=True),
        sa.Column("phase", sa.String(), nullable=False),
        sa.Column("track", sa.String(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_leads_email", "leads", ["email"])
    op.create_index("ix_leads_account_id", "leads", ["account_id"])
    op.create_index("ix_leads_company_domain", "leads", ["company_domain"])


def _events() -> None:
    op.create_table(
        "events",
        sa.Column("id", sa.String(length=200), nullable=False),
        sa.Column("lead_id", sa.String(length=200), nullable=False),
        sa.Column("type", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("properties", sa.JSON(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_events_lead_id", "events", ["lead_id"])


def _email_sends() -> None:
    op.create_table(
        "email_sends",
        sa.Column("key", sa.String(), nullable=False),
        sa.Column("lead_id", sa.String(length=200), nullable=False),
        sa.Column("to_address", sa.String(), nullable=False),
        sa.Column("template", sa.String(), nullable=False),
        sa.Column("track", sa.String(), nullable=False),
        sa.Column("step", sa.String(), nullable=False),
        sa.Column("subject", sa.String(), nullable=False),
        sa.Column("message_id", sa.String(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("error", sa.String(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("links", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    op.create_index("ix_email_sends_lead_id", "email_sends", ["lead_id"])


def _email_clicks() -> None:
    op.create_table(
        "email_clicks",
        sa.Column("id", sa.Integer(), nullable=False),  # SERIAL on PostgreSQL
        sa.Column("send_key", sa.String(), nullable=False),
        sa.Column("link", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("scanner", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_email_clicks_send_key", "email_clicks", ["send_key"])


def _sales_tasks() -> None:
    op.create_table(
        "sales_tasks",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("lead_id", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("tier", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(), nullable=False),
        sa.Column("opener", sa.String(), nullable=False),
        sa.Column("handoff", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("owner", sa.String(length=200), nullable=True),
        sa.Column("owner_name", sa.String(length=200), nullable=True),
        sa.Column("route_rule", sa.String(length=200), nullable=False),
        sa.Column("follow_up_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("breached_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reroutes", sa.Integer(), nullable=False),
        sa.Column("timeline", sa.JSON(), nullable=False),
        sa.Column("outcome_reason", sa.String(length=64), nullable=True),
        sa.Column("outcome_note", sa.String(), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_by", sa.String(length=200), nullable=True),
        sa.Column("recycle_until", sa.Date(), nullable=True),
        sa.Column("next_step", sa.String(), nullable=False),
        sa.Column("time_to_sql_seconds", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_sales_tasks_lead_id", "sales_tasks", ["lead_id"])
    op.create_index("ix_sales_tasks_status_due", "sales_tasks", ["status", "due_at"])
    op.create_index("ix_sales_tasks_owner_status_due", "sales_tasks",
                    ["owner", "status", "due_at"])


def _suppressions() -> None:
    op.create_table(
        "suppressions",
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("lead_id", sa.String(length=200), nullable=True),
        sa.Column("reason", sa.String(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("email"),
    )


def _inbound() -> None:
    op.create_table(
        "inbound",
        sa.Column("seq", sa.Integer(), nullable=False),  # SERIAL on PostgreSQL
        sa.Column("message_id", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("lead_id", sa.String(length=200), nullable=True),
        sa.Column("anonymous_id", sa.String(length=200), nullable=True),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("error", sa.String(), nullable=True),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("seq"),
        # Unnamed, as 0.1.0 made it: PostgreSQL calls it inbound_message_id_key.
        sa.UniqueConstraint("message_id"),
    )
    op.create_index("ix_inbound_lead_id", "inbound", ["lead_id"])
    op.create_index("ix_inbound_status_seq", "inbound", ["status", "seq"])
    op.create_index("ix_inbound_anonymous_id", "inbound", ["anonymous_id"])


def _contacts() -> None:
    op.create_table(
        "contacts",
        sa.Column("id", sa.String(length=200), nullable=False),
        sa.Column("traits", sa.JSON(), nullable=False),
        sa.Column("enrolled", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )


def _identities() -> None:
    op.create_table(
        "identities",
        sa.Column("anonymous_id", sa.String(length=200), nullable=False),
        sa.Column("lead_id", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("anonymous_id"),
    )
    op.create_index("ix_identities_lead_id", "identities", ["lead_id"])


def _leases() -> None:
    op.create_table(
        "leases",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("holder", sa.String(length=200), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )


def _sales_tokens() -> None:
    op.create_table(
        "sales_tokens",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("token_hash"),
    )
    op.create_index("ix_sales_tokens_user_id", "sales_tokens", ["user_id"])


def _counters() -> None:
    op.create_table(
        "counters",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("value", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
