"""The sales inbox's pages: tasks with who their leads are, filtered, sorted and counted."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy import ColumnElement, func, select
from sqlmodel import col

from engine.store.access import TableAccess
from engine.store.tables import LeadRow, SalesTaskKind, SalesTaskRow, TaskStatus


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


class SalesInbox(TableAccess):
    """Pages of sales tasks for the inbox, and how many there are."""

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
