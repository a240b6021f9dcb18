"""What `nurture demo` found, and how it prints it: phases, emails by track, escalations
with their qualification sentences, suppressions, and where to look next.

The outcome (`print_outcome`, `DemoReport.outcome`) is the same for the same seed, whenever
and wherever the demo runs: it counts an email a lead will get at the next slot of its
send window with the ones sent. What depends on the moment (how long the engine took,
which emails wait for the morning right now, the addresses) is printed around it.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from rich import box
from rich.console import Console
from rich.table import Column, Table

from engine.dsl.spec import PlaybookSpec, SendStep
from engine.leads import Phase
from worker.dev_addresses import DEFAULT_API_URL, DEFAULT_UI_URL, data_dir_option
from worker.personas import Journey


@dataclass(frozen=True)
class Landmarks:
    """Where a user looks next: the Temporal Web UI, the API docs, the outbox of .eml files.

    For a stack that is still running these are its own addresses (`ui_url` None when it
    is not known, e.g. a production `nurture api`); an embedded stack has stopped, so the
    addresses are those a later `nurture dev` listens on by default."""

    docs_url: str
    outbox: Path | None = None
    data_dir: Path = Path(".nurture")
    embedded: bool = False  # the stack stopped when the demo ended
    ui_url: str | None = None


@dataclass
class DemoReport:
    """What the demo sent and where every lead stands (`GET /v1/leads/{id}` answers)."""

    api_url: str
    seed: int
    journeys: list[Journey]
    leads: dict[str, dict[str, Any]]
    calls: int
    settled: bool
    seconds: float
    landmarks: Landmarks
    playbook: PlaybookSpec | None = None

    def lead(self, journey: Journey) -> dict[str, Any]:
        """The lead's state, or an empty answer when the API had none."""
        return self.leads.get(journey.lead_id) or {}

    def escalations(self) -> list[tuple[Journey, dict[str, Any]]]:
        """Leads handed to sales with their open escalation, most urgent tier first."""
        found = [(j, self.lead(j)["escalation"]) for j in self.journeys
                 if self.lead(j).get("escalation")]
        return sorted(found, key=lambda pair: (pair[1]["tier"], pair[0].number))

    def suppressions(self) -> list[tuple[Journey, str]]:
        """Leads no email will reach again, with the reason."""
        return [(j, self.lead(j)["suppressed_reason"]) for j in self.journeys
                if self.lead(j).get("suppressed_reason")]

    def emails(self, journey: Journey) -> Counter[str]:
        """The lead's emails by track: sent, or scheduled for the next slot the cadence
        allows (which of the two depends only on the hour the demo ran)."""
        lead = self.lead(journey)
        found = Counter(e["track"] for e in lead.get("emails") or [])
        found.update(e["track"] for e in lead.get("scheduled_emails") or [])
        if self.waiting_to_send(journey):
            found[lead["track"]] += 1
        return found

    def scheduled(self, journey: Journey) -> int:
        """How many of the lead's emails wait for their slot right now."""
        held = len(self.lead(journey).get("scheduled_emails") or [])
        return held + self.waiting_to_send(journey)

    def outcome(self) -> dict[str, dict[str, Any]]:
        """What the engine made of each lead, by lead id: the same for the same seed."""
        found: dict[str, dict[str, Any]] = {}
        for journey in self.journeys:
            lead = self.lead(journey)
            escalation = lead.get("escalation") or {}
            found[journey.lead_id] = {
                "phase": lead.get("phase"), "track": lead.get("track"),
                "emails": dict(sorted(self.emails(journey).items())),
                "escalation": ((escalation.get("tier"), escalation.get("reason"))
                               if escalation else None),
                "suppressed": lead.get("suppressed_reason"),
                "alerts": len(lead.get("alerts") or []),
                "committee": sorted(lead.get("committee") or []),
                "flags": sorted((lead.get("scores") or {}).get("flags") or [])}
        return found

    def waiting_to_send(self, journey: Journey) -> bool:
        """True when the lead's next email is scheduled (send window or frequency cap)."""
        lead, playbook = self.lead(journey), self.playbook
        if playbook is None or lead.get("playbook_version") != playbook.version:
            return False  # another playbook: its steps are not ours to read
        track = playbook.tracks.get(lead.get("track") or "")
        return track is not None and any(
            isinstance(step, SendStep) and step.id == lead.get("step") for step in track.steps)


