"""The people `nurture demo` plays: B2B personas as data, each with a behavior script.

A `Persona` is a role at a kind of company, the source such leads come from and a script of
what they do over days: browse anonymously, identify (a form), group (their account), view
pages, trigger tracked events. `journeys(count, seed)` casts leads from the personas, the
same ones for the same seed; `Journey.calls(now)` turns one lead's script into Segment calls
placed in the 30 days before `now`. Every address is at a `.example` domain: no real people.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

WINDOW_DAYS = 30
SITE = "https://northwind.example"
COMPETITOR_DOMAIN = "pipelinepro.example"  # listed in workflows/scoring.py COMPETITORS


@dataclass(frozen=True)
class Beat:
    """One step of a behavior script, `day` days after the journey begins."""

    day: float
    call: str  # page, track, identify or group
    name: str = ""  # the page path or the event name
    properties: dict[str, Any] = field(default_factory=dict)
    anonymous: bool = False  # before the visitor says who they are


def visit(day: float, path: str, *, anonymous: bool = False, **properties: Any) -> Beat:
    """A page view (the playbook's page rules type it: /pricing is a pricing visit)."""
    return Beat(day, "page", path, properties, anonymous)


def act(day: float, event: str, *, anonymous: bool = False, **properties: Any) -> Beat:
    """A tracked event such as "Demo Requested"."""
    return Beat(day, "track", event, properties, anonymous)


def identify(day: float) -> Beat:
    """The visitor fills a form: who they are, with their traits."""
    return Beat(day, "identify")


def join(day: float) -> Beat:
    """The lead's account traits (a `group` call)."""
    return Beat(day, "group")


@dataclass(frozen=True)
class Persona:
    """A kind of lead: role, company, source and the behavior script they follow."""

    key: str
    summary: str
    title: str
    industry: str
    sizes: tuple[int, int]
    source: str
    script: tuple[Beat, ...]
    regions: tuple[str, ...] = ("us", "eu")
    weight: int = 2  # how common such leads are, after the first round
    joins: tuple[str, ...] = ()  # personas whose accounts this one may join (buying committee)
    disqualifier: str | None = None  # the negative signal scoring should flag
    # A fixed (name, domain): the competitor; an empty name is a personal mailbox.
    company: tuple[str, str] | None = None


REGIONS: dict[str, tuple[tuple[str, str], ...]] = {
    "us": (("US", "America/New_York"), ("US", "America/Chicago"), ("US", "America/Denver"),
           ("US", "America/Los_Angeles"), ("CA", "America/Toronto")),
    "eu": (("GB", "Europe/London"), ("DE", "Europe/Berlin"), ("NL", "Europe/Amsterdam"),
           ("FR", "Europe/Paris"), ("IE", "Europe/Dublin"), ("ES", "Europe/Madrid")),
    "apac": (("AU", "Australia/Sydney"), ("SG", "Asia/Singapore"), ("JP", "Asia/Tokyo"),
             ("IN", "Asia/Kolkata")),
}

PERSONAS: tuple[Persona, ...] = (
    Persona("vp_marketing_saas", "VP Marketing, 500-person SaaS", "VP Marketing", "saas",
            (350, 700), "webinar", joins=("cro",), script=(
                visit(0, "/blog/pipeline-conversion-benchmarks", anonymous=True),
                visit(0.1, "/webinars/pipeline-conversion", anonymous=True),
                identify(0.2), act(0.2, "Webinar Registered", topic="pipeline conversion"),
                act(2, "Webinar Attended", topic="pipeline conversion", minutes=48,
                    takeaway="most stalled deals stall at the same stage: the second meeting"),
                join(2),
                # The webinar's closing call to action, before any pricing research.
                act(2.1, "Demo Requested", form="webinar-cta"), visit(5, "/pricing"),
                visit(5.1, "/customers/brightwave", title="Brightwave", industry="saas"))),
    Persona("revops_manager", "RevOps manager, 180-person SaaS", "Revenue Operations Manager",
            "saas", (120, 250), "organic", weight=4,
            joins=("vp_marketing_saas", "demand_gen_fintech", "cro"), script=(
                visit(0, "/blog/forecast-accuracy", anonymous=True),
                visit(1, "/blog/crm-hygiene-checklist", anonymous=True), identify(1.1),
                act(1.1, "Content Downloaded", title="The RevOps Forecasting Playbook"),
                visit(6, "/integrations/salesforce"),
                visit(11, "/compare/northwind-vs-spreadsheets"),
                visit(14, "/blog/pipeline-hygiene"))),
    Persona("student", "Graduate student writing a thesis", "MBA Student", "education",
            (8000, 30000), "organic", regions=("us", "eu", "apac"), disqualifier="student",
            script=(
                visit(0, "/blog/attribution-models-explained", anonymous=True), identify(0.1),
                act(0.1, "Content Downloaded", title="The Pipeline Leak Report"),
                visit(3, "/blog/multi-touch-attribution"), visit(4, "/pricing"),
                act(8, "Unsubscribed", reason="only needed the report"))),
    Persona("demand_gen_fintech", "Director of Demand Gen, 1,200-person fintech",
            "Director of Demand Generation", "fintech", (900, 1500), "content_syndication",
            script=(
                identify(0), join(0), visit(3, "/blog/attribution-finance-trusts"),
                act(6, "Case Study Downloaded", title="How Ledgerly cut CAC by 31%",
                    industry="fintech"),
                visit(8, "/roi-calculator"), visit(8.1, "/pricing"),
                visit(12, "/compare/northwind-vs-clari"))),
    Persona("solo_founder", "Solo founder, 3-person startup", "Founder & CEO", "saas", (1, 3),
            "organic", regions=("us", "eu", "apac"), script=(
                visit(0, "/blog/first-sales-hire", anonymous=True),
                visit(0.05, "/pricing", anonymous=True), identify(0.1),
                visit(2, "/pricing"), visit(2.1, "/plans/starter"))),
    Persona("cfo_manufacturer", "CFO, 300-person manufacturer", "Chief Financial Officer",
            "manufacturing", (250, 400), "pricing_page", script=(
                visit(0, "/pricing", anonymous=True),
                visit(0.02, "/roi-calculator", anonymous=True), identify(0.05), join(0.05),
                act(3, "ROI Calculator Used", annual_savings=184000, seats=40),
                act(7, "Case Study Downloaded", industry="manufacturing",
                    title="Precision Parts closes the month in 3 days"))),
    Persona("competitor_analyst", "Competitor's market analyst", "Market Intelligence Analyst",
            "saas", (150, 300), "organic", weight=1, disqualifier="competitor",
            company=("PipelinePro", COMPETITOR_DOMAIN), script=(
                visit(0, "/pricing", anonymous=True),
                visit(0.01, "/compare/northwind-vs-pipelinepro", anonymous=True),
                identify(0.05), visit(1, "/pricing"), visit(1.02, "/plans/enterprise"),
                act(1.1, "Demo Requested", form="book-a-demo"))),
    Persona("it_director_hospital", "IT director, hospital network", "Director of IT",
            "healthcare", (4000, 12000), "webinar", regions=("us",), script=(
                identify(0), act(0, "Webinar Registered", topic="HIPAA-ready reporting"),
                act(3, "Webinar Attended", topic="HIPAA-ready reporting", minutes=35,
                    takeaway="an audit trail is cheapest when every report writes its own"),
                visit(4, "/security"),
                visit(10, "/customers/lakeside-health", title="Lakeside Health",
                      industry="healthcare"),
                act(10.1, "Case Study Downloaded", title="Lakeside Health: one source of truth",
                    industry="healthcare"))),
    Persona("coordinator_retail", "Marketing coordinator, mid-market retailer",
            "Marketing Coordinator", "ecommerce", (600, 1500), "content_syndication", weight=4,
            joins=("head_of_growth_ecommerce",), script=(
                identify(0), join(0), visit(4, "/blog/email-benchmarks-retail"))),
    Persona("agency_consultant", "Consultant, 40-person marketing agency", "Senior Consultant",
            "professional services", (25, 60), "referral", weight=3, script=(
                visit(0, "/blog/reporting-for-clients", anonymous=True),
                visit(0.5, "/partners", anonymous=True), identify(0.6),
                act(0.6, "Content Downloaded", title="Client Reporting Templates"),
                act(5, "Webinar Attended", topic="agency reporting", minutes=22,
                    takeaway="clients renew on the report they read, not the dashboard"),
                visit(9, "/customers/fieldhouse-agency", title="Fieldhouse Agency",
                      industry="professional services"))),
    Persona("job_seeker", "Job seeker browsing careers", "Looking for new opportunities",
            "", (0, 0), "organic", weight=1, disqualifier="job seeker",
            company=("", "mailbox.example"), script=(
                visit(0, "/careers", anonymous=True),
                act(0.01, "Careers Page Viewed", anonymous=True, team="sales"), identify(0.02),
                visit(2, "/blog/what-revops-does"))),
    Persona("cro", "CRO, 2,500-person software company", "Chief Revenue Officer", "software",
            (2000, 3500), "referral", weight=1, script=(
                visit(0, "/customers/northpeak", title="Northpeak", industry="software",
                      anonymous=True),
                visit(0.02, "/pricing", anonymous=True), identify(0.05), join(0.05),
                act(2, "Case Study Downloaded", title="Northpeak forecasts within 3%",
                    industry="software"),
                visit(4, "/security"), act(4.1, "Contact Requested", topic="enterprise plan"))),
    Persona("stale_contact", "Syndicated contact who has left the company",
            "Sales Operations Analyst", "saas", (200, 800), "content_syndication", weight=1,
            script=(identify(0), act(1, "Email Bounced", hard=True,
                                     diagnostic="550 5.1.1 mailbox unavailable"))),
    Persona("head_of_growth_ecommerce", "Head of Growth, 250-person DTC brand",
            "Head of Growth", "ecommerce", (180, 320), "paid_search", script=(
                visit(0, "/blog/cohort-retention", anonymous=True), identify(0.1), join(0.1),
                visit(4, "/roi-calculator"), visit(6, "/pricing"))),
)
BY_KEY = {persona.key: persona for persona in PERSONAS}
# The first round plays every persona once, in an order that shows each outcome even in a
# short demo: the VP's demo request comes before anyone joins their account, and the RevOps
# manager and the retail coordinator join accounts already in play (buying committees).
FIRST_ROUND = ("vp_marketing_saas", "student", "demand_gen_fintech", "revops_manager",
               "cfo_manufacturer", "solo_founder", "competitor_analyst",
               "head_of_growth_ecommerce", "coordinator_retail", "it_director_hospital", "cro",
               "agency_consultant", "job_seeker", "stale_contact")

FIRST_NAMES = ("Ana", "Ben", "Chloe", "Dev", "Elif", "Femi", "Grace", "Hiro", "Ines", "Jon",
               "Kai", "Lena", "Mateo", "Nia", "Omar", "Priya", "Quinn", "Rosa", "Sam", "Tariq",
               "Uma", "Viktor", "Wen", "Yara", "Zoe", "Liam", "Maya", "Noah", "Aisha", "Leo")
LAST_NAMES = ("Ruiz", "Okafor", "Lindqvist", "Patel", "Moreau", "Tanaka", "Kowalski", "Haddad",
              "Brennan", "Nguyen", "Schmidt", "Costa", "Mensah", "Iversen", "Duarte", "Kaur",
              "Novak", "Adeyemi", "Fischer", "Sato", "Larsen", "Romero", "Walsh", "Chen")
STEMS = ("Bright", "North", "Cedar", "Blue", "Silver", "Harbor", "Summit", "Maple", "Iron",
         "Clear", "Swift", "Pine", "Stone", "Lumen", "Atlas", "Nova", "Orbit", "Willow")
ENDINGS = ("line", "field", "wave", "point", "path", "stack", "bridge", "gate", "works",
           "forge", "mark", "leaf", "peak", "light")
KINDS = {"saas": "Software", "software": "Systems", "fintech": "Pay",
         "manufacturing": "Manufacturing", "healthcare": "Health", "ecommerce": "Goods",
         "professional services": "Partners", "education": "University"}


@dataclass(frozen=True)
class Company:
    """An account: one or more leads (a buying committee) work there."""

    name: str
    domain: str
    industry: str
    size: int


@dataclass(frozen=True)
class Journey:
    """One generated lead: who they are and when (days before now) each beat happens."""

    seed: int
    number: int
    persona: Persona
    first_name: str
    last_name: str
    email: str
    company: Company
    country: str
    timezone: str
    days_ago: tuple[float, ...]  # one per beat of the persona's script

    @property
    def lead_id(self) -> str:
        """The lead id; it carries the seed, so another seed makes new leads."""
        return f"demo-{self.seed}-{self.number:03d}"

    @property
    def anonymous_id(self) -> str:
        """The browser id of the lead's visits before they identified."""
        return f"anon-{self.seed}-{self.number:03d}"

    @property
    def name(self) -> str:
        """First and last name."""
        return f"{self.first_name} {self.last_name}"

    @property
    def events(self) -> int:
        """How many behavioral events (pages and tracks) the script sends."""
        return sum(beat.call in ("page", "track") for beat in self.persona.script)

    def traits(self) -> dict[str, Any]:
        """What the lead's `identify` says about them."""
        traits: dict[str, Any] = {"email": self.email, "firstName": self.first_name,
                  "lastName": self.last_name, "title": self.persona.title,
                  "country": self.country, "timezone": self.timezone,
                  "leadSource": self.persona.source}
        if self.company.name:  # a personal mailbox says nothing about an employer
            traits |= {"company": self.company.name, "website": f"https://{self.company.domain}",
                       "employees": self.company.size, "industry": self.company.industry}
        return traits

    def calls(self, now: datetime) -> list[dict[str, Any]]:
        """The script as Segment calls, oldest first, each with a deterministic messageId."""
        return [self._call(index, beat, now - timedelta(days=ago))
                for index, (beat, ago) in enumerate(zip(self.persona.script, self.days_ago,
                                                        strict=True))]

    def _call(self, index: int, beat: Beat, at: datetime) -> dict[str, Any]:
        who: dict[str, Any] = {"anonymousId": self.anonymous_id}
        if not beat.anonymous:
            who["userId"] = self.lead_id
        call: dict[str, Any] = {
            "type": beat.call, **who, "messageId": f"{self.lead_id}-{index:02d}",
            "timestamp": at.astimezone(UTC).isoformat(timespec="milliseconds").replace(
                "+00:00", "Z"),
            "context": {"timezone": self.timezone, "library": {"name": "nurture-demo"}}}
        if beat.call == "identify":
            call["traits"] = self.traits()
        elif beat.call == "group":
            call["groupId"] = self.company.domain.removesuffix(".example")
            call["traits"] = {"name": self.company.name, "domain": self.company.domain,
                              "industry": self.company.industry,
                              "employees": self.company.size}
        elif beat.call == "page":
            title = beat.name.rstrip("/").rsplit("/", 1)[-1].replace("-", " ").title()
            call["name"] = title
            call["properties"] = {"title": title, "path": beat.name, "url": SITE + beat.name,
                                  **beat.properties}
        else:
            call["event"], call["properties"] = beat.name, dict(beat.properties)
        return call


def journeys(count: int, seed: int) -> list[Journey]:
    """`count` leads for `seed`: the same leads every time, and a longer cast starts with
    the same ones. The first round plays every persona once; later rounds deal from a deck
    with `weight` cards per persona."""
    rng = random.Random(seed)
    cast: list[Journey] = []
    domains: set[str] = set()
    emails: set[str] = set()
    deck: list[Persona] = []
    for number in range(1, count + 1):
        first_round = number <= len(FIRST_ROUND)
        if not first_round and not deck:  # a shuffled deck keeps the mix true to the weights
            deck = [persona for persona in PERSONAS for _ in range(persona.weight)]
            rng.shuffle(deck)
        persona = BY_KEY[FIRST_ROUND[number - 1]] if first_round else deck.pop()
        colleagues = [j for j in cast if j.persona.key in persona.joins]
        # A buying committee: in the first round always, later about every other time.
        joined = colleagues[-1] if colleagues and (first_round or rng.random() < 0.5) else None
        company = joined.company if joined else _company(rng, persona, domains)
        country, zone = (joined.country, joined.timezone) if joined else rng.choice(
            [r for region in persona.regions for r in REGIONS[region]])
        taken = {j.first_name for j in cast if j.company.domain == company.domain}
        for _ in range(10):  # colleagues with one first name would read like a duplicate
            first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
            email = f"{first}.{last}@{company.domain}".lower()
            if first not in taken and email not in emails:
                break
        if email in emails:  # namesakes at one company: tell them apart as mail servers do
            email = email.replace("@", f".{number}@")
        emails.add(email)
        cast.append(Journey(seed, number, persona, first, last, email, company, country, zone,
                            _schedule(rng, persona.script)))
    return cast


def _company(rng: random.Random, persona: Persona, domains: set[str]) -> Company:
    low, high = persona.sizes
    size = rng.randint(low, high)
    size = round(size, -1) if size > 100 else size  # people quote headcount in round numbers
    if persona.company:
        return Company(*persona.company, persona.industry, size)
    for _ in range(50):  # a new company per lead unless it joins a committee
        stem = rng.choice(STEMS) + rng.choice(ENDINGS)
        if f"{stem.lower()}.example" not in domains:
            break
    domains.add(f"{stem.lower()}.example")
    return Company(f"{stem} {KINDS[persona.industry]}", f"{stem.lower()}.example",
                   persona.industry, size)


def _schedule(rng: random.Random, script: tuple[Beat, ...]) -> tuple[float, ...]:
    """Days before now for each beat: the journey fits the window, recent ones likelier."""
    span = max(beat.day for beat in script)
    ends = 0.02 + (WINDOW_DAYS - 1 - span) * rng.random() ** 2
    offsets, last = [], 0.0
    for beat in script:
        # A few minutes to an hour of jitter, never out of the script's order.
        last = max(last, beat.day) + rng.uniform(0.002, 0.04)
        offsets.append(last)
    end = offsets[-1]
    return tuple(round(ends + end - offset, 5) for offset in offsets)
