"""The handoff package a sales rep gets with an escalated lead."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict, Field

from engine.events import Event
from engine.leads import LeadProfile
from engine.phrasing import (
    ago,
    count,
    industry_name,
    recent_span,
    sentence,
    source_name,
    with_article,
)
from engine.scoring import Scores

# What an action says about a lead, strongest first. Opens are left out on purpose:
# privacy proxies pre-fetch images, so an open proves little.
MEANINGFUL: dict[str, str] = {
    "demo_requested": "requested a demo",
    "contact_requested": "asked to talk to sales",
    "email_replied": "replied to an email",
    "roi_calculator_used": "used the ROI calculator",
    "pricing_page_viewed": "viewed the pricing page",
    "demo_page_viewed": "looked at the demo page",
    "comparison_viewed": "read the comparison page",
    "case_study_downloaded": "downloaded a case study",
    "case_study_viewed": "read a case study",
    "webinar_attended": "attended a webinar",
    "content_downloaded": "downloaded content",
    "form_submitted": "submitted a form",
    "buying_committee_signal": "has colleagues engaging too",
    "email_clicked": "clicked an email",
    "blog_viewed": "read the blog",
    "webinar_registered": "registered for a webinar",
}

PAINS: dict[str, str] = {
    "roi_calculator_used": "needs to justify the spend with numbers",
    "pricing_page_viewed": "is sizing cost and plans",
    "comparison_viewed": "is comparing vendors",
    "case_study_downloaded": "wants proof it works for companies like theirs",
    "case_study_viewed": "wants proof it works for companies like theirs",
    "webinar_attended": "is researching the problem the webinar covered",
    "demo_requested": "wants to see the product on their own data",
    "contact_requested": "has a question only sales can answer",
}
"""What an action suggests the lead needs, said about them ("Likely pain: …")."""

_PAINS_TO_YOU: dict[str, str] = {
    "roi_calculator_used": "you need to justify the spend with numbers",
    "pricing_page_viewed": "you're sizing cost and plans",
    "comparison_viewed": "you're comparing vendors",
    "case_study_downloaded": "you want proof it works for companies like yours",
    "case_study_viewed": "you want proof it works for companies like yours",
    "webinar_attended": "you're researching the problem the webinar covered",
    "demo_requested": "you want to see the product on your own data",
    "contact_requested": "you have a question only sales can answer",
}
"""The same pains said to the lead, for an opener when we do not know their company."""

UNCLEAR_PAIN = "not yet clear"
"""The likely pain when no action points to one."""

CONTENT: dict[str, str] = {
    "demo_requested": "Demo request",
    "contact_requested": "Contact request",
    "email_replied": "Email reply",
    "roi_calculator_used": "ROI calculator",
    "pricing_page_viewed": "Pricing page",
    "demo_page_viewed": "Demo page",
    "comparison_viewed": "Comparison",
    "case_study_downloaded": "Case study",
    "case_study_viewed": "Case study",
    "webinar_attended": "Webinar",
    "webinar_registered": "Webinar",
    "content_downloaded": "Download",
    "form_submitted": "Form",
    "email_clicked": "Email",
    "blog_viewed": "Blog post",
}
"""What a rep calls the content behind an action ("Case study: How Ledgerly cut CAC").
A colleague's signal is not content: the package lists colleagues apart."""


class HandoffPackage(BaseModel):
    """Everything a rep needs to open the conversation well.

    The workflow builds the lead's part; the task's owner, due time and related contacts
    are added when the task is written (they need routing and the database).
    """

    model_config = ConfigDict(frozen=True)

    tier: int
    source: str
    last_meaningful_action: str
    content_engaged: list[str]
    likely_pain: str
    buying_role: str
    company_fit: str
    engagement_pattern: str
    qualification_reason: str
    suggested_opener: str
    scores: dict[str, float]
    campaign: str = ""
    escalation_reason: str = ""
    recycle_path: str = ""
    related_contacts: list[str] = Field(default_factory=list)
    owner: str = ""
    due_at: datetime | None = None


def buying_role(title: str | None, role: str) -> str:
    """Economic buyer, champion, evaluator or user, from the title."""
    t = (title or "").lower()
    if role in ("executive",) or any(w in t for w in ("chief", "ceo", "cfo", "founder",
                                                      "president", "owner")):
        return "economic buyer"
    if any(w in t for w in ("vp", "vice president", "head of", "director")):
        return "champion (budget influence)"
    if any(w in t for w in ("engineer", "architect", " it", "it ", "developer", "analyst")):
        return "technical evaluator"
    if "manager" in t:
        return "champion (day-to-day owner)"
    return "user or unknown role"


