"""Sales tasks: opened once per id, listed in creation order."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from engine.store import Store


def _open(
    store: Store, now: datetime, task_id: str = "lead-1/escalation/1", **changes: Any
) -> bool:
    fields: dict[str, Any] = {
        "lead_id": "lead-1",
        "kind": "escalation",
        "tier": 1,
        "reason": "Requested a demo after two pricing visits",
        "opener": "Saw you comparing plans — want a walkthrough for your team?",
        "handoff": {"source": "webinar", "content": ["roi-guide"], "fit": 0.9, "at": now},
        "due_at": now + timedelta(minutes=30),
    }
    return store.create_sales_task(id=task_id, now=now, **{**fields, **changes})


def test_a_sales_task_is_opened_once(store: Store, now: datetime) -> None:
    assert _open(store, now) is True
    assert _open(store, now + timedelta(hours=1), reason="again") is False

    (task,) = store.sales_tasks("lead-1")
    assert (task.kind, task.tier, task.status) == ("escalation", 1, "open")
    assert task.reason == "Requested a demo after two pricing visits"
    assert task.handoff == {
        "source": "webinar",
        "content": ["roi-guide"],
        "fit": 0.9,
        "at": "2026-01-05T09:30:00Z",
    }
    assert (task.created_at, task.due_at) == (now, now + timedelta(minutes=30))


def test_sales_tasks_are_listed_in_creation_order(store: Store, now: datetime) -> None:
    _open(store, now + timedelta(hours=2), task_id="late")
    _open(store, now, task_id="early", kind="alert", tier=2, due_at=None)
    _open(store, now + timedelta(hours=1), task_id="someone-else", lead_id="lead-2")

    assert [t.id for t in store.sales_tasks("lead-1")] == ["early", "late"]
    assert [t.id for t in store.sales_tasks()] == ["early", "someone-else", "late"]
    assert store.sales_tasks("lead-1")[0].due_at is None


def test_a_task_of_an_unknown_kind_is_refused(store: Store, now: datetime) -> None:
    with pytest.raises(ValueError):
        _open(store, now, kind="reminder")
    assert store.sales_tasks() == []
