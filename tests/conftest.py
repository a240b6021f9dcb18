"""Session-wide fixtures: one time-skipping Temporal server for every workflow test."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from worker.simulate import test_server_path


@pytest.fixture(name="env", scope="session")
async def _env() -> AsyncIterator[WorkflowEnvironment]:
    env = await WorkflowEnvironment.start_time_skipping(
        data_converter=pydantic_data_converter, test_server_existing_path=test_server_path())
    async with env:
        yield env
