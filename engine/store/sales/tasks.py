"""The sales ledger: tasks handed to sales, their timelines and outcomes, the inbox's sign-in
tokens, and the shared round-robin turn.

A task changes only while it is open, and the database decides that (UPDATE … WHERE
status = 'open', then the row count), so a late retry or a second rep clicking at the same
moment changes nothing. Timeline appends read and rewrite the row under a lock, so
concurrent notes are never lost.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from pydantic import BaseModel
from pydantic_core import to_jsonable_python
from sqlalchemy import ColumnElement, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col

from engine.store.access import TableAccess
from engine.store.tables import (
    CounterRow,
    LeadRow,
    SalesTaskKind,
    SalesTaskRow,
    SalesTokenRow,
    TaskStatus,
)
from engine.store.timestamps import as_utc

_ROLES = frozenset({"rep", "manager"})
_CLOSED = frozenset({TaskStatus.ACCEPTED, TaskStatus.REJECTED, TaskStatus.RECYCLED})
_TOKEN_PREFIX = "nt_"
_MAX_TOKEN_LENGTH = 200  # anything longer is not one of ours; no need to hash it

# A change to a locked task row: the values to set, or None when it was already made.
_Change = Callable[[SalesTaskRow], dict[str, Any] | None]


class SalesTaskView(BaseModel):
    """One line of the sales inbox: the task and who the lead is."""

    id: str
    lead_id: str
    kind: str
    tier: int
    reason: str
    status: str
    owner: str | None
    owner_name: str | None
    created_at: datetime
    due_at: datetime | None
    breached_at: datetime | None
    follow_up_until: datetime | None
    reroutes: int
    lead_name: str | None  # first and last name, else the email; None if the lead is unknown
    lead_email: str | None
    lead_title: str | None
    lead_company: str | None


class SalesLedger(TableAccess):
    """Sales tasks from opening to outcome, the inbox's tokens and the round-robin turn."""

    # tasks

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
        """Make an open task more urgent (a lower tier, an earlier due time); False if it is
        not open. A retried call changes nothing more."""
        at, due_at = as_utc(at, name="at"), as_utc(due_at, name="due_at")

        def retier(row: SalesTaskRow) -> dict[str, Any] | None:
            if row.tier <= tier:
                return None
            entry = _entry(at, "retiered", "system", detail)
            return {"tier": tier, "due_at": min(due_at, row.due_at or due_at),
                    "breached_at": None, "timeline": [*row.timeline, entry]}

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

    def list_sales_tasks(
        self,
        *,
        owner: str | None = None,
        status: str | None = TaskStatus.OPEN.value,
        tier: int | None = None,
        kind: str | None = SalesTaskKind.ESCALATION.value,
        limit: int = 50,
        offset: int = 0,
    ) -> list[SalesTaskView]:
        """A page of the inbox: soonest due first (no due time last), then oldest, by id.

        A filter left as None does not filter.
        """
        if limit < 0 or offset < 0:
            raise ValueError(f"limit and offset must not be negative, got {limit}, {offset}")
        task = SalesTaskRow
        statement = (
            select(col(task.id), col(task.lead_id), col(task.kind), col(task.tier),
                   col(task.reason), col(task.status), col(task.owner), col(task.owner_name),
                   col(task.created_at), col(task.due_at), col(task.breached_at),
                   col(task.follow_up_until), col(task.reroutes), col(LeadRow.first_name),
                   col(LeadRow.last_name), col(LeadRow.email), col(LeadRow.title),
                   col(LeadRow.company))
            .select_from(task)
            .outerjoin(LeadRow, col(LeadRow.id) == col(task.lead_id))
            .where(*_filters(owner=owner, status=status, tier=tier, kind=kind))
            .order_by(col(task.due_at).asc().nulls_last(), col(task.created_at), col(task.id))
            .limit(limit)
            .offset(offset)
        )
        with self.engine.connect() as connection:
            rows = connection.execute(statement).all()
        return [_view(row._mapping) for row in rows]

    def count_sales_tasks(
        self,
        *,
        owner: str | None = None,
        status: str | None = TaskStatus.OPEN.value,
        tier: int | None = None,
        kind: str | None = SalesTaskKind.ESCALATION.value,
    ) -> int:
        """How many tasks `list_sales_tasks` would page through with the same filters."""
        statement = select(func.count()).select_from(SalesTaskRow).where(
            *_filters(owner=owner, status=status, tier=tier, kind=kind))
        with self.engine.connect() as connection:
            return int(connection.execute(statement).scalar_one())

    # the round-robin turn

    def next_turn(self, name: str = "round_robin") -> int:
        """Take the next number of the named counter: 0 first, then 1, 2, … across every
        process sharing the database."""
        maker = postgresql.insert if self.engine.dialect.name == "postgresql" else sqlite.insert
        create = maker(CounterRow).values(name=name, value=0).on_conflict_do_nothing(
            index_elements=["name"])
        take = (update(CounterRow).where(col(CounterRow.name) == name)
                .values(value=col(CounterRow.value) + 1)
                .returning(col(CounterRow.value) - 1))
        with self.engine.begin() as connection:
            connection.execute(create)
            return int(connection.execute(take).scalar_one())

    # sign-in tokens

    def issue_token(self, user_id: str, *, role: str = "rep", now: datetime) -> str:
        """A new sign-in token for the user; the only time its plaintext is ever seen."""
        if role not in _ROLES:
            raise ValueError(f"token role must be 'rep' or 'manager', not {role!r}")
        now = as_utc(now, name="now")
        while True:
            token = _TOKEN_PREFIX + secrets.token_urlsafe(24)
            row = SalesTokenRow(token_hash=_digest(token), user_id=user_id, role=role,
                                created_at=now)
            if self._insert_once(row):
                return token

    def token_user(self, token: str) -> tuple[str, str] | None:
        """Whose token this is, as (user id, role); None if it is unknown or revoked."""
        if not token or len(token) > _MAX_TOKEN_LENGTH:
            return None
        statement = select(col(SalesTokenRow.user_id), col(SalesTokenRow.role)).where(
            col(SalesTokenRow.token_hash) == _digest(token),
            col(SalesTokenRow.revoked_at).is_(None))
        with self.engine.connect() as connection:
            found = connection.execute(statement).first()
        return None if found is None else (found.user_id, found.role)

    def revoke_tokens(self, user_id: str, *, now: datetime) -> int:
        """Revoke every live token of the user; how many there were."""
        now = as_utc(now, name="now")
        where = ((col(SalesTokenRow.user_id) == user_id)
                 & col(SalesTokenRow.revoked_at).is_(None))
        return self._update(SalesTokenRow, where, revoked_at=now)

    # plumbing

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


