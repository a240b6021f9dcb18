"""Leads' timelines: the journal lines their workflows write (what the sales desk's
handoff and `nurture simulate` show), so a lead's workflow need carry only a short tail.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from engine.store.access import TableAccess
from engine.store.tables import JournalRow
from engine.store.timestamps import as_utc


class JournalLedger(TableAccess):
    """Writing and reading lead timelines."""

    def write_journal(self, lead_id: str, enrolled_at: datetime,
                      lines: Sequence[dict[str, Any]]) -> int:
        """Keep these lines (`seq`, `at`, `kind`, `data` each) in one transaction; a line
        written before is left as it is. How many were new."""
        enrolled = as_utc(enrolled_at, name="enrolled_at")
        rows = [{"lead_id": lead_id, "enrolled_at": enrolled, "seq": line["seq"],
                 "at": as_utc(line["at"], name="at"), "kind": line["kind"],
                 "data": line.get("data") or {}} for line in lines]
        if not rows:
            return 0
        table = JournalRow.__table__  # type: ignore[attr-defined]
        statement = (self._insert_on_conflict(table).on_conflict_do_nothing(
            index_elements=["lead_id", "enrolled_at", "seq"]).returning(table.c.seq))
        with self.engine.begin() as connection:
            return len(connection.execute(statement, rows).all())

    def lead_journal(self, lead_id: str, after_seq: int = 0,
                     newest: int | None = None) -> list[JournalRow]:
        """The lines of the lead's latest enrolment after `after_seq` (only the `newest`
        of them, if given), oldest first."""
        with Session(self.engine) as session:
            latest = session.exec(select(func.max(JournalRow.enrolled_at))
                                  .where(col(JournalRow.lead_id) == lead_id)).one()
            if latest is None:
                return []
            statement = (select(JournalRow).where(
                col(JournalRow.lead_id) == lead_id, col(JournalRow.enrolled_at) == latest,
                col(JournalRow.seq) > after_seq))
            if newest is None:
                return list(session.exec(statement.order_by(col(JournalRow.seq))))
            last = session.exec(statement.order_by(col(JournalRow.seq).desc()).limit(newest))
            return list(last)[::-1]
