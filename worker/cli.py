"""The `nurture` command line."""

from __future__ import annotations

import asyncio
import gc
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer

from engine.dsl.spec import PlaybookSpec, SendAction, SendStep
from engine.errors import NurtureError, ScenarioError
from engine.settings import load_playbook, load_settings
from worker.db_cli import db_app
from worker.sends_cli import sends_app
from worker.tasks_cli import tasks_app
from worker.tracks_versions import register as register_versions

app = typer.Typer(help="Behavior-triggered B2B nurture on Temporal.", no_args_is_help=True,
                  add_completion=False)
tracks_app = typer.Typer(help="List, show and check the playbook's tracks; see which versions "
                         "leads run and move them to the current one.",
                         no_args_is_help=True)
app.add_typer(tracks_app, name="tracks")
register_versions(tracks_app)
app.add_typer(tasks_app, name="tasks")
app.add_typer(db_app, name="db")
app.add_typer(sends_app, name="sends")

PlaybookOption = Annotated[str | None, typer.Option(
    "--playbook", help="Playbook as 'module:NAME' (default: NURTURE_PLAYBOOK or "
                       "workflows:PLAYBOOK).")]


def _fail(message: str, code: int = 1) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


def _playbook(reference: str | None) -> PlaybookSpec:
    try:
        return load_playbook(reference or load_settings().playbook)
    except NurtureError as err:
        raise _fail(str(err)) from None


@tracks_app.command("list")
def tracks_list(playbook: PlaybookOption = None) -> None:
    """Every track with its phase, step count and version."""
    spec = _playbook(playbook)
    typer.echo(f"playbook {spec.name} (version {spec.version})")
    for track in spec.tracks.values():
        typer.echo(f"  {track.name:<22} {track.phase:<14} {len(track.steps):>3} steps  "
                   f"{track.version}")


@tracks_app.command("show")
def tracks_show(name: str, as_json: Annotated[bool, typer.Option(
        "--json", help="Print the compiled spec as JSON.")] = False,
        playbook: PlaybookOption = None) -> None:
    """One track as a readable outline (or its JSON spec)."""
    from worker.outline import outline

    spec = _playbook(playbook)
    if name not in spec.tracks:
        raise _fail(f"no track {name!r}; tracks: {', '.join(sorted(spec.tracks))}")
    track = spec.tracks[name]
    if as_json:
        typer.echo(json.dumps({"version": track.version, **track.model_dump(mode="json")},
                              indent=2))
    else:
        typer.echo(outline(track))


@tracks_app.command("check")
def tracks_check(playbook: PlaybookOption = None) -> None:
    """Validate every track and render every template with sample data; exit 1 on a problem."""
    from engine.dsl.lint import playbook_warnings
    from engine.errors import TemplateError
    from engine.mail import TemplateRenderer, sample_context

    spec = _playbook(playbook)
    renderer = TemplateRenderer(load_settings().templates_dir)
    problems: list[str] = []
    used: list[tuple[str, str, dict[str, object]]] = []
    for track in spec.tracks.values():
        used += [(f"{track.name}.{s.id}", s.template, s.ctx) for s in track.steps
                 if isinstance(s, SendStep)]
    for trigger in spec.triggers + [t for tr in spec.tracks.values() for t in tr.triggers]:
        used += [(f"trigger {trigger.name}", a.template, a.ctx) for a in trigger.actions
                 if isinstance(a, SendAction)]
    rendered = 0
    for where, template, ctx in used:
        try:
            renderer.render(template, sample_context(ctx=dict(ctx)))
            rendered += 1
        except TemplateError as err:
            problems.append(f"{where}: {err}")
    for name in set(renderer.names()) - {t for _, t, _ in used}:
        typer.echo(f"note: template {name} is not used by any track")
    for warning in playbook_warnings(spec):
        typer.echo(f"warning: {warning}")
    if problems:
        for problem in problems:
            typer.echo(f"problem: {problem}", err=True)
        raise typer.Exit(1)
    typer.echo(f"ok: {len(spec.tracks)} tracks, {len(spec.triggers)} playbook triggers, "
               f"{rendered} template renders (playbook version {spec.version})")


