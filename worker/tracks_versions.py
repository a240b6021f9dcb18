"""`nurture tracks versions | diff | migrate`: which playbook versions leads run, what
changed, and moving leads in flight onto the current version."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated

import typer

from engine.errors import NurtureError
from engine.settings import load_playbook, load_settings

# The CLI imports this module to register its commands; what the commands use (Temporal,
# the store, the web stack behind open_store, rich) is imported when one runs, so `nurture
# simulate` and the rest do not pay for it.
if TYPE_CHECKING:
    from engine.client.migration import Plan, Report
    from engine.dsl.spec import PlaybookSpec
    from engine.settings import Settings
    from engine.store import Store

CURRENT = "current"


def _fail(message: str, code: int = 1) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


def _open(playbook: str | None) -> tuple[Settings, Store, PlaybookSpec]:
    from worker.serve import open_store

    try:
        settings = load_settings()
        spec = load_playbook(playbook or settings.playbook)
        store = open_store(settings)
    except NurtureError as err:
        raise _fail(str(err)) from None
    store.save_playbook(spec, now=datetime.now(UTC))
    return settings, store, spec


def register(tracks_app: typer.Typer) -> None:
    """Add the commands to `nurture tracks`."""
    tracks_app.command("versions")(versions)
    tracks_app.command("diff")(diff)
    tracks_app.command("migrate")(migrate)


def versions(playbook: Annotated[str | None, typer.Option(
        "--playbook", help="Playbook as 'module:NAME' (default: NURTURE_PLAYBOOK).")] = None
             ) -> None:
    """Leads per playbook version, by track and step; the current version is marked."""
    _, store, spec = _open(playbook)
    counts = store.position_counts()
    by_version: dict[str | None, list[tuple[str, str, int]]] = defaultdict(list)
    for row in counts:
        where = f"{row.track}.{row.step}" if row.track and row.step else (row.track or "-")
        by_version[row.version].append((row.phase, where, row.leads))
    from rich.console import Console
    from rich.markup import escape

    stored = {r.version: r for r in store.playbook_versions()}
    console = Console(highlight=False, soft_wrap=True)
    for version in [*stored, *(v for v in by_version if v not in stored)]:
        rows = by_version.get(version, [])
        mark = "  <- current" if version == spec.version else ""
        label = version or "not recorded yet"
        seen = stored[version].stored_at.strftime("%Y-%m-%d %H:%M UTC") if version in stored \
            else "spec not stored"
        console.print(f"[bold]{escape(label)}[/bold] ({seen}): "
                      f"{sum(n for _, _, n in rows)} leads{mark}")
        for phase, where, leads in rows:
            console.print(f"    {leads:>7}  {escape(phase):<14} {escape(where)}")
    store.dispose()


def diff(
    from_version: Annotated[str | None, typer.Option(
        "--from", help="The version to compare (default: the one most leads not on the "
                       "current version run).")] = None,
    playbook: Annotated[str | None, typer.Option(
        "--playbook", help="Playbook as 'module:NAME' (default: NURTURE_PLAYBOOK).")] = None,
) -> None:
    """What changed between a version leads are on and the current playbook, in words."""
    from engine.dsl.diff import diff_playbooks

    _, store, spec = _open(playbook)
    try:
        if from_version is None:
            others: dict[str, int] = defaultdict(int)
            for row in store.position_counts():
                if row.version and row.version != spec.version:
                    others[row.version] += row.leads
            if not others:
                raise _fail(f"every lead with a recorded version runs the current one "
                            f"({spec.version}); name one with --from")
            from_version = max(others, key=lambda v: others[v])
        old = store.stored_playbook(from_version)
        if old is None:
            known = ", ".join(r.version for r in store.playbook_versions())
            raise _fail(f"unknown version {from_version!r}; stored versions: {known}", 2)
    finally:
        store.dispose()
    typer.echo(diff_playbooks(old, spec).render())


StepMap = Annotated[list[str] | None, typer.Option(
    "--map", help="OLD_STEP=NEW_STEP for a step that no longer exists (repeatable).")]


def migrate(
    to: Annotated[str, typer.Option("--to", help="The version to move leads to: "
                                    "'current' (the loaded playbook) or its hash.")] = CURRENT,
    from_version: Annotated[str | None, typer.Option(
        "--from", help="Only leads on this version.")] = None,
    track: Annotated[str | None, typer.Option("--track", help="Only leads on this track.")
                     ] = None,
    step_map: StepMap = None,
    dry_run: Annotated[bool, typer.Option(
        "--dry-run", help="List where each group of leads would land; change nothing.")
                       ] = False,
    playbook: Annotated[str | None, typer.Option(
        "--playbook", help="Playbook as 'module:NAME' (default: NURTURE_PLAYBOOK).")] = None,
) -> None:
    """Move leads in flight onto the current playbook version, at a safe point."""
    from engine.client.migration import MigrationError, plan_migration

    settings, store, spec = _open(playbook)
    if to not in (CURRENT, spec.version):
        raise _fail(f"--to {to!r}: leads can move only to the loaded playbook "
                    f"(current: {spec.version}); load the playbook you want as current", 2)
    mapping = _parse_map(step_map or [])
    try:
        plan = plan_migration(store, spec, from_version=from_version, track=track,
                              step_map=mapping)
    except MigrationError as err:
        raise _fail(str(err), 2) from None
    finally:
        store.dispose()
    _print_plan(plan, dry_run=dry_run)
    if dry_run or not plan.moving:
        return
    report = asyncio.run(_carry_out(settings, plan, from_version, track, mapping))
    typer.echo(f"moved {len(report.moved)}, already on {spec.version} "
               f"{len(report.unchanged)}, refused {len(report.refused)}")
    for lead_id, why in sorted(report.refused.items()):
        typer.echo(f"  refused {lead_id}: {why}")
    if report.refused:
        raise typer.Exit(1)


def _parse_map(pairs: list[str]) -> dict[str, str]:
    mapping: dict[str, str] = {}
    for pair in pairs:
        old, sep, new = pair.partition("=")
        if not sep or not old.strip() or not new.strip():
            raise _fail(f"--map {pair!r}: write it as OLD_STEP=NEW_STEP", 2)
        mapping[old.strip()] = new.strip()
    return mapping


def _print_plan(plan: Plan, *, dry_run: bool) -> None:
    from rich.console import Console
    from rich.markup import escape

    console = Console(highlight=False, soft_wrap=True)
    head = "would move" if dry_run else "moving"
    console.print(f"{head} {len(plan.moving)} leads to version {plan.target.version} "
                  f"({sum(len(g.leads) for g in plan.groups)} not on it)")
    for g in sorted(plan.groups, key=lambda g: (not g.moves, g.track or "", g.step or "")):
        where = f"{g.track}.{g.step}" if g.track and g.step else (g.track or g.phase)
        to = f" -> {g.track}.{g.to_step}" if g.to_step and g.to_step != g.step else ""
        console.print(f"  {len(g.leads):>7}  {escape(g.version or '?')}  "
                      f"{escape(where)}{escape(to)}  {escape(g.why)}")


async def _carry_out(settings: Settings, plan: Plan, from_version: str | None,
                     track: str | None, mapping: dict[str, str]) -> Report:
    from rich import progress

    from engine.client import connect_from
    from engine.client.migration import run_migration

    client = await connect_from(settings)
    columns = (progress.TextColumn("moving leads"), progress.BarColumn(),
               progress.MofNCompleteColumn(), progress.TimeRemainingColumn())
    with progress.Progress(*columns, transient=True) as bar:
        job = bar.add_task("move", total=len(plan.moving))
        return await run_migration(client, plan, from_version=from_version, track=track,
                                   step_map=mapping, by="nurture tracks migrate",
                                   progress=lambda n: bar.advance(job, n))
