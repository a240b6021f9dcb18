"""Playbook versions and where leads stand in them.

Revision 0002, after 0001. A `playbooks` table keeps every playbook version leads run, by its
content hash; `leads` gains the `step` a lead is at and the `playbook_version` it runs
(indexed). Both columns are nullable: a lead stored before this revision has neither until
its workflow next records its position.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision: str | None = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create `playbooks`; add `leads.step` and `leads.playbook_version` with its index."""
    op.create_table(
        "playbooks",
        sa.Column("version", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("spec", sa.JSON(), nullable=False),
        sa.Column("stored_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("version"),
    )
    with op.batch_alter_table("leads") as leads:
        leads.add_column(sa.Column("step", sa.String(length=200), nullable=True))
        leads.add_column(sa.Column("playbook_version", sa.String(length=64), nullable=True))
        leads.create_index("ix_leads_playbook_version", ["playbook_version"])
