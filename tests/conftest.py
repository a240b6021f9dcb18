"""Shared fixtures: one time-skipping Temporal server for the workflow tests, and a whole API
stack (uvicorn, relay, worker) on a server of its own for the HTTP tests."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from engine.store import revisions
from engine.store.connect import mask_password
from tests import deadlock
from tests.engine.store.conftest import POSTGRES_MISSING, POSTGRES_URL_VARIABLE
from tests.stack import Stack, running_stack
from worker.simulate import quiet_runtime, test_server_path

EXAMPLE_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def pytest_report_header() -> str:
    """Say up front whether the PostgreSQL store tests run, and against what."""
    url = os.environ.get(POSTGRES_URL_VARIABLE)
    return (f"PostgreSQL store tests: on {mask_password(url)}" if url else
            f"PostgreSQL store tests: OFF ({POSTGRES_URL_VARIABLE} is not set)")


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Say how many tests were skipped for want of PostgreSQL, and how to run them."""
    skipped = [report for report in terminalreporter.stats.get("skipped", [])
               if isinstance(report.longrepr, tuple) and POSTGRES_MISSING in report.longrepr[2]]
    if skipped:
        terminalreporter.write_sep("-", f"{len(skipped)} PostgreSQL tests skipped", yellow=True)
        terminalreporter.write_line(
            f"{POSTGRES_URL_VARIABLE} is not set. To run them against a server:\n"
            f"  {POSTGRES_URL_VARIABLE}={EXAMPLE_POSTGRES} .venv/bin/pytest")


@pytest.fixture(name="patient_deadlock_detector", scope="session", autouse=True)
def _patient_deadlock_detector() -> Iterator[None]:
    """Workflow workers and replayers built by the tests give a workflow task
    `deadlock.TEST_BUDGET` seconds, not 2, before calling it a deadlock (tests/deadlock.py):
    a loaded machine must not fail a test by starving one."""
    undo = deadlock.install()
    yield
    undo()


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
