"""The sales inbox bench's data: leads with their events and one escalation each, spread over
twenty reps and a manager, written as the store writes them.

A sample of every kind of task (open, breached, re-routed, accepted, rejected, recycled) goes
through the store's own methods (`upsert_lead`, `record_event`, `create_sales_task`,
`breach_task`, `reassign_task`, `close_task`, `set_lead_position`); the rest is inserted in
bulk through the store's engine. `check` then reads every row back and compares it with what
the builder below says it must hold, so the bulk rows are proven the same as the store's.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from pydantic_core import to_jsonable_python
from sqlalchemy import insert, select
from sqlmodel import Session

from engine.events import Event
from engine.feedback import RejectReason
from engine.handoff import MEANINGFUL, PAINS, HandoffPackage
from engine.leads import LeadProfile
from engine.sla import due_at, follow_up_until, owner_hours, reroute_at
from engine.store import Store
from engine.store.tables import EventRow, LeadRow, SalesTaskRow
from workflows import PLAYBOOK

MANAGER = ("priya", "Priya Raman", "America/New_York")
_FIRST = ("Ana", "Ben", "Chloe", "Dev", "Elif", "Femi", "Grace", "Hiro", "Ines", "Jonas", "Kira",
          "Luca", "Maya", "Noor", "Omar", "Pia", "Quinn", "Rosa", "Sven", "Tara", "Uma", "Viktor",
          "Wen", "Yara", "Zane")
_LAST = ("Alvarez", "Brandt", "Chen", "Dubois", "Eriksen", "Fischer", "Garcia", "Haddad", "Ito",
         "Jansen", "Kowalski", "Larsen", "Moreau", "Nakamura", "Okafor", "Patel", "Rossi",
         "Santos", "Tanaka", "Urban", "Vargas", "Weber", "Young", "Zhou")
_TITLES = ("VP Operations", "Head of RevOps", "Director of Finance", "CFO", "Operations Manager",
           "Data Analyst", "IT Director", "Sales Operations Lead", "COO", "Controller")
_INDUSTRIES = ("software", "logistics", "manufacturing", "healthcare", "retail", "fintech")
_COUNTRIES = (("US", "America/New_York"), ("US", "America/Chicago"), ("DE", "Europe/Berlin"),
              ("GB", "Europe/London"), ("CA", "America/Toronto"), ("FR", "Europe/Paris"))
_CONTENT = ("Forecasting for finance teams", "Pipeline hygiene checklist", "2026 benchmark report",
            "Quarter-close playbook", "Vendor comparison", "Scaling RevOps")
_TYPES = (*MEANINGFUL, "email_opened", "page_viewed", "page_viewed", "email_opened")
_ZONES = ("America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles",
          "Europe/London", "Europe/Berlin")


def reps() -> list[tuple[str, str, str]]:
    """Twenty reps as (id, name, zone): the shipped playbook's three, then seventeen more."""
    routing = PLAYBOOK.sales.routing
    known = [(r.id, r.name, r.timezone or PLAYBOOK.sales.hours.timezone)
             for r in (routing.reps if routing else []) if r.role == "rep"]
    more = [(f"rep{n:02d}", f"{_FIRST[n]} {_LAST[n]}", _ZONES[n % len(_ZONES)])
            for n in range(len(known), 20)]
    return known + more


@dataclass
class Step:
    """One change after the task opened, as the workflow's activities make it."""

    kind: str  # "breach", "reroute", "close" or "position"
    at: datetime
    values: dict[str, Any] = field(default_factory=dict)


@dataclass
class Lead:
    """A lead, its events, and its escalation from opening to where it stands now."""

    profile: LeadProfile
    created: datetime
    events: list[tuple[str, str, datetime, dict[str, Any]]]
    task: dict[str, Any]  # create_sales_task's keyword arguments
    steps: list[Step]

    @property
    def status(self) -> str:
        """Where the task stands now: open, or how it was closed."""
        closes = [step for step in self.steps if step.kind == "close"]
        return str(closes[-1].values["status"]) if closes else "open"

    @property
    def owner(self) -> str:
        """Who holds the task now (after any re-route)."""
        moves = [step for step in self.steps if step.kind == "reroute"]
        return str(moves[-1].values["owner"] if moves else self.task["owner"])


