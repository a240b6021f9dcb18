"""Sales tasks from opening to outcome: each change, and the timeline that records it.

A task changes only while it is open, and the database decides that (UPDATE … WHERE
status = 'open', then the row count), so a late retry or a second rep clicking at the same
moment changes nothing. Timeline appends read and rewrite the row under a lock, so
concurrent notes are never lost.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from pydantic_core import to_jsonable_python
from sqlalchemy import select, update
from sqlmodel import Session, col

from engine.store.access import TableAccess
from engine.store.tables import SalesTaskKind, SalesTaskRow, TaskStatus
from engine.store.timestamps import as_utc

_CLOSED = frozenset({TaskStatus.ACCEPTED, TaskStatus.REJECTED, TaskStatus.RECYCLED})

# A change to a locked task row: the values to set, or None when it was already made.
_Change = Callable[[SalesTaskRow], dict[str, Any] | None]


class SalesTaskLedger(TableAccess):
    """Sales tasks: opened once, changed only while open, every change on the timeline."""

    def create_sales_task(
        self,
        *,
        id: str,
        lead_id: str,
        kind: str,
        tier: int,
        reason: str,
        opener: str,
        handoff: dict[str, Any],
        now: datetime,
        due_at: datetime | None,
        owner: str | None = None,
        owner_name: str | None = None,
        route_rule: str = "",
        follow_up_until: datetime | None = None,
    ) -> bool:
        """Open a task for sales once; False if a task with this id already exists."""
        now = as_utc(now, name="now")
        opened = f"assigned to {owner_name or owner}" if owner else "no owner"
        if owner and route_rule:
            opened += f" ({route_rule})"
        row = SalesTaskRow(
            id=id,
            lead_id=lead_id,
            kind=SalesTaskKind(kind).value,
            tier=tier,
            reason=reason,
            opener=opener,
            handoff=to_jsonable_python(handoff),
            status=TaskStatus.OPEN.value,
            created_at=now,
            due_at=_maybe_utc(due_at, "due_at"),
            owner=owner,
            owner_name=owner_name,
            route_rule=route_rule,
            follow_up_until=_maybe_utc(follow_up_until, "follow_up_until"),
            timeline=[_entry(now, "opened", "system", opened)],
        )
        return self._insert_once(row)

    def sales_task(self, task_id: str) -> SalesTaskRow | None:
        """One task by its id, or None."""
        with Session(self.engine) as session:
            return session.get(SalesTaskRow, task_id)

    def sales_tasks(self, lead_id: str | None = None) -> list[SalesTaskRow]:
        """Sales tasks, for one lead or all, in the order they were created."""
        statement = select(SalesTaskRow).order_by(
            col(SalesTaskRow.created_at), col(SalesTaskRow.id)
        )
        if lead_id is not None:
            statement = statement.where(col(SalesTaskRow.lead_id) == lead_id)
        with Session(self.engine) as session:
            return list(session.scalars(statement))

    def note_task(
        self, task_id: str, *, kind: str, detail: str, at: datetime, by: str = "system"
    ) -> bool:
        """Add an entry to the task's timeline, whatever its status; False if it is unknown.

        Noting the very same entry again (a retried call) adds nothing.
        """
        entry = _entry(as_utc(at, name="at"), kind, by, detail)

        def append(row: SalesTaskRow) -> dict[str, Any] | None:
            timeline = _appended(row.timeline, entry)
            return None if timeline is None else {"timeline": timeline}

        return self._change_task(task_id, append, open_only=False)

    def breach_task(self, task_id: str, *, at: datetime, detail: str) -> bool:
        """Mark an open task's SLA as broken at `at`; False if it is not open."""
        at = as_utc(at, name="at")
        entry = _entry(at, "sla_breached", "system", detail)

        def breach(row: SalesTaskRow) -> dict[str, Any] | None:
            timeline = _appended(row.timeline, entry)
            return None if timeline is None else {"breached_at": at, "timeline": timeline}

        return self._change_task(task_id, breach)

    def reassign_task(
        self, task_id: str, *, owner: str, owner_name: str, rule: str, due_at: datetime,
        at: datetime,
    ) -> bool:
        """Hand an open task to another owner with a new SLA; False if it is not open.

        The breach is cleared and the reroute counted; a retried call changes nothing more.
        """
        at, due_at = as_utc(at, name="at"), as_utc(due_at, name="due_at")

        def reassign(row: SalesTaskRow) -> dict[str, Any] | None:
            if any(e.get("kind") == "rerouted" and e.get("at") == _iso(at) for e in row.timeline):
                return None
            old = row.owner_name or row.owner or "nobody"
            entry = _entry(at, "rerouted", "system", f"from {old} to {owner_name} ({rule})")
            return {"owner": owner, "owner_name": owner_name, "route_rule": rule,
                    "due_at": due_at, "breached_at": None,
                    "reroutes": col(SalesTaskRow.reroutes) + 1,
                    "timeline": [*row.timeline, entry]}

        return self._change_task(task_id, reassign)

    def retier_task(self, task_id: str, *, tier: int, due_at: datetime, at: datetime,
                    detail: str) -> bool:
        """Make an open task more urgent (a lower tier); False if it is not open. A retried
        call changes nothing more.

        `due_at` is the new tier's deadline counted from `at`, the hand-raise that re-tiers
        the task. A deadline still ahead of `at` and sooner stands (a re-tier never gives
        more time); one already past does not: the task's clock starts again from the
        hand-raise, instead of breaching the moment it was re-tiered."""
        at, due_at = as_utc(at, name="at"), as_utc(due_at, name="due_at")

        def retier(row: SalesTaskRow) -> dict[str, Any] | None:
            if row.tier <= tier:
                return None
            entry = _entry(at, "retiered", "system", detail)
            before = row.due_at
            due = before if before is not None and at < before < due_at else due_at
            return {"tier": tier, "due_at": due, "breached_at": None,
                    "timeline": [*row.timeline, entry]}

        return self._change_task(task_id, retier)

    def close_task(
        self,
        task_id: str,
        *,
        status: str,
        at: datetime,
        by: str,
        reason: str | None = None,
        note: str = "",
        next_step: str = "",
        recycle_until: date | None = None,
        time_to_sql_seconds: float | None = None,
    ) -> bool:
        """Record sales' outcome (accepted, rejected or recycled) on an open task, once;
        False if the task is unknown or already closed."""
        outcome = TaskStatus(status)
        if outcome not in _CLOSED:
            raise ValueError(f"close_task takes accepted, rejected or recycled, not {status!r}")
        at = as_utc(at, name="at")
        until = f"until {recycle_until.isoformat()}" if recycle_until else ""
        detail = " — ".join(part for part in (reason or "", note, until) if part)
        entry = _entry(at, outcome.value, by, detail)

        def close(row: SalesTaskRow) -> dict[str, Any]:
            return {"status": outcome.value, "closed_at": at, "closed_by": by or None,
                    "outcome_reason": reason, "outcome_note": note, "next_step": next_step,
                    "recycle_until": recycle_until, "time_to_sql_seconds": time_to_sql_seconds,
                    "timeline": [*row.timeline, entry]}

        return self._change_task(task_id, close)

    def dismiss_alert(self, task_id: str, *, at: datetime, by: str) -> bool:
        """Mark an open alert as read and done by its owner, once; False if the task is
        unknown, not an alert, or already dismissed."""
        at = as_utc(at, name="at")

        def dismiss(row: SalesTaskRow) -> dict[str, Any] | None:
            if row.kind != SalesTaskKind.ALERT.value:
                return {}  # not ours to change: no values, nothing written
            return {"status": TaskStatus.DISMISSED.value, "closed_at": at,
                    "closed_by": by or None,
                    "timeline": [*row.timeline, _entry(at, "dismissed", by, "")]}

        return self._change_task(task_id, dismiss)

    def _change_task(self, task_id: str, change: _Change, *, open_only: bool = True) -> bool:
        """Read the task under a row lock, and write what `change` makes of it in the same
        transaction; False if the task is unknown (or, with `open_only`, not open)."""
        where = col(SalesTaskRow.id) == task_id
        if open_only:
            where = where & (col(SalesTaskRow.status) == TaskStatus.OPEN.value)
        with self._session() as session:
            row = self._lock_task(session, task_id)
            if row is None or (open_only and row.status != TaskStatus.OPEN.value):
                return False
            values = change(row)
            if values is None:
                return True  # already done by an earlier call
            if not values:
                return False  # the change does not apply to this task
            written = session.exec(update(SalesTaskRow).where(where)  # type: ignore[call-overload]
                                   .values(**values))
            return bool(written.rowcount == 1)

    def _lock_task(self, session: Session, task_id: str) -> SalesTaskRow | None:
        """The task's row, locked until the session's transaction ends."""
        if self.engine.dialect.name == "sqlite":
            # SQLite has no row locks and begins a transaction at its first write, so write
            # first: the database's write lock then guards the read that follows.
            touch = (update(SalesTaskRow).where(col(SalesTaskRow.id) == task_id)
                     .values(reroutes=col(SalesTaskRow.reroutes)))
            session.exec(touch)  # type: ignore[call-overload]
        statement = select(SalesTaskRow).where(col(SalesTaskRow.id) == task_id)
        return session.scalars(statement.with_for_update()).first()


def _entry(at: datetime, kind: str, by: str, detail: str) -> dict[str, str]:
    return {"at": _iso(at), "kind": kind, "by": by, "detail": detail}


def _appended(timeline: list[dict[str, Any]], entry: dict[str, str]) -> list[dict[str, Any]] | None:
    """The timeline with the entry at its end, or None if it already holds the entry."""
    return None if entry in timeline else [*timeline, entry]


def _iso(at: datetime) -> str:
    return str(to_jsonable_python(at))


def _maybe_utc(value: datetime | None, name: str) -> datetime | None:
    return None if value is None else as_utc(value, name=name)