def _filters(
    *, owner: str | None, status: str | None, tier: int | None, kind: str | None
) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if owner is not None:
        conditions.append(col(SalesTaskRow.owner) == owner)
    if status is not None:
        conditions.append(col(SalesTaskRow.status) == TaskStatus(status).value)
    if tier is not None:
        conditions.append(col(SalesTaskRow.tier) == tier)
    if kind is not None:
        conditions.append(col(SalesTaskRow.kind) == SalesTaskKind(kind).value)
    return conditions


def _view(row: Any) -> SalesTaskView:
    full_name = " ".join(part for part in (row["first_name"], row["last_name"]) if part)
    return SalesTaskView(
        id=row["id"], lead_id=row["lead_id"], kind=row["kind"], tier=row["tier"],
        reason=row["reason"], status=row["status"], owner=row["owner"],
        owner_name=row["owner_name"], created_at=row["created_at"], due_at=row["due_at"],
        breached_at=row["breached_at"], follow_up_until=row["follow_up_until"],
        reroutes=row["reroutes"], lead_name=full_name or row["email"],
        lead_email=row["email"], lead_title=row["title"], lead_company=row["company"],
    )


def _entry(at: datetime, kind: str, by: str, detail: str) -> dict[str, str]:
    return {"at": _iso(at), "kind": kind, "by": by, "detail": detail}


def _appended(timeline: list[dict[str, Any]], entry: dict[str, str]) -> list[dict[str, Any]] | None:
    """The timeline with the entry at its end, or None if it already holds the entry."""
    return None if entry in timeline else [*timeline, entry]


def _iso(at: datetime) -> str:
    return str(to_jsonable_python(at))


def _maybe_utc(value: datetime | None, name: str) -> datetime | None:
    return None if value is None else as_utc(value, name=name)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
