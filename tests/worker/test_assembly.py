"""The worker is tuned from the settings: cache, concurrency, pollers, garbage collection."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import PollerBehaviorSimpleMaximum

from engine.errors import ConfigError
from engine.mail import MemoryTransport
from engine.settings import Settings, load_settings
from engine.store import Store
from worker.assembly import (
    build_activities,
    build_worker,
    tune_garbage_collector,
    worker_options,
)


def test_the_worker_tuning_is_read_from_the_environment(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NURTURE_WORKER_MAX_CACHED_WORKFLOWS", "250")
    monkeypatch.setenv("NURTURE_WORKER_WORKFLOW_POLLERS", "3")
    monkeypatch.setenv("NURTURE_WORKER_STICKY_TIMEOUT", "2.5")
    options = worker_options(load_settings())
    assert options["max_cached_workflows"] == 250
    assert options["workflow_task_poller_behavior"] == PollerBehaviorSimpleMaximum(3)
    # A killed worker's cached leads move to another after this, not Temporal's 10 s.
    assert options["sticky_queue_schedule_to_start_timeout"] == timedelta(seconds=2.5)


def test_a_tuning_value_the_worker_cannot_take_names_its_variable(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NURTURE_WORKER_MAX_CONCURRENT_WORKFLOW_TASKS", "1")
    with pytest.raises(ConfigError, match="NURTURE_WORKER_MAX_CONCURRENT_WORKFLOW_TASKS"):
        load_settings()


async def test_the_built_worker_runs_with_the_settings_tuning(env: WorkflowEnvironment,
                                                              tmp_path: Path) -> None:
    settings = Settings(worker_max_cached_workflows=123,
                        worker_max_concurrent_workflow_tasks=7,
                        worker_max_concurrent_activities=9, worker_workflow_pollers=3,
                        worker_activity_pollers=2, worker_nonsticky_poll_ratio=0.4)
    store = Store(f"sqlite:///{tmp_path}/tuning.db", upgrade=True)
    try:
        async with build_worker(env.client, build_activities(settings, store,
                                                             MemoryTransport()),
                                "tuning", settings=settings) as worker:
            config = worker.config()
    finally:
        store.dispose()
    assert config["max_cached_workflows"] == 123
    assert config["max_concurrent_workflow_tasks"] == 7
    assert config["max_concurrent_activities"] == 9
    assert config["workflow_task_poller_behavior"] == PollerBehaviorSimpleMaximum(3)
    assert config["activity_task_poller_behavior"] == PollerBehaviorSimpleMaximum(2)
    assert config["nonsticky_to_sticky_poll_ratio"] == 0.4


@pytest.fixture(name="collector")
def _collector() -> Iterator[None]:
    """Python's garbage collector settings, restored after the test."""
    before = gc.get_threshold()
    try:
        yield
    finally:
        gc.set_threshold(*before)
        gc.unfreeze()


def test_the_worker_collects_garbage_less_often_once_started(collector: None) -> None:
    tune_garbage_collector(Settings(worker_gc_threshold=12_345))
    assert gc.get_threshold()[0] == 12_345
    assert gc.get_freeze_count() > 0  # start-up's objects are left out of collections


def test_a_threshold_of_zero_keeps_pythons_garbage_collection(collector: None) -> None:
    before = gc.get_threshold()
    tune_garbage_collector(Settings(worker_gc_threshold=0))
    assert gc.get_threshold() == before


async def test_lead_workflows_run_outside_the_sandbox_unless_the_settings_ask(
        env: WorkflowEnvironment) -> None:
    store = Store.temporary()
    activities = build_activities(Settings(), store, MemoryTransport())
    plain = build_worker(env.client, activities, "q-plain")
    boxed = build_worker(env.client, activities, "q-boxed",
                         settings=Settings(worker_workflow_sandbox=True))
    assert type(plain._workflow_worker._workflow_runner).__name__ == \
        "UnsandboxedWorkflowRunner"  # type: ignore[union-attr]
    assert type(boxed._workflow_worker._workflow_runner).__name__ == \
        "SandboxedWorkflowRunner"  # type: ignore[union-attr]
    store.dispose()
