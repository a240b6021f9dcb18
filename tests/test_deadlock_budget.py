"""A test's workflow worker waits out a slow workflow task; a production worker still calls
one that blocks past Temporal's 2 s a deadlock (tests/deadlock.py says why)."""

from __future__ import annotations

import time
import uuid

from temporalio import workflow
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from tests.deadlock import temporals_own_budget

BLOCKS_FOR = 2.5
"""Seconds the first workflow task blocks: past Temporal's 2 s, far inside the tests'."""

_first_task = [True]


@workflow.defn(name="BlocksOnce", sandboxed=False)
class BlocksOnce:
    """Blocks its thread in the first workflow task this process runs (a starved or
    genuinely stuck task, as the worker sees it), then finishes at once."""

    @workflow.run
    async def run(self) -> str:
        if _first_task[0]:
            _first_task[0] = False
            time.sleep(BLOCKS_FOR)
        return "done"


async def _run_blocking_once(env: WorkflowEnvironment) -> WorkflowHandle[BlocksOnce, str]:
    _first_task[0] = True
    queue = f"blocks-{uuid.uuid4().hex[:8]}"
    async with Worker(env.client, task_queue=queue, workflows=[BlocksOnce],
                      workflow_runner=UnsandboxedWorkflowRunner()):
        handle = await env.client.start_workflow(BlocksOnce.run, id=queue, task_queue=queue)
        assert await handle.result() == "done"  # a failed first task is retried at once
    return handle


async def _failed_tasks(handle: WorkflowHandle[BlocksOnce, str]) -> list[str]:
    return [event.workflow_task_failed_event_attributes.failure.message
            async for event in handle.fetch_history_events()
            if event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED]


async def test_a_test_s_worker_lets_a_workflow_task_run_past_two_seconds(
        env: WorkflowEnvironment) -> None:
    handle = await _run_blocking_once(env)

    assert await _failed_tasks(handle) == []


async def test_a_production_worker_still_fails_a_task_blocked_past_two_seconds(
        env: WorkflowEnvironment) -> None:
    with temporals_own_budget():
        handle = await _run_blocking_once(env)

    failed = await _failed_tasks(handle)
    assert len(failed) == 1 and "TMPRL1101" in failed[0], failed
