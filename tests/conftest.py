"""Shared fixtures: one time-skipping Temporal server for the workflow tests, and a whole API
stack (uvicorn, relay, worker) on a server of its own for the HTTP tests."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from engine.store import revisions
from tests.stack import Stack, running_stack
from worker.simulate import quiet_runtime, test_server_path


@pytest.fixture(name="env", scope="session")
async def _env() -> AsyncIterator[WorkflowEnvironment]:
    env = await WorkflowEnvironment.start_time_skipping(
        data_converter=pydantic_data_converter, test_server_existing_path=test_server_path())
    async with env:
        yield env


@pytest.fixture(name="fresh_env")
async def _fresh_env() -> AsyncIterator[WorkflowEnvironment]:
    """A time-skipping server of the test's own, whose clock starts at the real now (events
    sent over HTTP carry real timestamps)."""
    env = await WorkflowEnvironment.start_time_skipping(
        data_converter=pydantic_data_converter, runtime=quiet_runtime(),
        test_server_existing_path=test_server_path())
    async with env:
        yield env


@pytest.fixture(name="stack")
async def _stack(fresh_env: WorkflowEnvironment, tmp_path: Path) -> AsyncIterator[Stack]:
    async def source() -> Client:
        return fresh_env.client

    async with running_stack(source, tmp_path, worker_client=fresh_env.client) as stack:
        yield stack


@pytest.fixture(name="migrations_copy")
def _migrations_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The schema revisions copied to a scratch folder that the engine reads instead of its
    own, to draft or break revisions without touching the package."""
    copy = Path(shutil.copytree(revisions.MIGRATIONS, tmp_path / "migrations"))
    monkeypatch.setattr(revisions, "MIGRATIONS", copy)
    revisions.scripts.cache_clear()
    yield copy
    revisions.scripts.cache_clear()