def main() -> None:
    """The `nurture` program (the script's entry point; tests invoke `app`).

    Commands end through the interpreter's usual teardown. `nurture simulate`, which runs
    Temporal's core in this process, stops all of it (worker, time-skipping server, store,
    the core's threads) before its event loop closes (`worker.simulate`), so nothing of
    Temporal's is left to race the teardown.
    """
    app()


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Import without the cyclic garbage collector, then exempt what was loaded from it.

    A simulation loads a thousand modules, some 100,000 objects that live as long as the
    process; while they pile up, the collector walks them again and again. `gc.freeze`
    leaves them out of every later collection; what the simulation makes afterwards is
    collected as usual.
    """
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        gc.enable()


@app.command()
def simulate(scenario: Path, pretty: Annotated[bool, typer.Option(
        "--pretty", help="Print a table instead of JSON lines.")] = False,
        playbook: PlaybookOption = None) -> None:
    """Run a scripted lead through the real workflow on a time-skipping server."""
    with _collector_paused():  # the code, the scenario and the playbook live to the end
        from worker.simulate import load_scenario
        from worker.simulate import simulate as run

        try:
            parsed = load_scenario(scenario)
        except ScenarioError as err:
            raise _fail(str(err), code=2) from None
        spec = _playbook(playbook)
    try:
        result = asyncio.run(run(parsed, spec, load_settings()))
    except NurtureError as err:
        raise _fail(str(err)) from None
    if not pretty:
        for line in result.timeline:
            typer.echo(json.dumps(line))
        return
    typer.echo(f"{'day':>7}  {'kind':<11} detail")
    for line in result.timeline:
        detail = {k: v for k, v in line.items() if k not in ("at", "day", "kind")}
        text = " ".join(f"{k}={v}" for k, v in detail.items())
        typer.echo(f"{line['day']:>7.2f}  {line['kind']:<11} {text}")
    final = result.final
    typer.echo(f"\nfinal: phase={final.phase} track={final.track} score={final.scores.total:g} "
               f"(fit {final.scores.fit:g}, intent {final.scores.intent:g}) "
               f"emails={len(final.emails)}")


event_app = typer.Typer(help="Send behavioral events to the API.", no_args_is_help=True)
app.add_typer(event_app, name="event")


@event_app.command("send")
def event_send(
        lead_id: str, event: Annotated[str, typer.Argument(
            help="Event name, e.g. demo_requested or 'Pricing Page Viewed'.")],
        prop: Annotated[list[str] | None, typer.Option(
            "--prop", help="A property as key=value (repeatable).")] = None,
        api: Annotated[str | None, typer.Option(
            "--api", help="API address (default NURTURE_API_URL or NURTURE_BASE_URL, else "
                          "the `nurture dev` running from --data-dir).")] = None,
        write_key: Annotated[str | None, typer.Option(
            "--write-key", help="Write key (default NURTURE_WRITE_KEYS or the one "
                                "`nurture dev` keeps).")] = None,
        data_dir: Annotated[Path, typer.Option(
            "--data-dir", help="Where `nurture dev` keeps its write key and its "
                               "address.")] = Path(".nurture"),
) -> None:
    """Send one event for a lead through the HTTP API, as a producer would."""
    from worker.dev_addresses import api_url
    from worker.event_send import parse_props, send_event, write_key_for

    try:
        settings = load_settings()
        key = write_key_for(settings, write_key, data_dir)
        message_id = send_event(api_url(settings, api, data_dir), key, lead_id, event,
                                parse_props(prop or []))
    except NurtureError as err:
        raise _fail(str(err)) from None
    typer.echo(f"accepted: {event} for {lead_id} (messageId {message_id})")


@app.command()
def api(host: Annotated[str | None, typer.Option(help="Interface (default NURTURE_API_HOST, "
                                                      "127.0.0.1).")] = None,
        port: Annotated[int | None, typer.Option(help="Port (default NURTURE_API_PORT, "
                                                      "8000).")] = None) -> None:
    """Run the HTTP API and its relay to Temporal (NURTURE_WRITE_KEYS, TEMPORAL_ADDRESS, ...)."""
    from worker.run import until_stopped
    from worker.serve import log_to_stderr, serve_api

    log_to_stderr()
    try:
        settings = load_settings()
        asyncio.run(until_stopped(serve_api(settings, host=host, port=port)))
    except NurtureError as err:
        raise _fail(str(err)) from None
    except KeyboardInterrupt:
        pass


@app.command()
def worker() -> None:
    """Run the Temporal worker (TEMPORAL_ADDRESS, NURTURE_DATABASE_URL, NURTURE_SMTP_*)."""
    from worker.run import run_worker

    try:
        asyncio.run(run_worker(load_settings()))
    except NurtureError as err:
        raise _fail(str(err)) from None
    except KeyboardInterrupt:
        pass


@app.command()
def dev(
    data_dir: Annotated[Path, typer.Option(
        "--data-dir", help="Where the databases, keys, logs and outbox live.")] = Path(".nurture"),
    api_port: Annotated[int, typer.Option("--api-port", help="HTTP API port.")] = 8000,
    temporal_port: Annotated[int, typer.Option(
        "--temporal-port", help="Temporal gRPC port (ignored with TEMPORAL_ADDRESS).")] = 7233,
    ui_port: Annotated[int | None, typer.Option(
        "--ui-port", help="Temporal Web UI port [default: temporal port + 1000]")] = None,
    smtp_port: Annotated[int | None, typer.Option(
        "--smtp-port", help="Local SMTP sink port [default: any free port]")] = None,
) -> None:
    """Run everything on this machine: Temporal dev server, worker, API and an SMTP sink."""
    from worker.dev import DevStack, run_dev

    stack = DevStack(data_dir, api_port=api_port, temporal_port=temporal_port, ui_port=ui_port,
                     smtp_port=smtp_port)
    try:
        asyncio.run(run_dev(stack, typer.echo))
    except NurtureError as err:
        raise _fail(str(err)) from None
    except KeyboardInterrupt:  # Ctrl-C before the stack took over the signals
        pass


@app.command()
def demo(
    api: Annotated[str | None, typer.Option(
        "--api", help="API of a running `nurture dev` (default NURTURE_API_URL or "
                      "NURTURE_BASE_URL, else the one running from --data-dir); if none "
                      "answers, an embedded stack is started.")] = None,
    write_key: Annotated[str | None, typer.Option(
        "--write-key", help="Write key (default NURTURE_WRITE_KEYS or the one `nurture dev` "
                            "keeps).")] = None,
    leads: Annotated[int, typer.Option(
        "--leads", min=1, max=1000, help="How many leads to play.")] = 50,
    data_dir: Annotated[Path, typer.Option(
        "--data-dir", help="`nurture dev`'s folder (write key, outbox); the embedded stack's "
                           "state goes there too.")] = Path(".nurture"),
    seed: Annotated[int, typer.Option(
        "--seed", help="Same seed, same leads: a re-run sends nothing twice.")] = 1,
) -> None:
    """Play realistic B2B leads through the engine and show what it did with them."""
    from rich.console import Console

    from worker.demo import run_demo_with_stack

    try:
        asyncio.run(run_demo_with_stack(api, write_key, leads, seed, data_dir, Console()))
    except NurtureError as err:
        raise _fail(str(err)) from None
    except KeyboardInterrupt:
        raise typer.Exit(130) from None


if __name__ == "__main__":  # pragma: no cover
    main()
