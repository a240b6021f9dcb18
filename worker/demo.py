"""`nurture demo`: realistic B2B leads played through the engine over its HTTP API.

The personas' 30 days of behavior are replayed in seconds, with their original timestamps
(so scoring decay is real); once the engine has caught up, the demo shows phases, emails,
escalations, suppressions and where to look next. It uses a running `nurture dev`, or an
embedded stack it starts and stops itself.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from rich import progress
from rich.console import Console

from engine.dsl.spec import PlaybookSpec
from engine.errors import NurtureError
from engine.settings import load_playbook, load_settings
from worker.demo_report import DemoReport, Landmarks, caught_up, print_report
from worker.dev_addresses import api_url as running_api_url
from worker.dev_addresses import running
from worker.event_send import write_key_for
from worker.personas import WINDOW_DAYS, Journey, journeys

SETTLE_SECONDS = 60.0
LEADS_AT_ONCE = 8  # journeys replayed concurrently; each one's calls stay in order


class WriteKeyRefused(NurtureError):
    """The API answered 401: the write key is not one it accepts."""


async def run_demo(api_url: str, write_key: str, leads: int, seed: int, console: Console, *,
                   landmarks: Landmarks | None = None, playbook: PlaybookSpec | None = None,
                   settle_seconds: float | None = None) -> DemoReport:
    """Replay `leads` leads' behavior through the API at `api_url`, wait for the engine to
    catch up (at most `settle_seconds`: a minute, 2 s a lead), print what happened, return it."""
    api_url = api_url.rstrip("/")
    landmarks = landmarks or Landmarks(docs_url=f"{api_url}/docs")
    cast = journeys(leads, seed)
    started = asyncio.get_running_loop().time()
    console.print(f"[bold]nurture demo[/] · seed {seed} · {len(cast)} leads · {api_url}")
    async with httpx.AsyncClient(base_url=api_url, auth=(write_key, ""), timeout=30) as http:
        api = _Api(http, landmarks.data_dir / "write_key")
        # Ask once before sending anything, so a wrong key fails fast and leaves no trace.
        await api.call("GET", f"/v1/leads/{cast[0].lead_id}", ok=(200, 404))
        seconds = settle_seconds or max(SETTLE_SECONDS, 2.0 * leads)
        calls = await _replay(api, cast, datetime.now(UTC), console, seconds)
        states, settled = await _settle(api, cast, console, seconds)
    report = DemoReport(api_url=api_url, seed=seed, journeys=cast, leads=states, calls=calls,
                        settled=settled, landmarks=landmarks, playbook=playbook,
                        seconds=asyncio.get_running_loop().time() - started)
    print_report(report, console)
    return report


async def run_demo_with_stack(api: str | None, write_key: str | None, leads: int, seed: int,
                              data_dir: Path, console: Console) -> DemoReport:
    """The demo against the API that answers at `api` (default: the settings' API), or
    against an embedded `DevStack` in `data_dir` when none does."""
    settings = load_settings()
    playbook = load_playbook(settings.playbook)
    api_url = running_api_url(settings, api, data_dir)
    if await _answers(api_url):
        outbox = data_dir / "outbox"
        dev = running(data_dir)
        landmarks = Landmarks(docs_url=f"{api_url}/docs", data_dir=data_dir,
                              outbox=outbox if outbox.is_dir() else None,
                              ui_url=dev.ui_url if dev and dev.api_url == api_url else None)
        return await run_demo(api_url, write_key_for(settings, write_key, data_dir), leads,
                              seed, console, landmarks=landmarks, playbook=playbook)
    from temporalio.runtime import Runtime

    from worker.dev import DevStack  # the stack's imports are only paid for when needed
    from worker.simulate import quiet_runtime

    # The Temporal core's warnings (slow workflow tasks on a busy laptop) would break up the
    # progress bar and tables; errors still show.
    Runtime.set_default(quiet_runtime(), error_if_already_set=False)
    console.print(f"No nurture API answers at {api_url}; starting an embedded stack "
                  f"(state in {data_dir.resolve()}).")
    # Free ports for everything, so the demo never collides with anything already running.
    stack = DevStack(data_dir, api_port=0, temporal_port=0)
    with console.status("Starting Temporal, the worker, the API and an SMTP sink…"):
        await stack.__aenter__()
    try:
        landmarks = Landmarks(docs_url=stack.docs_url, outbox=stack.outbox_dir,
                              data_dir=data_dir, embedded=True)
        return await run_demo(stack.api_url, stack.write_key, leads, seed, console,
                              landmarks=landmarks, playbook=playbook)
    finally:
        with console.status("Stopping the embedded stack…"):
            await stack.__aexit__(None, None, None)


async def _answers(api_url: str) -> bool:
    try:
        async with httpx.AsyncClient(timeout=2) as http:
            return (await http.get(f"{api_url}/health")).json().get("ok") is True
    except (httpx.HTTPError, ValueError, AttributeError):  # nothing, or not a nurture API
        return False


def request_for(journey: Journey, now: datetime) -> dict[str, Any]:
    """The `/v1/batch` body that carries a journey: its whole script, oldest call first (the
    anonymous visits, the identify, then the rest), as a server-side import sends history.

    One request is one transaction in the inbound ledger, so the relay hands the lead's
    workflow the whole script in one delivery. Spread over requests, the calls would reach
    the workflow in as many pieces as the relay's passes happened to cut, and a lead whose
    case-study download arrived while it waited for one would take another path than one
    that had it before: the same seed would give another report."""
    return {"batch": journey.calls(now)}


def waves(cast: list[Journey]) -> list[list[Journey]]:
    """The cast in rounds, each lead in the round after its colleagues cast before it (same
    email domain), oldest journeys first within a round.

    A lead looks for colleagues once, when it is enrolled, and tells them; two colleagues
    enrolled at the same moment may each find the other, or neither. Played round by
    round, with each round settled before the next starts, every lead finds exactly the
    colleagues cast before it."""
    rounds: list[list[Journey]] = []
    earlier: Counter[str] = Counter()
    for journey in cast:
        domain = journey.email.rpartition("@")[2]
        number = earlier[domain]
        earlier[domain] += 1
        if number == len(rounds):
            rounds.append([])
        rounds[number].append(journey)
    return [sorted(wave, key=lambda j: (-j.days_ago[0], j.number)) for wave in rounds]


class _Api:
    """The API as the demo uses it: what is safe to retry is retried, refusals explained."""

    def __init__(self, http: httpx.AsyncClient, key_file: Path) -> None:
        self.http, self.key_file = http, key_file

    async def call(self, method: str, path: str, body: dict[str, Any] | None = None, *,
                   ok: tuple[int, ...] = (200,)) -> httpx.Response:
        """The answer to one request; NurtureError when the API refuses or is gone."""
        attempt = 0
        while True:
            attempt += 1
            try:
                response = await self.http.request(method, path, json=body)
            except httpx.TransportError as err:
                # Safe to repeat: every call carries its messageId. A busy server may also
                # close a kept-alive connection just as it is reused.
                if attempt >= 4:
                    raise NurtureError(f"lost the API at {self.http.base_url} "
                                       f"({str(err) or type(err).__name__}); is it still "
                                       "running?") from None
                await asyncio.sleep(0.25 * 2 ** attempt)
                continue
            if response.status_code in (429, 503) and attempt < 6:  # busy: wait as it asks
                await asyncio.sleep(min(float(response.headers.get("retry-after") or 1), 10))
                continue
            if response.status_code in ok:
                return response
            raise self._refusal(response)

    def _refusal(self, response: httpx.Response) -> NurtureError:
        try:
            detail = response.json().get("error", response.text)
        except ValueError:
            detail = response.text
        where = f"the API at {str(self.http.base_url).rstrip('/')}"
        if response.status_code == 401:
            return WriteKeyRefused(
                f"{where} refused the write key ({detail}); pass the key `nurture dev` "
                f"printed with --write-key (it keeps it in {self.key_file}), or set "
                "NURTURE_WRITE_KEYS to a key the API accepts")
        return NurtureError(f"{where} answered {response.status_code} to "
                            f"{response.request.method} {response.request.url.path}: {detail}")


async def _replay(api: _Api, cast: list[Journey], now: datetime, console: Console,
                  seconds: float) -> int:
    """Send every journey, round by round (`waves`), a few at once; the number of calls.
    Between rounds the engine settles (at most `seconds` a round)."""
    rounds = waves(cast)
    total = sum(len(journey.calls(now)) for journey in cast)
    limit = asyncio.Semaphore(LEADS_AT_ONCE)
    bar = progress.Progress(
        progress.SpinnerColumn(), progress.TextColumn("{task.description}"),
        progress.BarColumn(), progress.MofNCompleteColumn(), progress.TextColumn("calls"),
        progress.TimeElapsedColumn(), console=console)

    async def play(journey: Journey) -> None:
        async with limit:
            body = request_for(journey, now)
            await api.call("POST", "/v1/batch", body)
            bar.advance(task, len(body["batch"]))

    with bar:
        description = f"Replaying {WINDOW_DAYS} days of behavior"
        task = bar.add_task(description, total=total)
        for number, wave in enumerate(rounds):
            if number:  # the colleagues of this round's leads have settled first
                bar.update(task, description=f"{description}: colleagues, round {number + 1}")
                await _calm(api, rounds[number - 1], seconds)
            await asyncio.gather(*(play(journey) for journey in wave))
        bar.update(task, description=description)
    return total


async def _settle(api: _Api, cast: list[Journey], console: Console, seconds: float
                  ) -> tuple[dict[str, dict[str, Any]], bool]:
    """Wait until the engine has caught up with the whole cast; the last answers and
    whether that happened within `seconds`."""
    with console.status("Waiting for the relay to deliver and the workflows to react…") as status:
        return await _calm(api, cast, seconds, status.update)


async def _calm(api: _Api, cast: list[Journey], seconds: float,
                show: Callable[[str], object] | None = None
                ) -> tuple[dict[str, dict[str, Any]], bool]:
    """Wait until nothing awaits delivery, every lead's workflow has all its events and two
    looks in a row agree; the last answers and whether that happened within `seconds`."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    states: dict[str, dict[str, Any]] = {}
    before: dict[str, tuple[Any, ...]] = {}
    limit = asyncio.Semaphore(4)  # each look is a workflow query the busy worker answers

    async def look(journey: Journey) -> None:
        async with limit:
            response = await api.call("GET", f"/v1/leads/{journey.lead_id}", ok=(200, 404))
        states[journey.lead_id] = response.json() if response.status_code == 200 else {}

    while loop.time() < deadline:
        health = await api.call("GET", "/health")
        backlog = int(health.json().get("backlog", 0))
        missing = [j for j in cast if not caught_up(j, states.get(j.lead_id, {}))]
        if backlog == 0:
            # Ask only about leads still missing events; then everyone, until it is calm.
            await asyncio.gather(*(look(j) for j in missing or cast))
            if not missing:
                now = {lead_id: _outline(state) for lead_id, state in states.items()}
                if now == before:
                    return states, True
                before = now
        if show is not None:
            show(f"Waiting for the engine: {backlog} calls to deliver, "
                 f"{len(cast) - len(missing)}/{len(cast)} leads have all their events")
        await asyncio.sleep(1.0)
    await asyncio.gather(*(look(j) for j in cast))
    return states, False


def _outline(state: dict[str, Any]) -> tuple[Any, ...]:
    return (state.get("phase"), state.get("track"), state.get("step"), state.get("event_count"),
            len(state.get("emails") or []), (state.get("escalation") or {}).get("task_id"))
