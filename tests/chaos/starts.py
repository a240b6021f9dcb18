"""The concurrent-start trial: a worker and two APIs started at the same moment on a fresh
SQLite database, round after round; every process must come up.

Serving processes refuse a database without the schema (they name `nurture db upgrade`), so
each of the three starts as a deployment starts it: `nurture db upgrade`, then `nurture
worker` or `nurture api`, the three chains launched together. A round passes when every
upgrade exits 0, the worker polls its task queue and both APIs answer `/health`, and no
output says a table "already exists" (the race a schema made by whoever starts first had).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client

from tests.chaos.playbook import REFERENCE
from tests.chaos.processes import ROOT, Child, nurture_command, nurture_env
from tests.chaos.site import UP_SECONDS, WRITE_KEY
from worker.dev import free_port
from worker.temporal_server import TemporalDevServer


@dataclass
class Start:
    """How one process of a round started."""

    name: str
    upgrade_code: int | None = None
    up: bool = False
    seconds: float = 0.0
    problem: str = ""


@dataclass
class Round:
    """One round: three processes on one new database file."""

    number: int
    starts: list[Start] = field(default_factory=list)

    @property
    def failures(self) -> list[str]:
        """What went wrong, process by process."""
        return [f"round {self.number} {s.name}: {s.problem}" for s in self.starts
                if not s.up or s.problem]


async def start_together(folder: Path, rounds: int) -> list[Round]:
    """Run the rounds against one Temporal dev server; every process is stopped after its
    round."""
    folder.mkdir(parents=True, exist_ok=True)
    server = TemporalDevServer(folder / "temporal.db", folder / "temporal.log",
                               host="127.0.0.1", port=free_port(), ui_port=free_port(),
                               start_timeout=UP_SECONDS)
    try:
        client = await server.start()
        return [await _round(folder / f"round-{n:02d}", n, server.address, client)
                for n in range(rounds)]
    finally:
        await server.stop()


async def _round(folder: Path, number: int, temporal: str, client: Client) -> Round:
    queue = f"starts-{uuid.uuid4().hex[:8]}"
    database = f"sqlite:///{folder / 'nurture.db'}"
    ports = [free_port(), free_port()]
    base = {"NURTURE_DATABASE_URL": database, "NURTURE_PLAYBOOK": REFERENCE,
            "NURTURE_TASK_QUEUE": queue, "NURTURE_WRITE_KEYS": WRITE_KEY,
            "NURTURE_SMTP_HOST": "127.0.0.1", "NURTURE_SMTP_PORT": str(free_port()),
            "TEMPORAL_ADDRESS": temporal}
    children = [Child("worker", ["worker"], nurture_env(base), folder / "worker.log")]
    children += [Child(f"api-{n}", ["api", "--port", str(port)], nurture_env(
        {**base, "NURTURE_BASE_URL": f"http://127.0.0.1:{port}"}), folder / f"api-{n}.log")
        for n, port in enumerate(ports)]
    result = Round(number)
    try:
        result.starts = list(await asyncio.gather(
            *(_start(child, client, queue, ports) for child in children)))
    finally:
        await asyncio.gather(*(child.stop() for child in children))
    for start, child in zip(result.starts, children, strict=True):
        if "already exists" in child.log.read_text(errors="replace"):
            start.problem = (start.problem + "; " if start.problem else "") + \
                "its output says a table already exists"
    return result


async def _start(child: Child, client: Client, queue: str, ports: list[int]) -> Start:
    """`nurture db upgrade`, then the process; whether and when it came up."""
    start = Start(child.name)
    began = time.monotonic()
    child.log.parent.mkdir(parents=True, exist_ok=True)
    with child.log.open("ab") as out:
        upgrade = await asyncio.create_subprocess_exec(
            *nurture_command("db", "upgrade"), cwd=ROOT, env=child.env,
            stdin=asyncio.subprocess.DEVNULL, stdout=out, stderr=asyncio.subprocess.STDOUT)
        start.upgrade_code = await upgrade.wait()
    if start.upgrade_code != 0:
        start.problem = f"nurture db upgrade exited with {start.upgrade_code}"
        return start
    await child.start()
    deadline = time.monotonic() + UP_SECONDS
    while time.monotonic() < deadline:
        if not child.running:
            start.problem = f"exited with {child.process.returncode if child.process else '?'}"
            break
        try:
            start.up = await _answers(child, client, queue, ports)
        except Exception:  # noqa: BLE001 - not answering yet
            start.up = False
        if start.up:
            break
        await asyncio.sleep(0.1)
    else:
        start.problem = f"not up within {UP_SECONDS:g} s"
    start.seconds = time.monotonic() - began
    if start.problem:
        start.problem += "\n" + child.output(1500)
    return start


async def _answers(child: Child, client: Client, queue: str, ports: list[int]) -> bool:
    if child.name == "worker":
        answer = await client.workflow_service.describe_task_queue(DescribeTaskQueueRequest(
            namespace=client.namespace, task_queue=TaskQueue(name=queue),
            task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW))
        return any(poller.identity.startswith(f"{child.pid}@") for poller in answer.pollers)
    port = ports[int(child.name.rpartition("-")[2])]
    async with httpx.AsyncClient(timeout=5) as http:
        return (await http.get(f"http://127.0.0.1:{port}/health")).is_success
