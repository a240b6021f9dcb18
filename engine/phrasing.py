"""How the engine says things to people: the article before a word or a number, a count
with its noun, a span of time, and the human names of industries and lead sources.

Leads and reps read sentences the engine assembles from data ("an 800-person SaaS
company", "1 action in the last 3 hours"); the rules that make them read right live here,
once, so the handoff package, the emails and the inbox agree. Pure: no clock, no I/O.
"""

from __future__ import annotations

import math
import re
from datetime import timedelta

_INDUSTRIES: dict[str, str] = {
    "saas": "SaaS", "ecommerce": "e-commerce", "e commerce": "e-commerce", "it": "IT",
    "b2b": "B2B", "b2c": "B2C", "hr": "HR", "ai": "AI", "hr tech": "HR tech",
}
"""Industry keys (as the playbook's scoring writes them) that a sentence names otherwise;
a key such as "healthcare" already reads right."""

_SOURCES: dict[str, str] = {
    "organic": "organic search", "seo": "organic search", "referral": "a referral",
    "pricing_page": "the pricing page", "pricing": "the pricing page",
    "webinar": "a webinar", "newsletter": "the newsletter", "paid": "a paid campaign",
    "ppc": "a paid campaign", "paid_search": "paid search", "linkedin": "LinkedIn",
    "event": "an event", "partner": "a partner", "content_syndication": "content syndication",
}
"""Lead sources and how "came in through …" names them."""

# Words spelled with a vowel that start with a consonant sound, and the reverse.
_YOU_SOUND = ("uni", "use", "usu", "uti", "uro", "eu", "ewe", "one", "once", "ubiq")
_SILENT_H = ("hour", "honest", "honor", "honour", "heir")
# Letters whose spoken name starts with a vowel sound, for acronyms read letter by letter.
_VOWEL_LETTERS = frozenset("AEFHILMNORSX")
_NUMBER = re.compile(r"^\d[\d,]*(\.\d+)?")
_FIRST_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9,.]*")


def article(phrase: str) -> str:
    """"a" or "an" for the sound `phrase` starts with: an 800-person, an 11-person, a
    1,100-person, an IT team, a SaaS company, a university, an hour."""
    found = _FIRST_WORD.search(phrase)
    if found is None:
        return "a"
    word = found.group(0)
    number = _NUMBER.match(word)
    if number is not None:
        return _number_article(number.group(0))
    letters = re.match(r"[A-Za-z]+", word)
    head = letters.group(0) if letters else word
    if len(head) == 1 or head.isupper():  # read letter by letter: an IT team, an e-book
        return "an" if head[0].upper() in _VOWEL_LETTERS else "a"
    lower = head.lower()
    if lower.startswith(_SILENT_H):
        return "an"
    if lower.startswith(_YOU_SOUND):
        return "a"
    return "an" if lower[0] in "aeiou" else "a"


def _number_article(written: str) -> str:
    """A number is read from its leading group of thousands: 8,000 is "eight thousand",
    18,500 "eighteen thousand…", 1,800 "one thousand…"."""
    whole = int(written.split(".")[0].replace(",", ""))
    while whole >= 1000:
        whole //= 1000
    eight = whole == 8 or 80 <= whole <= 89 or 800 <= whole <= 899
    return "an" if eight or whole in (11, 18) else "a"


def with_article(phrase: str) -> str:
    """`phrase` after its article: "an 800-person company"."""
    return f"{article(phrase)} {phrase}"


def count(amount: int, noun: str, plural: str | None = None) -> str:
    """1 action, 3 actions; `plural` for nouns that do not just add an s."""
    return f"{amount} {noun if amount == 1 else plural or noun + 's'}"


def ago(delta: timedelta) -> str:
    """How long ago something happened, as a rep says it: within the hour, 5 h ago,
    1 day ago, 12 days ago."""
    if delta < timedelta(hours=1):
        return "within the hour"
    if delta < timedelta(days=1):
        return f"{int(delta.total_seconds() // 3600)} h ago"
    return f"{count(delta.days, 'day')} ago"


def recent_span(delta: timedelta) -> str:
    """The stretch of time a run of actions covers: "in the last hour", "in the last
    5 hours", "over 1 day", "over 12 days" (never "over 0 days")."""
    if delta < timedelta(days=1):
        hours = max(math.ceil(delta.total_seconds() / 3600), 1)
        return "in the last hour" if hours == 1 else f"in the last {hours} hours"
    return f"over {count(delta.days, 'day')}"


def sentence(text: str) -> str:
    """`text` with its first letter upper-cased and the rest left alone ("SaaS" stays)."""
    for index, char in enumerate(text):
        if char.isalpha():
            return text[:index] + char.upper() + text[index + 1:]
    return text


def industry_name(industry: str | None) -> str:
    """The name a sentence uses for an industry key: saas → SaaS, ecommerce → e-commerce.
    A producer's own spelling of the same name stands ("Healthcare"), and an industry we
    have no name for keeps the producer's words, underscores read as spaces."""
    if not industry or not industry.strip():
        return ""
    given = " ".join(industry.replace("_", " ").split())
    name = _INDUSTRIES.get(given.lower())
    if name is None or (given.lower() == name.lower() and not given.islower()):
        return given
    return name


def source_name(source: str | None) -> str:
    """How a lead source reads after "came in through": content_syndication → content
    syndication, referral → a referral."""
    if not source or not source.strip():
        return ""
    cleaned = source.strip()
    return _SOURCES.get(cleaned.lower(), " ".join(cleaned.replace("_", " ").split()))


def source_label(source: str | None) -> str:
    """A lead source as a label on its own ("Source: content syndication"): its name
    without the article "came in through" needs."""
    name = source_name(source)
    for lead in ("a ", "an ", "the "):
        if name.startswith(lead):
            return name[len(lead):]
    return name
