"""`nurture tracks migrate`: move leads in flight onto the current playbook version.

The plan groups leads by where they stand (version, phase, track, step) and says where each
group lands: the step with the same id, the step `--map` names, or nowhere (the step is
gone and unmapped, or the lead is with sales, suppressed or exited: left alone). Carrying it
out sends each lead the workflow's `migrate` update, which checks again and moves the lead
at a safe point; a lead already on the version is left unchanged, so a move run twice moves
each lead once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field

from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.service import RPCError

from engine.client.leads import migrate_lead
from engine.dsl.spec import PlaybookSpec
from engine.errors import NurtureError
from engine.journey.migration import LEFT_ALONE, MigrateRequest
from engine.leads import Phase
from engine.store import Store


class MigrationError(NurtureError):
    """The move cannot be planned as asked (an unknown version or step)."""


@dataclass
class Group:
    """Leads standing at the same place, and where they land (`to_step` None: they stay)."""

    version: str | None
    phase: str
    track: str | None
    step: str | None
    to_step: str | None
    moves: bool
    why: str
    leads: list[str] = field(default_factory=list)


@dataclass
class Plan:
    """Every group of leads not on the target version, moving or staying."""

    target: PlaybookSpec
    groups: list[Group]

    @property
    def moving(self) -> list[str]:
        """The leads the move will be sent to."""
        return [lead for g in self.groups if g.moves for lead in g.leads]


@dataclass
class Report:
    """What the move did, lead by lead."""

    moved: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    refused: dict[str, str] = field(default_factory=dict)


def check_request(store: Store, target: PlaybookSpec, *, from_version: str | None,
                  track: str | None, step_map: dict[str, str]) -> None:
    """Refuse an unknown version, track or mapped step, saying what exists."""
    if from_version is not None and store.stored_playbook(from_version) is None:
        known = ", ".join(r.version for r in store.playbook_versions()) or "none"
        raise MigrationError(f"unknown version {from_version!r}; stored versions: {known}")
    if track is not None and track not in target.tracks:
        raise MigrationError(f"the current playbook has no track {track!r}; tracks: "
                             f"{', '.join(sorted(target.tracks))}")
    tracks = [target.track(track)] if track else list(target.tracks.values())
    new_steps = {s.id for t in tracks for s in t.steps}
    old = store.stored_playbook(from_version) if from_version else None
    old_tracks = ([old.tracks[track]] if old and track in old.tracks else
                  list(old.tracks.values()) if old else [])
    old_steps = {s.id for t in old_tracks for s in t.steps}
    for source, destination in step_map.items():
        if old is not None and source not in old_steps:
            raise MigrationError(f"--map {source}={destination}: version {from_version} has "
                                 f"no step {source!r}" + (f" in track {track!r}" if track else ""))
        if destination not in new_steps:
            where = f"track {track!r}" if track else "any track"
            raise MigrationError(f"--map {source}={destination}: {where} of the current "
                                 f"version has no step {destination!r}")


def plan_migration(store: Store, target: PlaybookSpec, *, from_version: str | None = None,
                   track: str | None = None, step_map: dict[str, str] | None = None) -> Plan:
    """Where every lead not on `target` would land; nothing is changed."""
    step_map = step_map or {}
    check_request(store, target, from_version=from_version, track=track, step_map=step_map)
    groups: dict[tuple[str | None, str, str | None, str | None], Group] = {}
    for lead in store.lead_positions(version=from_version, track=track,
                                     exclude_version=target.version):
        key = (lead.version, lead.phase, lead.track, lead.step)
        if key not in groups:
            groups[key] = _group(target, *key, step_map)
        groups[key].leads.append(lead.lead_id)
    return Plan(target=target, groups=list(groups.values()))


def _group(target: PlaybookSpec, version: str | None, phase: str, track: str | None,
           step: str | None, step_map: dict[str, str]) -> Group:
    def stays(why: str) -> Group:
        return Group(version, phase, track, step, None, False, why)

    if phase in LEFT_ALONE:
        return stays(f"left alone: {LEFT_ALONE[Phase(phase)]}")
    if phase == Phase.RECYCLED:
        return Group(version, phase, track, step, None, True,
                     "resting: takes the new version, resumes on its date")
    if track is None or step is None:
        return stays("left alone: not on a track")
    if track not in target.tracks:
        return stays(f"stays: track {track!r} is gone from the current version")
    to_step = step_map.get(step, step)
    if to_step not in {s.id for s in target.track(track).steps}:
        return stays(f"stays: step {step!r} is gone; add --map {step}=STEP")
    how = "same step" if to_step == step else "mapped"
    return Group(version, phase, track, step, to_step, True, f"moves ({how})")


async def run_migration(client: Client, plan: Plan, *, from_version: str | None,
                        track: str | None, step_map: dict[str, str], by: str,
                        progress: Callable[[int], None] = lambda n: None,
                        concurrency: int = 16) -> Report:
    """Send every moving lead the `migrate` update, `concurrency` at a time."""
    request = MigrateRequest(playbook=plan.target, from_version=from_version, track=track,
                             step_map=step_map, by=by)
    report, gate = Report(), asyncio.Semaphore(concurrency)

    async def move(lead_id: str) -> None:
        async with gate:
            try:
                result = await migrate_lead(client, lead_id, request)
            except WorkflowUpdateFailedError as err:
                cause = err.cause
                report.refused[lead_id] = getattr(cause, "message", None) or str(cause)
            except RPCError as err:
                report.refused[lead_id] = err.message
            else:
                (report.moved if result.status == "moved" else report.unchanged).append(lead_id)
            progress(1)

    await asyncio.gather(*(move(lead) for lead in plan.moving))
    return report
