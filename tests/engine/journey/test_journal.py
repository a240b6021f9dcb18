"""The lead's timeline: phases, scores and the MQL moment, each noted once."""

from __future__ import annotations

from datetime import timedelta

from engine.journey import journal
from engine.journey.state import LeadState
from tests.engine.journey.conftest import NOW


def test_a_phase_change_is_noted_once(state: LeadState) -> None:
    assert journal.set_phase(state, NOW, "acceleration", "pricing visit")
    assert not journal.set_phase(state, NOW, "acceleration", "again")
    (line,) = [e for e in state.journal if e.kind == "phase"]
    assert line.data == {"from": "qualification", "to": "acceleration",
                         "reason": "pricing visit"}


def test_scores_are_noted_when_they_change_and_the_mql_moment_is_kept(
        state: LeadState) -> None:
    journal.note_scores(state, None, NOW)
    journal.note_scores(state, state.scores, NOW + timedelta(hours=1))
    assert [e.kind for e in state.journal] == ["score"]
    state.scores = state.scores.model_copy(update={"fit": 90.0, "intent": 90.0,
                                                   "total": 180.0})
    journal.note_scores(state, None, NOW + timedelta(hours=2))
    assert state.mql_at == NOW + timedelta(hours=2)


def test_the_journal_keeps_the_newest_lines(state: LeadState) -> None:
    for i in range(journal.MAX_JOURNAL + 5):
        journal.note(state, NOW, "email", n=i)
    assert len(state.journal) == journal.MAX_JOURNAL
    assert state.journal[-1].data["n"] == journal.MAX_JOURNAL + 4
    assert [e.seq for e in state.journal] == sorted({e.seq for e in state.journal})