def generate(count: int, now: datetime, rng: random.Random) -> list[Lead]:
    """`count` leads at companies of one to six people, each escalated once in the last 60
    days; about a fifth of the tasks are still open, some breached and re-routed."""
    people: list[tuple[str, str]] = []  # (domain, company)
    while len(people) < count:
        size = rng.choices((1, 2, 3, 4, 5, 6), (50, 20, 12, 8, 6, 4))[0]
        company = f"{rng.choice(_LAST)} {rng.choice(('Labs', 'Systems', 'Group', 'Freight'))}"
        domain = f"{company.lower().replace(' ', '')}{len(people)}.com"
        people += [(domain, company)] * size
    staff = reps()
    leads = []
    for i, (domain, company) in enumerate(people[:count]):
        first, last = rng.choice(_FIRST), rng.choice(_LAST)
        country, zone = rng.choice(_COUNTRIES)
        named = rng.random() > 0.05
        profile = LeadProfile(
            id=f"lead-{i:05d}", email=f"{first}.{last}.{i}@{domain}".lower(),
            first_name=first if named else None, last_name=last if named else None,
            title=rng.choice(_TITLES), company=company, company_domain=domain,
            company_size=rng.choice((12, 40, 120, 450, 1800)),
            industry=rng.choice(_INDUSTRIES), country=country, timezone=zone,
            source=rng.choice(("webinar", "organic", "paid_search", "referral")),
            campaign=rng.choice(("", "q4-forecasting", "benchmark-2026")) or None)
        opened = now - timedelta(days=rng.uniform(0, 60))
        created = opened - timedelta(days=rng.uniform(5, 120))
        events = [(f"{profile.id}-e{n:03d}", rng.choice(_TYPES),
                   created + (opened - created) * (n + rng.random()) / 25,
                   {"title": rng.choice(_CONTENT), "path": f"/resources/{n}"})
                  for n in range(rng.randint(3, 24))]
        leads.append(_escalate(profile, created, events, opened, now, staff, rng))
    _add_colleagues(leads)
    return leads