def company_fit(profile: LeadProfile, scores: Scores) -> str:
    """One line on the company: "high fit 800-person SaaS company Acme in US"."""
    parts = [f"{scores.fit_tier} fit"]
    if profile.company_size:
        parts.append(f"{profile.company_size:,}-person")
    if profile.industry:
        parts.append(industry_name(profile.industry))
    name = profile.company or profile.company_domain
    parts.append(f"company {name}" if name else "company")
    if profile.country:
        parts.append(f"in {profile.country}")
    text = " ".join(parts)
    if scores.flags:
        text += f" — flagged: {', '.join(scores.flags)}"
    return text


def engagement_pattern(events: list[Event], now: datetime) -> str:
    """How often and how recently the lead acts, and whether it is speeding up."""
    real = [e for e in events if e.type in MEANINGFUL or e.type == "email_opened"]
    if not real:
        return "no engagement yet"
    week = sum(1 for e in real if now - e.at <= timedelta(days=7))
    month = sum(1 for e in real if now - e.at <= timedelta(days=30))
    span = max(now - min(e.at for e in real), timedelta(0))
    trend = "accelerating" if week * 4 > month and week >= 2 else "steady" if week else "cooling"
    text = f"{count(len(real), 'action')} {recent_span(span)}"
    if week < len(real):  # when every action is this week's, saying so adds nothing
        text += f", {week or 'none'} in the last 7 days"
    return f"{text} — {trend}"


def build_handoff(profile: LeadProfile, events: list[Event], scores: Scores, *, tier: int,
                  reason: str, now: datetime) -> HandoffPackage:
    """Assemble the handoff package; pure, from what the workflow already knows."""
    ranked = sorted(
        (e for e in events if e.type in MEANINGFUL),
        key=lambda e: (list(MEANINGFUL).index(e.type), -e.at.timestamp()),
    )
    newest = max((e for e in events if e.type in MEANINGFUL), key=lambda e: e.at, default=None)
    last = f"{MEANINGFUL[newest.type]} ({ago(now - newest.at)})" if newest else "none yet"
    pain_from = next((e.type for e in ranked if e.type in PAINS), None)
    pain = PAINS[pain_from] if pain_from else UNCLEAR_PAIN
    role = buying_role(profile.title, scores.role)
    opener = _opener(profile, newest, pain_from)
    campaign = profile.campaign or _campaign(events)
    return HandoffPackage(
        tier=tier, source=profile.source or "unknown", last_meaningful_action=last,
        content_engaged=content_engaged(events), likely_pain=pain, buying_role=role,
        company_fit=company_fit(profile, scores),
        engagement_pattern=engagement_pattern(events, now),
        qualification_reason=qualification_sentence(profile, events, now),
        suggested_opener=opener, scores=scores.as_dict(), campaign=campaign,
        escalation_reason=(f"{reason}; {scores.fit_tier} fit, {scores.intent_level} intent "
                           f"(score {scores.total:g})"),
    )


def content_engaged(events: list[Event], limit: int = 8) -> list[str]:
    """The content the lead engaged with, newest first, each named once: "Pricing page",
    "Case study: How Ledgerly cut CAC by 31%"."""
    items: list[str] = []
    seen: set[str] = set()
    for event in sorted(events, key=lambda e: e.at, reverse=True):
        noun = CONTENT.get(event.type)
        if noun is None:
            continue
        label = _content_label(event)
        if not label:
            continue
        item = _labelled(noun, label)
        key = _words(item)
        if key not in seen:  # a webinar registered for and attended is one webinar
            seen.add(key)
            items.append(item)
    return items[:limit]


def _content_label(event: Event) -> str:
    """The title the event gives its content; an email is known by its subject (a
    template's file name means nothing to a rep)."""
    keys = ("subject",) if event.type == "email_clicked" else ("title", "topic")
    for key in keys:
        value = event.properties.get(key)
        if isinstance(value, str) and value.strip():
            return " ".join(value.split())[:200]
    return ""


def _words(text: str) -> str:
    return " ".join(re.findall(r"[a-z0-9]+", text.lower()))


def _labelled(noun: str, label: str) -> str:
    """"Noun: label", or just one of them when one already says the other ("Pricing" on
    the pricing page, "Roi Calculator" for the ROI calculator)."""
    noun_words, label_words = set(_words(noun).split()), set(_words(label).split())
    if label_words <= noun_words:
        return noun
    if noun_words <= label_words:
        return sentence(label)
    return f"{noun}: {label}"


