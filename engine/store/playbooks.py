"""Playbook versions and where leads stand in them: what `nurture tracks versions`, `diff`
and `migrate` read.

Every version a lead runs is kept by its content hash, so it can be shown and compared
long after the code that defined it has changed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, or_
from sqlalchemy import select as columns
from sqlmodel import Session, col, select

from engine.dsl.spec import PlaybookSpec
from engine.store.access import TableAccess
from engine.store.tables import LeadRow, PlaybookRow
from engine.store.timestamps import as_utc


@dataclass(frozen=True)
class PositionCount:
    """How many leads stand at one place: a version, a phase, a track and a step."""

    version: str | None
    phase: str
    track: str | None
    step: str | None
    leads: int


@dataclass(frozen=True)
class LeadPosition:
    """Where one lead stands."""

    lead_id: str
    version: str | None
    phase: str
    track: str | None
    step: str | None


class PlaybookLedger(TableAccess):
    """Stored playbook versions and leads' positions in them."""

    def save_playbook(self, spec: PlaybookSpec, *, now: datetime) -> bool:
        """Keep this version (once); False when it was kept already."""
        return self._insert_once(PlaybookRow(
            version=spec.version, name=spec.name, spec=spec.model_dump(mode="json"),
            stored_at=as_utc(now, name="now")))

    def stored_playbook(self, version: str) -> PlaybookSpec | None:
        """A kept version, or None."""
        with Session(self.engine) as session:
            row = session.get(PlaybookRow, version)
            return None if row is None else PlaybookSpec.model_validate(row.spec)

    def playbook_version_ids(self) -> list[str]:
        """The versions kept (their hashes only)."""
        with Session(self.engine) as session:
            return list(session.exec(select(PlaybookRow.version)))

    def playbook_versions(self) -> list[PlaybookRow]:
        """Every kept version, oldest first."""
        with Session(self.engine) as session:
            return list(session.exec(select(PlaybookRow).order_by(
                col(PlaybookRow.stored_at), col(PlaybookRow.version))))

    def position_counts(self) -> list[PositionCount]:
        """Leads per version, phase, track and step."""
        keys = (col(LeadRow.playbook_version), col(LeadRow.phase), col(LeadRow.track),
                col(LeadRow.step))
        statement = columns(*keys, func.count()).group_by(*keys).order_by(*keys)
        with Session(self.engine) as session:
            return [PositionCount(version=v, phase=p, track=t, step=s, leads=n)
                    for v, p, t, s, n in session.execute(statement)]

    def lead_positions(self, *, version: str | None = None, track: str | None = None,
                       exclude_version: str | None = None) -> list[LeadPosition]:
        """Leads on `version` (any, if None) and `track`, not on `exclude_version`."""
        statement = columns(col(LeadRow.id), col(LeadRow.playbook_version), col(LeadRow.phase),
                            col(LeadRow.track), col(LeadRow.step)).order_by(col(LeadRow.id))
        if version is not None:
            statement = statement.where(col(LeadRow.playbook_version) == version)
        if exclude_version is not None:  # a lead that has not said its version yet is kept
            statement = statement.where(or_(col(LeadRow.playbook_version) != exclude_version,
                                            col(LeadRow.playbook_version).is_(None)))
        if track is not None:
            statement = statement.where(col(LeadRow.track) == track)
        with Session(self.engine) as session:
            return [LeadPosition(lead_id=i, version=v, phase=p, track=t, step=s)
                    for i, v, p, t, s in session.execute(statement)]
