"""Leads' timelines in the store.

Revision 0003, after 0002. A `lead_journal` table keeps every line of a lead's timeline,
keyed by lead, enrolment and sequence number, so a lead's workflow carries only a short
tail of it. Leads running before this revision write their lines when their workflow next
continues into a fresh run.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision: str | None = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create `lead_journal`."""
    op.create_table(
        "lead_journal",
        sa.Column("lead_id", sa.String(length=200), nullable=False),
        sa.Column("enrolled_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("lead_id", "enrolled_at", "seq"),
    )