def _escalate(profile: LeadProfile, created: datetime,
              events: list[tuple[str, str, datetime, dict[str, Any]]], opened: datetime,
              now: datetime, staff: list[tuple[str, str, str]], rng: random.Random) -> Lead:
    """The lead's escalation and what happened to it until `now`."""
    policy = PLAYBOOK.sales
    rep_id, name, zone = rng.choices(staff, [1 + (n % 3) for n in range(len(staff))])[0]
    hours = owner_hours(policy.hours, zone)
    tier = rng.choices((1, 2, 3), (20, 45, 35))[0]
    due = due_at(tier, opened, hours, policy.tiers).astimezone(UTC)
    until = follow_up_until(opened, hours, policy.tiers).astimezone(UTC)
    rule = rng.choice(("round-robin", f"territory {profile.country}",
                       f"account owner of {profile.company_domain}"))
    action = MEANINGFUL[rng.choice(list(PAINS))]
    reason = (f"{profile.title} at {profile.company} {action} after "
              f"{len(events)} touches in {rng.randint(2, 9)} weeks")
    opener = (f"Hi {profile.first_name or 'there'}, saw you {action}; happy to walk through "
              "how teams like yours forecast the quarter.")
    handoff = HandoffPackage(
        tier=tier, source=profile.source or "unknown", last_meaningful_action=action,
        content_engaged=[f"case study viewed: {c}" for c in _CONTENT[:rng.randint(0, 4)]],
        likely_pain=rng.choice(list(PAINS.values())), buying_role="decision maker",
        company_fit=f"{profile.company_size} people, {profile.industry}, {profile.country}",
        engagement_pattern="accelerating: 6 touches this week, 2 the week before",
        qualification_reason=reason, suggested_opener=opener,
        scores={"fit": 42.0, "intent": 55.0, "total": 97.0}, campaign=profile.campaign or "",
        escalation_reason=f"{action}; A fit, high intent (score 97)", owner=name, due_at=due)
    task = {"id": f"{profile.id}:escalation:{rng.randint(5, 60)}", "lead_id": profile.id,
            "kind": "escalation", "tier": tier, "reason": reason, "opener": opener,
            "handoff": handoff.model_dump(mode="json"), "now": opened, "due_at": due,
            "owner": rep_id, "owner_name": name, "route_rule": rule, "follow_up_until": until}
    steps = [Step("position", opened, {"phase": "sales"})]
    # When sales answered (if at all before now, and before the follow-up window closed).
    answered = opened + timedelta(hours=rng.lognormvariate(2.5, 1.2))
    open_now = rng.random() < 0.85 and now < until
    end = now if open_now else min(answered, until, now)
    if end > due:
        steps.append(Step("breach", due, {"detail": _breach(due, name, rng)}))
        moved_at = reroute_at(tier, due, hours, policy.tiers).astimezone(UTC)
        if moved_at < end and rng.random() < 0.5:
            new_id, new_name, new_zone = (MANAGER if rng.random() < 0.3 else
                                          rng.choice([s for s in staff if s[0] != rep_id]))
            new_due = due_at(tier, moved_at, owner_hours(policy.hours, new_zone),
                             policy.tiers).astimezone(UTC)
            steps.append(Step("reroute", moved_at, {
                "owner": new_id, "owner_name": new_name, "due_at": new_due,
                "rule": f"manager of {rep_id}" if new_id == MANAGER[0] else
                        f"re-routed from {rep_id}"}))
            rep_id, name = new_id, new_name
            if new_due < end:
                steps.append(Step("breach", new_due, {"detail": _breach(new_due, name, rng)}))
    if not open_now:
        steps += _close(end, end >= until, rep_id, opened, rng)
    return Lead(profile, created, events, task, steps)


def _breach(due: datetime, who: str, rng: random.Random) -> str:
    then = "; re-routed at later if still untouched" if rng.random() < 0.5 else ""
    return f"no outcome by {due.isoformat(timespec='minutes')}; {who} re-notified{then}"


def _close(at: datetime, expired: bool, by: str, opened: datetime,
           rng: random.Random) -> list[Step]:
    if expired:
        return [Step("close", at, {"status": "recycled", "by": "system",
                                   "reason": RejectReason.NO_RESPONSE.value,
                                   "note": "no outcome within 10 business days",
                                   "next_step": "nurture: re-engagement"}),
                Step("position", at, {"phase": "recycled"})]
    status = rng.choices(("accepted", "rejected", "recycled"), (45, 40, 15))[0]
    values: dict[str, Any] = {"status": status, "by": by,
                              "note": rng.choice(("", "", "spoke on the phone, good fit"))}
    if status == "accepted":
        values |= {"next_step": "sales-qualified: opportunity in the CRM",
                   "time_to_sql_seconds": (at - opened).total_seconds()}
    elif status == "rejected":
        reason = rng.choice([r for r in RejectReason if r is not RejectReason.NO_RESPONSE])
        values |= {"reason": reason.value, "next_step": "suppressed" if reason.ends_nurture
                   else "nurture: education"}
        if reason is RejectReason.TIMING:
            values["recycle_until"] = (at + timedelta(days=90)).date()
    else:
        values |= {"recycle_until": (at + timedelta(days=60)).date(),
                   "next_step": "nurture resumes later"}
    phase = {"accepted": "sql", "rejected": "suppressed"}.get(status, "recycled")
    return [Step("close", at, values), Step("position", at, {"phase": phase})]


