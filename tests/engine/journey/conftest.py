"""A lead's state on the shipped playbook, at a fixed moment, for the pure journey parts."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from engine.journey.state import LeadState, Position
from engine.leads import LeadProfile
from workflows import PLAYBOOK

# A Tuesday, 15:00 UTC (10:00 in New York): inside the send window.
NOW = datetime(2026, 3, 3, 15, 0, tzinfo=UTC)


def make_state(phase: str = "qualification", track: str | None = "welcome",
               step: str | None = None, **profile: Any) -> LeadState:
    lead = LeadProfile(**({"id": "lead-1", "email": "ana@acme.io", "first_name": "Ana",
                           "title": "Analyst", "company": "Acme", "company_size": 30,
                           "industry": "retail", "country": "BR",
                           "timezone": "America/New_York"} | profile))
    state = LeadState(lead=lead, playbook=PLAYBOOK, enrolled_at=NOW, phase=phase)
    if track is not None:
        first = PLAYBOOK.track(track).steps[0].id
        state.position = Position(track=track, step=step or first, seq=state.next_seq())
    return state


@pytest.fixture(name="state")
def _state() -> LeadState:
    return make_state()