def caught_up(journey: Journey, state: dict[str, Any]) -> bool:
    """The lead's workflow answers, is enrolled and has every event of the script."""
    inbound = state.get("inbound") or {}
    return (state.get("source") == "workflow" and bool(state.get("phase"))
            and not inbound.get("pending") and not inbound.get("waiting")
            and int(state.get("event_count") or 0) >= journey.events)


def print_report(report: DemoReport, console: Console) -> None:
    """What happened, in tables that fit a 100-column terminal."""
    console.print(f"Sent {report.calls} calls for {len(report.journeys)} leads; "
                  f"{report.seconds:.0f} s after the start the engine had "
                  f"{'caught up' if report.settled else 'not caught up yet'}.")
    if not report.settled:
        behind = sum(not caught_up(j, report.lead(j)) for j in report.journeys)
        console.print(f"[yellow]A snapshot: {behind} leads' workflows were still catching up "
                      "(a busy worker). Run the demo again with the same seed to look again; "
                      "nothing is sent twice.[/]")
    print_outcome(report, console)
    _print_cadence(report, console)
    _print_next(report, console)


def print_outcome(report: DemoReport, console: Console) -> None:
    """What the engine made of the leads: phases, emails, sales, suppressions."""
    phases = {j.lead_id: report.lead(j).get("phase") or "not enrolled" for j in report.journeys}
    table = _table("Leads by phase", ("Phase", {}), ("Leads", {"justify": "right"}),
                   ("Who", {"ratio": 1}))
    order = [*Phase, "not enrolled"]  # a lead's life, start to end
    for phase in sorted(set(phases.values()), key=lambda p: order.index(p) if p in order else 99):
        titles = Counter(j.persona.title for j in report.journeys if phases[j.lead_id] == phase)
        table.add_row(phase, str(titles.total()), ", ".join(
            f"{title} ×{n}" if n > 1 else title for title, n in titles.most_common()))
    console.print(table)
    _print_emails(report, console)
    _print_sales(report, console)
    _print_suppressions(report, console)


def _table(title: str, *columns: tuple[str, dict[str, Any]]) -> Table:
    table = Table(title=title, title_justify="left", title_style="bold", box=box.SIMPLE_HEAD,
                  expand=False, width=None)
    for name, options in columns:
        table.add_column(name, overflow="fold", **options)
    return table


def _print_emails(report: DemoReport, console: Console) -> None:
    emails: Counter[str] = Counter()
    for journey in report.journeys:
        emails.update(report.emails(journey))
    table = _table("Emails by track", ("Track", {}),
                   ("Sent or scheduled", {"justify": "right"}))
    for track, count in sorted(emails.items(), key=lambda pair: (-pair[1], pair[0])):
        table.add_row(track, str(count))
    console.print(table if emails else "No emails sent or scheduled yet.")


def _print_cadence(report: DemoReport, console: Console) -> None:
    """Which emails wait for their slot right now: that depends on the hour."""
    waiting = [j for j in report.journeys if report.scheduled(j)]
    if report.playbook is None or not waiting:
        return
    cadence = report.playbook.cadence
    start, end = cadence.window_start_hour, cadence.window_end_hour
    sent = sum(len(report.lead(j).get("emails") or []) for j in report.journeys)
    night = [(j, datetime.now(ZoneInfo(j.timezone))) for j in waiting]
    night = [(j, local) for j, local in night if not start <= local.hour < end]
    example = (f" (e.g. {night[0][0].name}: {night[0][1]:%H:%M} in {night[0][0].timezone})"
               if night else "")
    console.print(
        f"Emails go out {start:02d}:00–{end:02d}:00 in each lead's time zone, at most "
        f"{cadence.max_emails} per {cadence.per.days} days: right now {sent} have gone out "
        f"and {sum(map(report.scheduled, waiting))} of {len(waiting)} leads wait for their "
        f"slot{example}.\n")


