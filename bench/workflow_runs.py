"""Benchmark: the cost of starting lead workflow runs, with Temporal's default sandbox and
with the engine's runner (I/O modules passed through), side by side in one process.

    .venv/bin/python bench/workflow_runs.py [--leads 20]

Each variant enrolls the same number of fresh leads on its own time-skipping server and
waits until every lead has entered its first track; it reports wall time and the CPU
time of this process (worker and client), per lead.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner

from engine.client import enroll, lead_state
from engine.leads import LeadProfile
from engine.mail import MemoryTransport
from engine.runtime import LeadWorkflow
from engine.runtime.sandbox import lead_workflow_runner
from engine.settings import Settings
from engine.store import Store
from worker.assembly import build_activities
from worker.simulate import quiet_runtime, test_server_path
from workflows import PLAYBOOK


async def _entered(client: Client, lead_id: str) -> bool:
    try:
        return bool((await lead_state(client, lead_id)).track)
    except RPCError:  # a worker this busy lets queries time out: ask again
        return False


async def measure(name: str, runner: SandboxedWorkflowRunner, leads: int) -> None:
    env = await WorkflowEnvironment.start_time_skipping(
        data_converter=pydantic_data_converter, runtime=quiet_runtime(),
        test_server_existing_path=test_server_path())
    async with env:
        with tempfile.TemporaryDirectory() as folder:
            store = Store(f"sqlite:///{folder}/bench.db", upgrade=True)
            activities = build_activities(Settings(), store, MemoryTransport())
            worker = Worker(env.client, task_queue="bench", workflows=[LeadWorkflow],
                            activities=activities.all(), workflow_runner=runner)
            async with worker:
                cpu, wall = time.process_time(), time.perf_counter()
                await asyncio.gather(*(enroll(
                    env.client, LeadProfile(id=f"l{i}", email=f"l{i}@acme{i}.io"), PLAYBOOK,
                    task_queue="bench") for i in range(leads)))
                for i in range(leads):
                    while not await _entered(env.client, f"l{i}"):
                        await asyncio.sleep(0.05)
                wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            store.dispose()
    print(f"{name:<28} {leads:>5} leads  wall {wall:6.2f} s  cpu {cpu:6.2f} s  "
          f"cpu/lead {cpu / leads * 1000:7.1f} ms")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=20)
    args = parser.parse_args()
    await measure("engine runner (pass-through)", lead_workflow_runner(), args.leads)
    await measure("default sandbox", SandboxedWorkflowRunner(), args.leads)


if __name__ == "__main__":
    asyncio.run(main())
