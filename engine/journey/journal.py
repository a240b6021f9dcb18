"""The lead's timeline: every phase change, score change, email and sales moment, once."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from engine.journey.state import JournalEntry, LeadState
from engine.scoring import Scores, is_mql

MAX_JOURNAL = 2_000
TAIL = 30
"""With constant cost, the lines a lead keeps once they are in the store."""


def note(state: LeadState, now: datetime, kind: str, **data: Any) -> None:
    """Add a line (without constant cost, the oldest lines go past MAX_JOURNAL; with it,
    lines leave only once they are written to the store, see `written`)."""
    state.journal.append(JournalEntry(seq=state.next_seq(), at=now, kind=kind, data=data))
    if not state.constant_cost:
        del state.journal[:-MAX_JOURNAL]


def unwritten(state: LeadState) -> list[JournalEntry]:
    """The lines not yet in the store, oldest first."""
    return [e for e in state.journal if e.seq > state.journal_flushed]


def written(state: LeadState, lines: list[JournalEntry]) -> None:
    """`lines` are in the store now: keep only the last TAIL lines of what is written."""
    if not lines:
        return
    state.journal_flushed = max(state.journal_flushed, lines[-1].seq)
    done = [e for e in state.journal if e.seq <= state.journal_flushed]
    keep = {e.seq for e in done[-TAIL:]}
    state.journal = [e for e in state.journal if e.seq > state.journal_flushed or e.seq in keep]


def set_phase(state: LeadState, now: datetime, phase: str, reason: str) -> bool:
    """Enter `phase`, noting why; False when the lead is in it already."""
    if phase == state.phase:
        return False
    note(state, now, "phase", **{"from": state.phase or None, "to": phase, "reason": reason})
    state.phase = phase
    return True


def note_scores(state: LeadState, before: Scores | None, now: datetime) -> None:
    """Mark the lead an MQL the first time it qualifies, and note a visible score change."""
    scores = state.scores
    if state.mql_at is None and is_mql(scores, state.playbook.scoring):
        state.mql_at = now
    shown = (scores.fit, scores.intent, scores.total)
    if before is None or shown != (before.fit, before.intent, before.total):
        note(state, now, "score", fit=scores.fit, intent=scores.intent, total=scores.total)
