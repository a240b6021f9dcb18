"""The message of a send whose outcome is not known yet.

Revision 0005, after 0004. `email_sends.message`: the bytes handed to the SMTP server,
kept from the claim until the outcome is known (then cleared), so that an operator can
re-send exactly that message, with its Message-ID, when a crash left the outcome unknown.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision: str | None = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add `email_sends.message`."""
    with op.batch_alter_table("email_sends") as batch:
        batch.add_column(sa.Column("message", sa.LargeBinary(), nullable=True))