def _add_colleagues(leads: list[Lead]) -> None:
    """Fill each handoff's related contacts the way the task-opening activity does."""
    by_domain: dict[str, list[LeadProfile]] = {}
    for lead in leads:
        by_domain.setdefault(lead.profile.company_domain or "", []).append(lead.profile)
    for lead in leads:
        others = [p for p in by_domain[lead.profile.company_domain or ""]
                  if p.id != lead.profile.id][:10]
        lead.task["handoff"]["related_contacts"] = [
            p.full_name + (f" ({p.title})" if p.title else "") for p in others]


# --- writing ---------------------------------------------------------------------------------

def through_store(store: Store, lead: Lead) -> None:
    """Write the lead as the engine does, one store call at a time."""
    store.upsert_lead(lead.profile, now=lead.created)
    for event_id, kind, at, properties in lead.events:
        store.record_event(lead.profile.id, _event(event_id, kind, at, properties),
                           now=at + timedelta(seconds=1))
    assert store.create_sales_task(**lead.task)
    task_id = lead.task["id"]
    for step in lead.steps:
        v = step.values
        if step.kind == "position":
            store.set_lead_position(lead.profile.id, phase=v["phase"], track=None, now=step.at)
        elif step.kind == "breach":
            assert store.breach_task(task_id, at=step.at, detail=v["detail"])
        elif step.kind == "reroute":
            assert store.reassign_task(task_id, owner=v["owner"], owner_name=v["owner_name"],
                                       rule=v["rule"], due_at=v["due_at"], at=step.at)
        else:
            assert store.close_task(task_id, at=step.at, **v)


def in_bulk(store: Store, leads: list[Lead], chunk: int = 2_000) -> None:
    """Insert the leads, events and tasks as the builder says the store would leave them."""
    with store.engine.begin() as connection:
        for start in range(0, len(leads), chunk):
            part = leads[start:start + chunk]
            connection.execute(insert(LeadRow), [lead_row(lead) for lead in part])
            connection.execute(insert(EventRow), [row for lead in part
                                                  for row in event_rows(lead)])
            connection.execute(insert(SalesTaskRow), [task_row(lead) for lead in part])


def _event(event_id: str, kind: str, at: datetime, properties: dict[str, Any]) -> Event:
    return Event(id=event_id, type=kind, at=at, properties=properties)


# --- the builder: the rows the store's methods leave ------------------------------------------

def lead_row(lead: Lead) -> dict[str, Any]:
    """The `leads` row after upsert_lead and every set_lead_position."""
    moves = [s for s in lead.steps if s.kind == "position"]
    return {**lead.profile.model_dump(), "phase": moves[-1].values["phase"], "track": None,
            "created_at": lead.created, "updated_at": moves[-1].at}


def event_rows(lead: Lead) -> list[dict[str, Any]]:
    """The `events` rows record_event writes."""
    return [{"id": event_id, "lead_id": lead.profile.id, "type": kind, "at": at,
             "properties": to_jsonable_python(properties),
             "received_at": at + timedelta(seconds=1)}
            for event_id, kind, at, properties in lead.events]


