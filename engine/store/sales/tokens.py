"""The inbox's sign-in tokens: issued once in plaintext, kept only as a hash, revoked by user."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

from sqlalchemy import select
from sqlmodel import col

from engine.store.access import TableAccess
from engine.store.tables import SalesTokenRow
from engine.store.timestamps import as_utc

_ROLES = frozenset({"rep", "manager"})
_TOKEN_PREFIX = "nt_"
_MAX_TOKEN_LENGTH = 200  # anything longer is not one of ours; no need to hash it


class SignInTokens(TableAccess):
    """Sign-in tokens of reps and managers, by the hash of their plaintext."""

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


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
