"""Routing: account owner first, then territory, then round-robin among reps with room."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from engine.leads import LeadProfile
from engine.routing import Rep, RoutingRules, reroute, route

RULES = RoutingRules(
    reps=[Rep(id="ava", name="Ava", email="ava@n.example", capacity=2, manager="max"),
          Rep(id="ben", name="Ben", email="ben@n.example", capacity=2, manager="max"),
          Rep(id="kim", name="Kim", email="kim@n.example", capacity=2, manager="max"),
          Rep(id="max", name="Max", email="max@n.example", capacity=50)],
    account_owners={"acct-acme": "kim", "globex.io": "ben"},
    territories={"DE": ["ava"], "US": ["ben", "kim"]},
)


def lead(**fields: object) -> LeadProfile:
    return LeadProfile.model_validate({"id": "l-1", "email": "ana@initech.io", **fields})


def test_the_account_owner_gets_the_lead_even_at_capacity() -> None:
    chosen = route(lead(account_id="acct-acme", country="DE"), RULES, {"kim": 9})

    assert (chosen.rep_id, chosen.rule) == ("kim", "account owner of acct-acme")


def test_the_company_domain_finds_the_owner_without_an_account_id() -> None:
    assert route(lead(company_domain="Globex.io"), RULES, {}).rep_id == "ben"


def test_the_territory_rep_with_the_fewest_open_tasks_gets_the_lead() -> None:
    chosen = route(lead(country="us"), RULES, {"ben": 1, "kim": 0})

    assert (chosen.rep_id, chosen.rule) == ("kim", "territory US")


def test_a_full_territory_falls_back_to_round_robin_among_reps_with_room() -> None:
    open_tasks = {"ava": 2, "ben": 0, "kim": 0}
    chosen = [route(lead(country="DE"), RULES, open_tasks, turn=n) for n in range(3)]

    assert [c.rep_id for c in chosen] == ["ben", "kim", "max"]
    assert {c.rule for c in chosen} == {"round-robin"}


def test_when_everyone_is_full_the_least_loaded_rep_gets_it_and_it_says_so() -> None:
    chosen = route(lead(), RULES, {"ava": 2, "ben": 3, "kim": 2, "max": 50})

    assert (chosen.rep_id, chosen.rule) == ("ava", "round-robin (everyone at capacity)")


def test_a_breached_lead_goes_to_the_owners_manager() -> None:
    assert reroute("ava", RULES, {}).model_dump() == {"rep_id": "max",
                                                      "rule": "manager of ava"}


def test_without_a_manager_the_least_loaded_other_rep_takes_over() -> None:
    chosen = reroute("max", RULES, {"ava": 2, "ben": 1, "kim": 1})

    assert (chosen.rep_id, chosen.rule) == ("ben", "re-routed from max")


def test_rules_naming_an_unknown_rep_are_refused() -> None:
    with pytest.raises(ValidationError, match="not in `reps`: zed"):
        RoutingRules(reps=[Rep(id="ava", name="Ava", email="a@n.example")],
                     territories={"US": ["zed"]})


def test_managers_stay_out_of_the_round_robin_unless_nobody_else_is_active() -> None:
    managed = RULES.model_copy(update={"reps": [
        *RULES.reps[:3], Rep(id="max", name="Max", email="max@n.example", role="manager")]})
    turns = {route(lead(country="BR"), managed, {}, turn).rep_id for turn in range(8)}
    alone = RoutingRules(reps=[Rep(id="max", name="Max", email="max@n.example",
                                   role="manager")])

    assert turns == {"ava", "ben", "kim"}
    assert route(lead(country="BR"), alone, {}).rep_id == "max"
