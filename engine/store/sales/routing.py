"""What routing reads across every process sharing the database: each owner's open load and
the round-robin turn."""

from __future__ import annotations

from sqlalchemy import func, select, update
from sqlmodel import col

from engine.store.access import TableAccess
from engine.store.tables import CounterRow, SalesTaskKind, SalesTaskRow, TaskStatus


class RoutingState(TableAccess):
    """Owners' open escalations and the shared round-robin turn."""

    def open_task_counts(self) -> dict[str, int]:
        """How many open escalations each owner holds (owners with none are absent)."""
        statement = (
            select(col(SalesTaskRow.owner), func.count())
            .where(col(SalesTaskRow.status) == TaskStatus.OPEN.value,
                   col(SalesTaskRow.kind) == SalesTaskKind.ESCALATION.value,
                   col(SalesTaskRow.owner).is_not(None))
            .group_by(col(SalesTaskRow.owner))
        )
        with self.engine.connect() as connection:
            return {str(owner): int(count) for owner, count in connection.execute(statement)}

    def next_turn(self, name: str = "round_robin") -> int:
        """Take the next number of the named counter: 0 first, then 1, 2, … across every
        process sharing the database."""
        create = (self._insert_on_conflict(CounterRow).values(name=name, value=0)
                  .on_conflict_do_nothing(index_elements=["name"]))
        take = (update(CounterRow).where(col(CounterRow.name) == name)
                .values(value=col(CounterRow.value) + 1)
                .returning(col(CounterRow.value) - 1))
        with self.engine.begin() as connection:
            connection.execute(create)
            return int(connection.execute(take).scalar_one())