def task_row(lead: Lead) -> dict[str, Any]:
    """The `sales_tasks` row after create_sales_task and each later step."""
    t = lead.task
    row: dict[str, Any] = {
        "id": t["id"], "lead_id": t["lead_id"], "kind": t["kind"], "tier": t["tier"],
        "reason": t["reason"], "opener": t["opener"], "handoff": to_jsonable_python(t["handoff"]),
        "status": "open", "created_at": t["now"], "due_at": t["due_at"], "owner": t["owner"],
        "owner_name": t["owner_name"], "route_rule": t["route_rule"],
        "follow_up_until": t["follow_up_until"], "breached_at": None, "reroutes": 0,
        "timeline": [_entry(t["now"], "opened", "system",
                            f"assigned to {t['owner_name']} ({t['route_rule']})")],
        "outcome_reason": None, "outcome_note": "", "closed_at": None, "closed_by": None,
        "recycle_until": None, "next_step": "", "time_to_sql_seconds": None}
    for step in lead.steps:
        v = step.values
        if step.kind == "breach":
            row["breached_at"] = step.at
            row["timeline"].append(_entry(step.at, "sla_breached", "system", v["detail"]))
        elif step.kind == "reroute":
            detail = f"from {row['owner_name']} to {v['owner_name']} ({v['rule']})"
            row |= {"owner": v["owner"], "owner_name": v["owner_name"], "route_rule": v["rule"],
                    "due_at": v["due_at"], "breached_at": None, "reroutes": row["reroutes"] + 1}
            row["timeline"].append(_entry(step.at, "rerouted", "system", detail))
        elif step.kind == "close":
            until: date | None = v.get("recycle_until")
            detail = " — ".join(p for p in (v.get("reason") or "", v["note"],
                                             f"until {until.isoformat()}" if until else "") if p)
            row |= {"status": v["status"], "closed_at": step.at, "closed_by": v["by"],
                    "outcome_reason": v.get("reason"), "outcome_note": v["note"],
                    "next_step": v.get("next_step", ""), "recycle_until": until,
                    "time_to_sql_seconds": v.get("time_to_sql_seconds")}
            row["timeline"].append(_entry(step.at, v["status"], v["by"], detail))
    return row


def _entry(at: datetime, kind: str, by: str, detail: str) -> dict[str, str]:
    return {"at": str(to_jsonable_python(at.astimezone(UTC))), "kind": kind, "by": by,
            "detail": detail}


# --- the whole seed -----------------------------------------------------------------------------

@dataclass
class Seeded:
    """What the bench needs to know about the data it wrote."""

    leads: list[Lead]
    tokens: dict[str, str]  # user id → bearer token
    through_store: int  # leads written with the store's own methods
    open_tasks: int


def seed(store: Store, count: int, now: datetime, rng: random.Random) -> Seeded:
    """Write `count` leads with their events and tasks, a sample through the store's methods
    and the rest in bulk, then check every row; tokens for every rep and the manager."""
    leads = generate(count, now, rng)
    kinds: dict[tuple[str, ...], list[Lead]] = {}
    for lead in leads:
        kinds.setdefault((*(s.kind for s in lead.steps), lead.status), []).append(lead)
    sample = {id(lead) for group in kinds.values() for lead in group[:6]}
    for lead in leads:
        if id(lead) in sample:
            through_store(store, lead)
    in_bulk(store, [lead for lead in leads if id(lead) not in sample])
    check(store, leads)
    tokens = {rep: store.issue_token(rep, now=now) for rep, _, _ in reps()}
    tokens[MANAGER[0]] = store.issue_token(MANAGER[0], role="manager", now=now)
    return Seeded(leads, tokens, len(sample), sum(lead.status == "open" for lead in leads))


def check(store: Store, leads: list[Lead]) -> None:
    """Every lead, event and task row read back equals what the builder says; raise if not."""
    with Session(store.engine) as session:
        tasks = {row.id: row.model_dump() for row in session.scalars(select(SalesTaskRow))}
        stored = {row.id: row.model_dump() for row in session.scalars(select(LeadRow))}
        events = {row.id: row.model_dump() for row in session.scalars(select(EventRow))}
    wanted_events = {row["id"]: row for lead in leads for row in event_rows(lead)}
    problems = [f"task {lead.task['id']}" for lead in leads
                if tasks.get(lead.task["id"]) != task_row(lead)]
    problems += [f"lead {lead.profile.id}" for lead in leads
                 if stored.get(lead.profile.id) != lead_row(lead)]
    problems += [f"event {key}" for key, row in wanted_events.items() if events.get(key) != row]
    if problems or len(tasks) != len(leads) or len(events) != len(wanted_events):
        raise RuntimeError(f"seeded rows differ from the store's: {problems[:5]} "
                           f"({len(problems)} in all; {len(tasks)} tasks, {len(events)} events)")