def _campaign(events: list[Event]) -> str:
    """The campaign or webinar the lead came in through, if an event named one."""
    for event in sorted(events, key=lambda e: e.at):
        for key in ("campaign", "utm_campaign", "topic"):
            value = event.properties.get(key)
            if isinstance(value, str) and value.strip():
                return value.strip()[:200]
    return ""


_TIMES = {1: "once", 2: "twice"}
_ACTIONS: dict[str, tuple[str, str]] = {
    # event type: (what they did, the noun counted when it repeats)
    "demo_requested": ("requested a demo", ""),
    "contact_requested": ("asked to talk to sales", ""),
    "email_replied": ("replied to our email", ""),
    "roi_calculator_used": ("used the ROI calculator", ""),
    "pricing_page_viewed": ("viewed the pricing page", "pricing page"),
    "comparison_viewed": ("read the comparison page", ""),
    "case_study_downloaded": ("downloaded a case study", ""),
    "case_study_viewed": ("read a case study", ""),
}


def qualification_sentence(profile: LeadProfile, events: list[Event], now: datetime) -> str:
    """Who the lead is and what they did, in the words a rep would use.

    "VP Marketing at a 500-person SaaS company. Came in through the webinar on pipeline
    conversion, attended 48 minutes, used the ROI calculator, and returned to the pricing
    page twice this week."
    """
    title = (profile.title or "").strip().rstrip(".")
    who = sentence(title) if title else profile.full_name
    described = " ".join(part for part in (
        f"{profile.company_size:,}-person" if profile.company_size else "",
        industry_name(profile.industry), "company") if part)
    company = f" ({profile.company})" if profile.company else ""
    known = profile.company or profile.company_size or industry_name(profile.industry)
    first = f"{who} at {with_article(described)}{company}." if known else f"{who}."
    clauses: list[str] = []
    webinar = next((e for e in sorted(events, key=lambda e: e.at)
                    if e.type == "webinar_attended"), None)
    if webinar is not None:
        topic = webinar.properties.get("topic") or webinar.properties.get("title")
        clauses.append(f"came in through the webinar on {topic}" if topic
                       else "came in through a webinar")
        minutes = webinar.properties.get("minutes") or webinar.properties.get("duration")
        if isinstance(minutes, int | float) and minutes > 0:
            clauses.append(f"attended {minutes:g} minute{'' if minutes == 1 else 's'}")
    elif source_name(profile.source):
        clauses.append(f"came in through {source_name(profile.source)}")
    week = [e for e in events if now - e.at <= timedelta(days=7)]
    for kind, (did, noun) in _ACTIONS.items():
        recent = sum(1 for e in week if e.type == kind)
        if recent >= 2 and noun:
            clauses.append(f"returned to the {noun} {_TIMES.get(recent, f'{recent} times')} "
                           "this week")
        elif any(e.type == kind for e in events):
            clauses.append(did)
        if len(clauses) >= 5:
            break
    if not clauses:
        return first
    text = clauses[0][0].upper() + clauses[0][1:]
    if len(clauses) == 2:
        text = f"{text} and {clauses[1]}"
    elif len(clauses) > 2:
        text = ", ".join([text, *clauses[1:-1]]) + f", and {clauses[-1]}"
    return f"{first} {text}."


def _opener(profile: LeadProfile, newest: Event | None, pain_from: str | None) -> str:
    """The first line a rep could say, from the newest action and the pain it points to."""
    name = (profile.first_name or "").strip() or "there"
    company = profile.company or "your team"
    if newest is None:
        return f"Hi {name}, what prompted {company} to look at this now?"
    if newest.type in ("demo_requested", "contact_requested"):
        return (f"Hi {name}, thanks for reaching out — before we meet, what would make the "
                f"call worth it for {company}?")
    if newest.type in ("pricing_page_viewed", "roi_calculator_used"):
        return (f"Hi {name}, you were weighing cost — happy to size a plan for {company} in "
                "15 minutes, with numbers from teams your size.")
    if newest.type == "webinar_attended":
        topic = newest.properties.get("topic")
        webinar = f"the webinar on {topic}" if topic else "the webinar"
        return f"Hi {name}, after {webinar}, which part is most urgent for {company}?"
    if pain_from is None:  # nothing points to a need yet: ask rather than guess
        return f"Hi {name}, what prompted {company} to look at this now?"
    looks = (f"{profile.company} {PAINS[pain_from]}" if profile.company
             else _PAINS_TO_YOU[pain_from])
    return f"Hi {name}, it looks like {looks}; is that on your plate this quarter?"
