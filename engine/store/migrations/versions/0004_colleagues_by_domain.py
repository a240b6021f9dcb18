"""Colleagues found by an index.

Revision 0004, after 0003. `leads.company_key`, the company domain trimmed and lower-cased,
indexed: enrolling a lead looks up the other leads at its company in any case, which read
the whole table before (a cost that grew with every lead enrolled). Existing rows get
their key here.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision: str | None = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add and fill `leads.company_key`, and index it."""
    with op.batch_alter_table("leads") as batch:
        batch.add_column(sa.Column("company_key", sa.String(length=253), nullable=True))
    op.execute("UPDATE leads SET company_key = nullif(lower(trim(company_domain)), '') "
               "WHERE company_domain IS NOT NULL")
    op.create_index("ix_leads_company_key", "leads", ["company_key"])
