"""Routing: which rep a sales-ready lead goes to, and who takes over when the SLA breaks.

Ops write the rules as data in the playbook; `route` reads them in a fixed order — the
account's owner first, then the territory for the lead's country, then round-robin among
reps with capacity — and says which rule decided, so the task can show why. Pure: the
caller passes how many open tasks each rep holds and whose turn it is.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from engine.leads import LeadProfile


class Rep(BaseModel):
    """A salesperson who can own leads."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    name: str
    email: str
    timezone: str | None = None  # None: the playbook's business-hours zone
    capacity: int = Field(default=25, ge=0)
    manager: str | None = None
    active: bool = True
    role: Literal["rep", "manager"] = "rep"  # a manager sees every task in the inbox


class RoutingRules(BaseModel):
    """Reps, the accounts they own, and the territories they cover."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    reps: list[Rep]
    account_owners: dict[str, str] = Field(default_factory=dict)  # account id or domain
    territories: dict[str, list[str]] = Field(default_factory=dict)  # country → rep ids

    @model_validator(mode="after")
    def _known_reps(self) -> RoutingRules:
        known = {rep.id for rep in self.reps}
        if not known:
            raise ValueError("routing needs at least one rep")
        named = [*self.account_owners.values(),
                 *(r for ids in self.territories.values() for r in ids),
                 *(rep.manager for rep in self.reps if rep.manager)]
        unknown = sorted(set(named) - known)
        if unknown:
            raise ValueError(f"routing names reps that are not in `reps`: {', '.join(unknown)}"
                             " — add them to reps or fix the id")
        return self

    def rep(self, rep_id: str) -> Rep:
        """The rep with this id."""
        return next(rep for rep in self.reps if rep.id == rep_id)


class Assignment(BaseModel):
    """Who owns the lead now, and the rule that decided."""

    rep_id: str
    rule: str


def route(lead: LeadProfile, rules: RoutingRules, open_tasks: dict[str, int],
          turn: int = 0) -> Assignment:
    """The owner for a new escalation: account owner, territory, then round-robin."""
    # Managers take breached tasks and named accounts, not the round-robin queue (unless
    # there is nobody else).
    active = [rep for rep in rules.reps if rep.active and rep.role != "manager"] or \
        [rep for rep in rules.reps if rep.active]
    free = [rep for rep in active if open_tasks.get(rep.id, 0) < rep.capacity]
    for key in (lead.account_id, (lead.company_domain or "").lower() or None):
        owner = rules.account_owners.get(key or "")
        if owner and rules.rep(owner).active:
            return Assignment(rep_id=owner, rule=f"account owner of {key}")
    country = (lead.country or "").upper()
    local = [rep for rep in free if rep.id in rules.territories.get(country, [])]
    if local:
        return Assignment(rep_id=_least_loaded(local, open_tasks, turn).id,
                          rule=f"territory {country}")
    if free:
        return Assignment(rep_id=free[turn % len(free)].id, rule="round-robin")
    if not active:
        raise ValueError("no active rep to route to; mark a rep active in the routing rules")
    return Assignment(rep_id=_least_loaded(active, open_tasks, turn).id,
                      rule="round-robin (everyone at capacity)")


def reroute(current: str, rules: RoutingRules, open_tasks: dict[str, int]) -> Assignment:
    """Who takes a lead whose SLA broke: the owner's manager, else the least-loaded other
    active rep; the same rep only when nobody else is left."""
    manager = rules.rep(current).manager
    if manager and manager != current and rules.rep(manager).active:
        return Assignment(rep_id=manager, rule=f"manager of {current}")
    others = [rep for rep in rules.reps if rep.active and rep.id != current]
    if others:
        return Assignment(rep_id=_least_loaded(others, open_tasks, 0).id,
                          rule=f"re-routed from {current}")
    return Assignment(rep_id=current, rule="no one else to route to")


def _least_loaded(reps: list[Rep], open_tasks: dict[str, int], turn: int) -> Rep:
    lowest = min(open_tasks.get(rep.id, 0) for rep in reps)
    tied = [rep for rep in reps if open_tasks.get(rep.id, 0) == lowest]
    return tied[turn % len(tied)]
