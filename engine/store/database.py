"""The `Store`: every query the engine makes, behind one synchronous class.

Methods are blocking; async callers (activities, the HTTP edge) run them in a thread.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic_core import to_jsonable_python
from sqlmodel import Session, col, select

from engine.events import Event
from engine.leads import LeadProfile
from engine.store.access import RecordNotFoundError
from engine.store.inbound import InboundLedger
from engine.store.journal import JournalLedger
from engine.store.playbooks import PlaybookLedger
from engine.store.sales import SalesLedger
from engine.store.sends import EmailSendLedger
from engine.store.tables import EventRow, LeadRow, SuppressionRow
from engine.store.timestamps import as_utc

_PROFILE_FIELDS = frozenset(LeadProfile.model_fields)


class Store(EmailSendLedger, InboundLedger, SalesLedger, PlaybookLedger, JournalLedger):
    """Leads, inbound events, email sends, sales tasks and suppressions in one database.

    `Store("sqlite:///nurture.db")` for one machine, `Store("postgresql+psycopg://…")` to
    scale out. The schema must be at the newest revision (`nurture db upgrade` brings it
    there) or `SchemaError` says so; `Store(url, upgrade=True)` upgrades it first, as
    `nurture dev` does; `Store(url, create=True)` makes a new, empty database's tables from
    the models, as a simulation does. A bad URL raises `ConfigError`.
    """

    @classmethod
    def scratch(cls, url: str) -> Store:
        """A new database for one simulation or test: its tables made from the models, and
        on a SQLite file, commits that do not wait for the disk (a crash may lose it, which
        nobody keeps anyway)."""
        return cls(url, create=True, durable=False)

    @classmethod
    def temporary(cls) -> Store:
        """A private in-memory SQLite store, gone when disposed (for tests)."""
        return cls.scratch("sqlite://")

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.dispose()

    def __repr__(self) -> str:
        return f"Store({self.url!r})"

    # leads

    def upsert_lead(self, profile: LeadProfile, *, now: datetime) -> None:
        """Insert the lead, or overwrite its profile fields; phase, track and created_at stay.

        One statement (INSERT … ON CONFLICT DO UPDATE), so two writers never collide."""
        with self.engine.begin() as connection:
            connection.execute(self._upsert(profile, now))

    def register_lead(self, profile: LeadProfile, *, now: datetime,
                      colleagues_at: str | None) -> tuple[list[str], str | None]:
        """Upsert the lead and, in the same transaction, read the other leads at the company
        domain `colleagues_at` (any case; None: look for none) and why its address is
        suppressed (None if it may be mailed): a new lead's enrolment in one round trip."""
        with self.engine.begin() as connection:
            connection.execute(self._upsert(profile, now))
            domain = company_key(colleagues_at)
            colleagues = list(connection.execute(self._colleagues(profile.id, domain))
                              .scalars()) if domain else []
            reason = connection.execute(
                select(SuppressionRow.reason).where(
                    col(SuppressionRow.email) == _address_key(profile.email))).scalar()
        return colleagues, reason

    def _upsert(self, profile: LeadProfile, now: datetime) -> Any:
        now = as_utc(now, name="now")
        fields = profile.model_dump()
        fields["company_key"] = company_key(profile.company_domain)
        table = LeadRow.__table__  # type: ignore[attr-defined]
        statement = self._insert_on_conflict(table).values(**fields, created_at=now,
                                                           updated_at=now)
        return statement.on_conflict_do_update(index_elements=["id"], set_={
            name: statement.excluded[name] for name in (*fields, "updated_at")})

    def get_lead(self, lead_id: str) -> LeadProfile | None:
        """The lead's profile, or None if it was never stored."""
        with Session(self.engine) as session:
            row = session.get(LeadRow, lead_id)
            if row is None:
                return None
            return LeadProfile.model_validate(row.model_dump(include=set(_PROFILE_FIELDS)))

    def lead_row(self, lead_id: str) -> LeadRow | None:
        """The lead's row (profile, phase and track), or None."""
        with Session(self.engine) as session:
            return session.get(LeadRow, lead_id)

    def set_lead_position(
        self, lead_id: str, *, phase: str, track: str | None, now: datetime,
        step: str | None = None, playbook_version: str | None = None,
    ) -> None:
        """Record the phase, track and step the lead's workflow has moved it to (a lead
        that names no version keeps the one it had)."""
        now = as_utc(now, name="now")
        values = {"phase": phase, "track": track, "step": step, "updated_at": now}
        if playbook_version is not None:
            values["playbook_version"] = playbook_version
        moved = self._update(LeadRow, col(LeadRow.id) == lead_id, **values)
        if not moved:
            raise RecordNotFoundError(
                f"lead {lead_id!r} is not stored; call upsert_lead before set_lead_position"
            )

    def colleagues(self, lead_id: str, company_domain: str) -> list[str]:
        """Ids of the other leads at the same company domain (any case), oldest first."""
        domain = company_key(company_domain)
        if domain is None:
            return []
        with Session(self.engine) as session:
            return list(session.exec(self._colleagues(lead_id, domain)))

    @staticmethod
    def _colleagues(lead_id: str, domain: str) -> Any:
        return (select(LeadRow.id)
                .where(col(LeadRow.company_key) == domain, col(LeadRow.id) != lead_id)
                .order_by(col(LeadRow.created_at), col(LeadRow.id)))

    # events

    def record_event(self, lead_id: str, event: Event, *, now: datetime) -> bool:
        """Store the event once; False (and nothing changes) if its id was seen before."""
        row = EventRow(
            id=event.id,
            lead_id=lead_id,
            type=event.type,
            at=as_utc(event.at, name="event time"),
            properties=to_jsonable_python(event.properties),
            received_at=as_utc(now, name="now"),
        )
        return self._insert_once(row)

    def events_for(self, lead_id: str, limit: int = 100) -> list[Event]:
        """The lead's most recent events, newest first."""
        statement = (
            select(EventRow)
            .where(col(EventRow.lead_id) == lead_id)
            .order_by(col(EventRow.at).desc(), col(EventRow.received_at).desc())
            .limit(limit)
        )
        with Session(self.engine) as session:
            return [
                Event(id=row.id, type=row.type, at=row.at, properties=row.properties)
                for row in session.exec(statement)
            ]

    # suppressions

    def suppress(self, email: str, *, lead_id: str | None, reason: str, now: datetime) -> bool:
        """Never mail this address again; False if it was already suppressed."""
        row = SuppressionRow(
            email=_address_key(email),
            lead_id=lead_id,
            reason=reason,
            created_at=as_utc(now, name="now"),
        )
        return self._insert_once(row)

    def suppression(self, email: str) -> str | None:
        """Why the address is suppressed (in any letter case), or None if it may be mailed."""
        with Session(self.engine) as session:
            row = session.get(SuppressionRow, _address_key(email))
            return None if row is None else row.reason


def _address_key(email: str) -> str:
    return email.strip().lower()


def company_key(domain: str | None) -> str | None:
    """How colleagues are matched: the company domain trimmed and lower-cased (None if
    blank), kept in `leads.company_key`."""
    key = (domain or "").strip().lower()
    return key or None
