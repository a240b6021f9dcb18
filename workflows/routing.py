"""Who gets a sales-ready lead: reps, the accounts they own, and their territories.

Routing reads these in order: the account's owner, then the territory for the lead's
country, then round-robin among reps below their capacity. When a task breaches its SLA
twice it moves to the owner's manager.
"""

from engine.dsl import Rep, RoutingRules

REPS = [
    Rep(id="priya", name="Priya Raman", email="priya@northwind.example",
        timezone="America/New_York", capacity=10, role="manager"),
    Rep(id="jordan", name="Jordan Lee", email="jordan@northwind.example",
        timezone="America/New_York", capacity=30, manager="priya"),
    Rep(id="sam", name="Sam Ortiz", email="sam@northwind.example",
        timezone="America/Chicago", capacity=30, manager="priya"),
    Rep(id="lena", name="Lena Fischer", email="lena@northwind.example",
        timezone="Europe/Berlin", capacity=25, manager="priya"),
]

ROUTING = RoutingRules(
    reps=REPS,
    # Named accounts (Segment group id or company domain) keep their owner.
    account_owners={"globex.com": "sam", "initech.com": "jordan"},
    # Country (ISO code, as leads report it) → the reps who cover it.
    territories={
        "US": ["jordan", "sam"], "CA": ["jordan", "sam"],
        "DE": ["lena"], "AT": ["lena"], "CH": ["lena"], "GB": ["lena"], "FR": ["lena"],
        "NL": ["lena"],
    },
)