def _print_sales(report: DemoReport, console: Console) -> None:
    escalations = report.escalations()
    table = _table(f"Escalations to sales ({len(escalations)})", ("Tier", {"justify": "center"}),
                   ("Lead", {"no_wrap": True}), ("Qualification reason", {"ratio": 1}))
    for journey, escalation in escalations:
        table.add_row(str(escalation["tier"]), journey.lead_id, escalation["reason"])
    console.print(table if escalations else "No escalations to sales yet.")
    alerts = sum(len(report.lead(j).get("alerts") or []) for j in report.journeys)
    staff = Counter(j.company.name for j in report.journeys if j.company.name)
    committees = [name + " (" + ", ".join(j.first_name for j in report.journeys
                                          if j.company.name == name) + ")"
                  for name, people in staff.items() if people > 1]
    if alerts:
        console.print(f"Sales also got {alerts} alerts (pricing visits, colleagues engaging).")
    if committees:
        console.print(f"Buying committees: {'; '.join(committees)}.")
    console.print()


def _print_suppressions(report: DemoReport, console: Console) -> None:
    suppressed = report.suppressions()
    table = _table(f"Suppressed ({len(suppressed)})", ("Lead", {"no_wrap": True}),
                   ("Who", {}), ("Reason", {"ratio": 1}))
    for journey, reason in suppressed:
        table.add_row(journey.lead_id, f"{journey.name} ({journey.persona.summary})", reason)
    console.print(table if suppressed else "Nobody suppressed.")
    flagged = [f"{j.name} ({', '.join(report.lead(j)['scores']['flags'])}; "
               f"{report.lead(j).get('phase')})" for j in report.journeys
               if (report.lead(j).get("scores") or {}).get("flags")
               and not report.lead(j).get("suppressed_reason")]
    if flagged:
        console.print(f"Disqualifying signals keep these out of tier 1: {', '.join(flagged)}.")
    console.print()


def _print_next(report: DemoReport, console: Console) -> None:
    marks = report.landmarks
    data = data_dir_option(marks.data_dir)
    sample = next((j for j in report.journeys
                   if report.lead(j).get("phase") in ("qualification", "acceleration")),
                  report.journeys[0])
    grid = Table.grid(Column(style="bold", no_wrap=True), Column(overflow="fold"),
                      padding=(0, 2))
    workflow_ids = (f"workflow ids are lead:<lead>, e.g. lead:{report.journeys[0].lead_id}")
    token = marks.data_dir / "inbox_token"
    if marks.embedded:
        grid.add_row("Keep going", f"the embedded stack has stopped; its state is kept in "
                     f"{marks.data_dir}: [cyan]nurture dev{data}[/] picks these leads up again")
        later = "once `nurture dev` runs (on its default ports; else the addresses it prints)"
        grid.add_row("Temporal Web UI", f"{DEFAULT_UI_URL} {later}; {workflow_ids}")
        grid.add_row("API docs", f"{DEFAULT_API_URL}/docs {later}")
        grid.add_row("Sales inbox", f"{DEFAULT_API_URL}/inbox {later}; sign in with the "
                                    f"manager token in {token}, or a rep's from [cyan]nurture "
                                    f"tasks token jordan{data}[/]")
    else:
        grid.add_row("Temporal Web UI", f"{marks.ui_url}; {workflow_ids}" if marks.ui_url
                     else f"the Temporal Web UI of the server the worker uses; {workflow_ids}")
        grid.add_row("API docs", marks.docs_url)
        grid.add_row("Sales inbox", f"{report.api_url}/inbox; sign in with the manager token "
                                    f"in {token}, or a rep's from [cyan]nurture tasks token "
                                    f"jordan{data}[/]")
    if marks.outbox is not None:
        count = len(list(marks.outbox.glob("*.eml"))) if marks.outbox.is_dir() else 0
        grid.add_row("Outbox", f"{marks.outbox} ({count} .eml file{'s' * (count != 1)} from "
                               "the SMTP sink)")
    grid.add_row("One lead", f"GET /v1/leads/{sample.lead_id}")
    api = "" if marks.embedded else f" --api {report.api_url}"
    grid.add_row("Send an event", f"[cyan]nurture event send {sample.lead_id} "
                                  f"\"Demo Requested\"{api}{data}[/]")
    console.print("[bold]Where to look next[/]")
    console.print(grid)
