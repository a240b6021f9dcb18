"""With constant cost, an event costs a lead the same however many came before: dedupe by a
time-bounded set of digests, a bounded set of kept events, running score sums, and a journal
that leaves the carried state once it is in the store."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from engine.dsl import library, seen
from engine.dsl.spec import PlaybookSpec
from engine.events import Event
from engine.journey import dedupe, journal, reactions
from engine.journey.state import LeadState, SeenIds
from engine.runtime.messages import LeadWorkflowInput
from engine.scoring import score
from tests.engine.journey.conftest import NOW, make_state
from workflows import PLAYBOOK


def fast() -> LeadState:
    state = make_state()
    state.constant_cost = True
    return state


def event(n: int, kind: str = "blog_viewed", **at: float) -> Event:
    return Event(id=f"evt-{n}", type=kind, at=NOW + timedelta(**at) if at else NOW)


def test_an_id_is_applied_once_within_the_window_and_forgotten_after_it() -> None:
    seen_ids = SeenIds()
    assert dedupe.first_time(seen_ids, "a", NOW)
    assert not dedupe.first_time(seen_ids, "a", NOW + dedupe.WINDOW - timedelta(days=1))
    # A week on, the day "a" arrived has left the window.
    assert dedupe.first_time(seen_ids, "b", NOW + dedupe.WINDOW + timedelta(days=1))
    assert dedupe.first_time(seen_ids, "a", NOW + dedupe.WINDOW + timedelta(days=1))


def test_ids_are_kept_short_whatever_their_length_and_survive_a_roll_over() -> None:
    seen_ids = SeenIds()
    for n in range(1_000):
        dedupe.first_time(seen_ids, f"segment-message-{'x' * 150}-{n}", NOW)
    carried = SeenIds.model_validate_json(seen_ids.model_dump_json())
    assert len(seen_ids.model_dump_json()) < 1_000 * 16
    assert not dedupe.first_time(carried, f"segment-message-{'x' * 150}-7", NOW)
    assert dedupe.first_time(carried, "new", NOW)


def test_a_flood_past_the_cap_forgets_the_oldest_ids_first(monkeypatch: pytest.MonkeyPatch
                                                           ) -> None:
    monkeypatch.setattr(dedupe, "MAX_IDS", 100)
    seen_ids = SeenIds()
    for n in range(150):
        dedupe.first_time(seen_ids, f"id-{n}", NOW + timedelta(minutes=n))
    assert sum(len(day) for day in seen_ids.days.values()) == 100
    assert not dedupe.first_time(seen_ids, "id-149", NOW)
    assert dedupe.first_time(seen_ids, "id-0", NOW)


def test_a_flood_of_one_type_never_pushes_out_the_others() -> None:
    state = fast()
    reactions.accept(state, event(0, "demo_requested"), NOW)
    for n in range(1, 3_000):
        reactions.accept(state, event(n, "page_viewed", seconds=n), NOW + timedelta(seconds=n))
    kinds = [e.type for e in state.events]
    assert kinds.count("page_viewed") == reactions.KEEP_PER_TYPE
    assert "demo_requested" in kinds
    assert [e.at for e in state.events] == sorted(e.at for e in state.events)
    assert state.event_count == 3_000


def test_the_scores_follow_every_event_not_only_the_kept_ones() -> None:
    state, applied = fast(), []
    for n in range(300):
        e = event(n, "email_clicked" if n % 3 else "webinar_attended", hours=n)
        applied.append(e)
        reactions.react(state, e, NOW + timedelta(hours=n), [])
    now = NOW + timedelta(hours=300)
    expected = score(state.lead, applied, now=now, enrolled_at=state.enrolled_at,
                     model=PLAYBOOK.scoring)
    assert abs(reactions.rescore(state, now).total - expected.total) <= 0.1
    assert len(state.events) < len(applied)


def test_a_condition_cannot_count_more_events_than_a_lead_keeps() -> None:
    with pytest.raises(ValueError, match="counts from 1 to 20 events"):
        seen("email_clicked", at_least=21)


def test_journal_lines_leave_the_state_only_once_written() -> None:
    state = fast()
    for n in range(100):
        journal.note(state, NOW, "score", n=n)
    assert len(state.journal) == 100  # nothing is dropped before the store has it
    pending = journal.unwritten(state)
    journal.written(state, pending[:80])
    assert len(journal.unwritten(state)) == 20
    assert len(state.journal) == journal.TAIL + 20
    journal.written(state, journal.unwritten(state))
    assert [e.data["n"] for e in state.journal] == list(range(100 - journal.TAIL, 100))


def test_a_carried_state_names_its_playbook_and_the_next_run_finds_it() -> None:
    state = fast()
    state.by_reference = True
    carried = LeadWorkflowInput(lead=state.lead, playbook_version=PLAYBOOK.version,
                                state=state)
    payload = carried.model_dump_json()
    assert len(payload) < 2_048 and '"tracks"' not in payload
    library.remember(PLAYBOOK)
    again = LeadWorkflowInput.model_validate(json.loads(payload))
    assert again.spec() == PLAYBOOK


def test_a_version_the_worker_does_not_know_is_refused_by_name(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(library, "_loader", [])
    start = LeadWorkflowInput(lead=make_state().lead, playbook_version="0123456789ab")
    with pytest.raises(library.UnknownPlaybookVersion, match="0123456789ab"):
        start.spec()


def test_a_version_stored_later_is_found_in_the_database_once(
        monkeypatch: pytest.MonkeyPatch) -> None:
    other = PLAYBOOK.model_copy(update={"name": "stored later"})
    asked: list[str] = []

    def stored(version: str) -> PlaybookSpec | None:
        asked.append(version)
        return other if version == other.version else None

    monkeypatch.setattr(library, "_loader", [stored])
    start = LeadWorkflowInput(lead=make_state().lead, playbook_version=other.version)
    assert start.spec() == other
    assert start.spec() == other
    assert asked == [other.version]  # read once, then known
