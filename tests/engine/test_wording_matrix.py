"""Every sentence the engine writes for a lead or a rep, over a matrix of leads, held to
rules that catch whole classes of copy bugs rather than one sentence at a time.

The matrix: company sizes (none, 1, 8, 11, 18, 80, 800, 8,000), each industry the shipped
playbook scores plus one it does not know and none, leads missing a first name, a company
or a title, and no activity, one action, actions over a few hours, about a day and many
weeks. For each, the engine writes the handoff package, the sales notices and the inbox's
task page; the inbox list shows escalations and every alert the playbook sends; the task's
timeline records a breach, a re-tier, a re-route and the no-response recycle; and every
shipped email template is rendered for every size and industry, and for each missing
field.

A rule's checker is written here, apart from the engine's own phrasing code, so a bug in
that code cannot make its test agree with it.
"""

from __future__ import annotations

import html
import itertools
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any, Literal

import pytest

from engine.api.inbox.views import list_rows, task_view
from engine.client import LeadTimeline, TaskDetail, Viewer
from engine.client.wording import TimelineEntry, summary
from engine.events import Event
from engine.handoff import HandoffPackage
from engine.journey import sales
from engine.journey.reactions import rescore
from engine.journey.state import LeadState, OpenEscalation, TaskOwner
from engine.leads import LeadProfile
from engine.mail import MemoryTransport, SenderIdentity, TemplateRenderer
from engine.mail.context import SAMPLE_CTX, EmailContext
from engine.runtime.models import TaskNoticeInput
from engine.runtime.notices import NoticeActivities
from engine.store import SalesTaskRow, SalesTaskView, Store
from workflows import PLAYBOOK

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"
NOW = datetime(2026, 3, 3, 15, 0, tzinfo=UTC)  # a Tuesday, 10:00 in New York

SIZES = [None, 1, 8, 11, 18, 80, 800, 8000]
DISPLAY = {
    "saas": "SaaS", "software": "software", "fintech": "fintech", "ecommerce": "e-commerce",
    "professional services": "professional services", "manufacturing": "manufacturing",
    "healthcare": "healthcare", "education": "education", "government": "government",
    "real_estate": "real estate",
}
"""How a sentence must name each industry key: the playbook's, and one it does not know."""
UNKNOWN_INDUSTRY = "real_estate"
MISSING = ["nothing", "first_name", "company", "title"]

Kind = Literal["sentence", "field", "prose", "html"]


@dataclass(frozen=True)
class Written:
    """One piece of text the engine wrote, where it came from, and what kind it is:
    a `sentence` (starts a thought), a `field` (a value beside a label), `prose` (a plain
    text body) or `html` (a page or an HTML body)."""

    where: str
    text: str
    kind: Kind


def _playbook_industries() -> set[str]:
    fit = set(PLAYBOOK.scoring.fit.industries)
    negative = {name for rule in PLAYBOOK.scoring.negative for name in rule.industries}
    return fit | negative


def test_the_matrix_covers_every_industry_the_playbook_scores() -> None:
    missing = _playbook_industries() - set(DISPLAY)
    assert not missing, f"say how sentences name these industries in DISPLAY: {missing}"


# --- the leads --------------------------------------------------------------------------


def _profile(size: int | None, industry: str | None, missing: str) -> LeadProfile:
    values: dict[str, Any] = {
        "id": f"lead-{size or 'nosize'}-{industry or 'noindustry'}-{missing}".replace(" ", "-"),
        "email": "ingrid.berg@fjord.example", "first_name": "Ingrid", "last_name": "Berg",
        "title": "Head of Operations", "company": "Fjord Logistics",
        "company_domain": "fjord.example", "company_size": size, "industry": industry,
        "country": "US", "timezone": "America/New_York", "source": "content_syndication"}
    if missing == "company":
        values |= {"company": None, "company_domain": None}
    elif missing != "nothing":
        values[missing] = None
    return LeadProfile(**values)


def _event(name: str, hours_ago: float, **properties: Any) -> Event:
    return Event(id=f"{name}-{hours_ago}", type=name, at=NOW - timedelta(hours=hours_ago),
                 properties=properties)


SUBJECT = "Put your own numbers into the Northwind ROI model"
ACTIVITY: dict[str, list[Event]] = {
    "none": [],
    # One click on an email twenty minutes ago: no action that points to a pain.
    "one action": [_event("email_clicked", 0.3, template="accel_roi_calculator",
                          subject=SUBJECT)],
    "a few hours": [_event("pricing_page_viewed", 5, title="Pricing"),
                    _event("roi_calculator_used", 3, title="Roi Calculator"),
                    _event("blog_viewed", 1, title="Forecast accuracy")],
    "about a day": [_event("case_study_viewed", 30, title="How Ledgerly cut CAC by 31%"),
                    _event("comparison_viewed", 2, title="Northwind vs spreadsheets")],
    "many weeks": [
        _event("webinar_registered", 45 * 24, topic="pipeline conversion"),
        _event("webinar_attended", 44 * 24, topic="pipeline conversion", minutes=48),
        _event("content_downloaded", 20 * 24, title="The RevOps Forecasting Playbook"),
        _event("case_study_downloaded", 10 * 24, title="How Ledgerly cut CAC by 31%"),
        _event("pricing_page_viewed", 2 * 24, title="Pricing"),
        _event("pricing_page_viewed", 1 * 24, title="Pricing"),
        _event("roi_calculator_used", 12, title="Roi Calculator")],
}


def _industries() -> list[str | None]:
    return [*sorted(_playbook_industries()), UNKNOWN_INDUSTRY, None]


def _leads() -> Iterator[LeadProfile]:
    """Every size with every industry and every missing field."""
    for size, industry, missing in itertools.product(SIZES, _industries(), MISSING):
        yield _profile(size, industry, missing)


def _email_leads() -> Iterator[LeadProfile]:
    """Fewer leads for the emails, which read fewer fields: every size with every industry,
    and each missing field at every size with a known, an unknown and no industry."""
    for size, industry in itertools.product(SIZES, _industries()):
        yield _profile(size, industry, "nothing")
    for size, industry, missing in itertools.product(SIZES, ["saas", UNKNOWN_INDUSTRY, None],
                                                     MISSING[1:]):
        yield _profile(size, industry, missing)


def _state(profile: LeadProfile, events: list[Event]) -> LeadState:
    state = LeadState(lead=profile, playbook=PLAYBOOK, enrolled_at=NOW - timedelta(days=60),
                      phase="sales", events=events)
    state.scores = rescore(state, NOW)
    return state


OWNER = TaskOwner(rep_id="jordan", name="Jordan Lee", email="jordan@northwind.example",
                  timezone="America/New_York", rule="territory US")


# --- what the engine writes -------------------------------------------------------------


def _handoff_texts(where: str, package: HandoffPackage) -> list[Written]:
    texts = [Written(f"{where} qualification", package.qualification_reason, "sentence"),
             Written(f"{where} opener", package.suggested_opener, "sentence")]
    for name in ("last_meaningful_action", "likely_pain", "buying_role", "company_fit",
                 "engagement_pattern", "escalation_reason", "recycle_path"):
        texts.append(Written(f"{where} {name}", getattr(package, name), "field"))
    texts += [Written(f"{where} content", item, "field") for item in package.content_engaged]
    return texts


@cache
def handoffs() -> tuple[tuple[LeadProfile, str, HandoffPackage], ...]:
    """Every lead of the matrix with every kind of activity, as escalated to sales."""
    found = []
    for profile in _leads():
        for span, events in ACTIVITY.items():
            package = sales.handoff(_state(profile, events), 2, "sales-ready by score", NOW)
            found.append((profile, span, package.model_copy(update={
                "owner": OWNER.name, "due_at": NOW + timedelta(hours=2)})))
    return tuple(found)


def _notices() -> NoticeActivities:
    renderer = TemplateRenderer(TEMPLATES)
    return NoticeActivities(store=None, renderer=renderer,  # type: ignore[arg-type]
                            transport=MemoryTransport(), sender=SenderIdentity(),
                            base_url="https://nurture.example", webhook_url=None,
                            webhook_secret="")


@cache
def rep_texts() -> tuple[Written, ...]:
    """Everything a rep reads: the package, each notice, the inbox's task page."""
    notices = _notices()
    env = notices.renderer.environment
    texts: list[Written] = []
    for number, (profile, span, package) in enumerate(handoffs()):
        where = f"{profile.id} ({span})"
        texts += _handoff_texts(where, package)
        kinds = ("assigned", "breached", "rerouted") if number % 7 == 0 else ("assigned",)
        for kind in kinds:
            notice = notices.render_notice(TaskNoticeInput(
                task_id=f"{profile.id}:escalation:3", lead=profile, kind=kind,  # type: ignore[arg-type]
                owner=OWNER, tier=package.tier, due_at=package.due_at or NOW, handoff=package,
                notice=1, now=NOW))
            texts += [Written(f"{where} {kind} notice subject", notice.subject, "sentence"),
                      Written(f"{where} {kind} notice text", notice.text, "prose"),
                      Written(f"{where} {kind} notice html", notice.html, "html")]
        if number % 3 == 0:
            texts.append(Written(f"{where} inbox task page",
                                 _task_page(env, profile, package), "html"))
    return tuple(texts)


def _task_row(profile: LeadProfile, package: HandoffPackage, **changes: Any) -> SalesTaskRow:
    values: dict[str, Any] = {
        "id": f"{profile.id}:escalation:3", "lead_id": profile.id, "kind": "escalation",
        "tier": package.tier, "reason": package.qualification_reason,
        "opener": package.suggested_opener, "handoff": package.model_dump(mode="json"),
        "created_at": NOW, "due_at": package.due_at, "owner": OWNER.rep_id,
        "owner_name": OWNER.name, "route_rule": OWNER.rule}
    return SalesTaskRow(**(values | changes))


def _task_page(env: Any, profile: LeadProfile, package: HandoffPackage) -> str:
    entries = [TimelineEntry(at=NOW, kind="escalation", detail=summary(
        {"tier": package.tier, "reason": package.qualification_reason,
         "opener": package.suggested_opener}))]
    detail = TaskDetail(task=_task_row(profile, package), lead=profile, task_timeline=[],
                        lead_timeline=LeadTimeline(source="workflow", entries=entries),
                        related=package.related_contacts)
    return str(env.get_template("web/inbox/task.html").render(
        company="Northwind Analytics", viewer=Viewer("jordan"), csrf="x", flash=None, error=None,
        error_field=None, form={}, **task_view(PLAYBOOK, detail, "America/New_York")))


def _alert_reasons() -> list[str]:
    """What the shipped playbook tells sales when it sends an alert (`notify_sales`)."""
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("kind") == "notify_sales" and isinstance(node.get("reason"), str):
                found.append(node["reason"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(PLAYBOOK.model_dump(mode="json"))
    assert found, "the shipped playbook sends no alert: find its reasons another way"
    return sorted(set(found))


@cache
def inbox_list_texts() -> tuple[Written, ...]:
    """The "Why now" column of the inbox's list, for escalations and every alert."""
    env = _notices().renderer.environment
    profile, _, package = handoffs()[-1]
    rows = [_task_row(profile, package)] + [
        _task_row(profile, package, id=f"{profile.id}:alert:{n}", kind="alert", reason=reason,
                  opener="", due_at=None)
        for n, reason in enumerate(_alert_reasons())]
    views = [SalesTaskView(**row.model_dump(), lead_name="Ingrid Berg", lead_email=profile.email,
                           lead_title=profile.title, lead_company=profile.company)
             for row in rows]
    page = env.get_template("web/inbox/list.html").render(
        company="Northwind Analytics", viewer=Viewer("jordan"), csrf="x", rows=list_rows(
            views, "America/New_York", NOW), total=len(views), status="open", tier="",
        owner="", error=None, flash=None, tabs=[], reps=[], previous=None, next=None, shown=(1, 1))
    return tuple(Written(f"inbox list row {n}", html.unescape(cell.strip()), "sentence")
                 for n, cell in enumerate(re.findall(r'<td class="reason">(.*?)</td>', page,
                                                     re.S)))


@cache
def task_timeline_texts() -> tuple[Written, ...]:
    """The task's own timeline as the store writes it: opened, breached, re-tiered,
    re-routed and closed, with the details the workflow gives each."""
    profile, _, package = handoffs()[0]
    state = _state(profile, ACTIVITY["many weeks"])
    state.escalation = OpenEscalation(
        task_id="t-1", tier=3, reason=package.qualification_reason,
        opener=package.suggested_opener, at=NOW, due_at=NOW + timedelta(days=3),
        owner=OWNER, follow_up_until=NOW + timedelta(days=14))
    with Store.temporary() as store:
        store.create_sales_task(id="t-1", lead_id=profile.id, kind="escalation", tier=3,
                                reason=package.qualification_reason,
                                opener=package.suggested_opener, handoff={}, now=NOW,
                                due_at=NOW + timedelta(days=3), owner=OWNER.rep_id,
                                owner_name=OWNER.name, route_rule=OWNER.rule)
        later = NOW + timedelta(days=3, minutes=5)
        store.breach_task("t-1", at=later, detail=sales.breach(state, later))
        store.retier_task("t-1", tier=1, due_at=later + timedelta(minutes=30), at=later,
                          detail="now tier 1: requested a demo")
        store.reassign_task("t-1", owner="priya", owner_name="Priya Shah",
                            rule="manager of jordan", due_at=later + timedelta(hours=1),
                            at=later + timedelta(minutes=40))
        answer = sales.no_response(state)
        store.close_task("t-1", status="rejected", at=later + timedelta(days=10),
                         by="system", reason=answer.reason.value if answer.reason else None,
                         note=answer.note)
        row = store.sales_task("t-1")
        assert row is not None
        return tuple(Written(f"task timeline {entry['kind']}", entry["detail"], "field")
                     for entry in row.timeline if entry["detail"])


@cache
def email_texts() -> tuple[Written, ...]:
    """Subject, greeting line and bodies of every shipped email template for the email
    leads (the event that sent it names the lead's industry and a webinar)."""
    renderer, sender = TemplateRenderer(TEMPLATES), SenderIdentity()
    texts: list[Written] = []
    for profile in _email_leads():
        event = {"type": "case_study_viewed",
                 "properties": {"industry": profile.industry, "topic": "pipeline conversion",
                                "takeaway": "most stalled deals stall at the second meeting"}}
        context = EmailContext.for_lead(profile, sender=sender, ctx=SAMPLE_CTX, event=event,
                                        unsubscribe_url="https://northwind.example/u/t")
        for name in renderer.names():
            email = renderer.render(name, context)
            where = f"{profile.id} {name}"
            texts += [Written(f"{where} subject", email.subject, "sentence"),
                      Written(f"{where} opening line", email.text.splitlines()[0], "sentence"),
                      Written(f"{where} text", email.text, "prose"),
                      Written(f"{where} html", email.html, "html")]
    return tuple(texts)


@cache
def everything() -> tuple[Written, ...]:
    """Each distinct text once (most leads share most emails word for word)."""
    unique: dict[tuple[str, Kind], Written] = {}
    for written in (*rep_texts(), *inbox_list_texts(), *task_timeline_texts(),
                    *email_texts()):
        unique.setdefault((written.text, written.kind), written)
    return tuple(unique.values())


# --- the rules ----------------------------------------------------------------------------

_BLOCK = re.compile(r"<(?:/?(?:p|br|tr|td|th|h1|h2|h3|li|ul|dl|dt|dd|div|table|hr|section|"
                    r"blockquote|title|option|header|main|nav|form|label)\b)[^>]*>", re.I)
_URL = re.compile(r"(?:https?://|mailto:)\S+|\S+@\S+\.\w+|\b\w+(?:\.\w+)+/\S*")


@cache
def _plain(written: Written) -> str:
    """The words a person reads: no markup, no addresses; runs of spaces kept only where
    they show (plain text)."""
    text = written.text
    if written.kind == "html":
        text = re.sub(r"<(style|script)\b.*?</\1>", " ", text, flags=re.S | re.I)
        text = _BLOCK.sub("\n", text)
        text = html.unescape(re.sub(r"<[^>]+>", "", text))
        text = "\n".join(" ".join(line.split()) for line in text.splitlines())
    else:
        # A label padded to line its value up ("Source:      webinar") is layout, not a gap.
        text = re.sub(r"(?m)^([A-Z][\w /]*:) {2,}", r"\1 ", text)
    return _URL.sub("URL", text)


@cache
def _lines(written: Written) -> tuple[str, ...]:
    return tuple(line.strip() for line in _plain(written).splitlines() if line.strip())


_PARAGRAPH = re.compile(r"<(p|h1|h2|blockquote|title)\b[^>]*>(.*?)</\1>", re.S | re.I)


@cache
def _sentences(written: Written) -> tuple[str, ...]:
    """The lines that hold sentences: in a page or an HTML body, its paragraphs and
    headings (a table cell or a badge holds a value, not a sentence)."""
    if written.kind != "html":
        return _lines(written)
    found = []
    for _, inner in _PARAGRAPH.findall(written.text):
        text = html.unescape(re.sub(r"<[^>]+>", "", _BLOCK.sub(" ", inner)))
        found.append(_URL.sub("URL", " ".join(text.split())))
    return tuple(line for line in found if line)


Rule = Callable[[Written], list[str]]


def no_raw_industry_keys(written: Written) -> list[str]:
    """An industry reads as people name it (SaaS, e-commerce), never as the key (saas)."""
    text, found = _plain(written), []
    for key, name in DISPLAY.items():
        if key == name:
            continue
        for match in re.finditer(rf"(?<![\w-]){re.escape(key)}(?![\w-])", text, re.I):
            if match.group(0) not in (name, name[:1].upper() + name[1:]):
                found.append(match.group(0))
    return found


_ONES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
         "ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen",
         "seventeen", "eighteen", "nineteen"]
_TENS = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty",
         "ninety"]


def _spoken(number: str) -> str:
    """The first word of a number said aloud (8,000 → eight; 18,500 → eighteen)."""
    head = int(number.split(".")[0].replace(",", ""))
    while head >= 1000:
        head //= 1000
    if head >= 100:
        return _ONES[head // 100]
    return _TENS[head // 10] if head >= 20 else _ONES[head]


def _sounds_like_vowel(word: str) -> bool:
    number = re.match(r"\d[\d,]*(?:\.\d+)?", word)
    if number is not None:
        spoken = _spoken(number.group(0))
        return spoken[0] in "aeiou" and not spoken.startswith("one")  # "one" says "won"
    letters = re.match(r"[A-Za-z]+", word)
    if letters is None:
        return False
    head = letters.group(0)
    if len(head) == 1 or head.isupper():  # said letter by letter: an IT team, a B2B firm
        return head[0].upper() in "AEFHILMNORSX"
    lower = head.lower()
    if lower.startswith(("hour", "honest", "honour", "honor", "heir")):
        return True
    if lower.startswith(("uni", "use", "usu", "eu", "one", "once")):
        return False
    return lower[0] in "aeiou"


def a_or_an(written: Written) -> list[str]:
    """"an" before a vowel sound, "a" before a consonant: an 800-person, a 1,100-person,
    an 11-person, an e-commerce company, a SaaS company."""
    found = []
    for match in re.finditer(r"(?<![\w-])(a|an|A|An)\s+([A-Za-z0-9][\w,.'-]*)",
                             _plain(written)):
        wants = "an" if _sounds_like_vowel(match.group(2)) else "a"
        if match.group(1).lower() != wants:
            found.append(match.group(0))
    return found


def no_zero_counts(written: Written) -> list[str]:
    """No "0 days", "over 0 days" or "0 in the last 7 days": say it in words."""
    return re.findall(r"(?<![\w$.,:/-])0 [a-z]+(?: [a-z]+)?", _plain(written))


_NOUNS = ("day", "action", "hour", "minute", "week", "month", "time", "contact",
          "business day", "person", "email")


def singular_and_plural_agree(written: Written) -> list[str]:
    """1 action, 3 actions; never 1 days or 2 action."""
    text, found = _plain(written), []
    nouns = "|".join(_NOUNS)
    found += re.findall(rf"(?<![\d,.])1 (?:{nouns})s\b", text)
    for match in re.finditer(rf"(?<![\d,.])(\d[\d,]*) ({nouns})\b(?![\w-])", text):
        if match.group(1) != "1":
            found.append(match.group(0))
    return found


_LABEL = re.compile(r"^[A-Z][\w /]*:\s+")
_WORD = re.compile(r"[A-Za-z]+")


def _said_twice(line: str) -> list[str]:
    """A word or a phrase of up to three, then the same again with only punctuation
    between, or with one word and a colon between ("roi calculator used: Roi Calculator")."""
    spans = [(m.group(0).lower(), m.start(), m.end()) for m in _WORD.finditer(line)]
    words = [word for word, _, _ in spans]
    found = []
    for i, word in enumerate(words):
        for step in range(1, 5):  # where the repeat would start: 1 to 3 words, maybe a gap
            if i + step >= len(words) or words[i + step] != word:
                continue
            for size, gap in ((step, 0), (step - 1, 1)):
                if size < 1 or size > 3 or words[i:i + size] != words[i + step:i + step + size]:
                    continue
                between = line[spans[i + size - 1][2]:spans[i + step][1]]
                if re.fullmatch(r"[ :;,—-]+" if not gap else r" [A-Za-z]+: ", between):
                    found.append(line[spans[i][1]:spans[i + step + size - 1][2]])
    return found


def no_doubled_words(written: Written) -> list[str]:
    """No word or phrase said twice over: "the the", "company company", "roi calculator
    used: Roi Calculator"."""
    return [repeat for line in _lines(written)
            for repeat in _said_twice(_LABEL.sub("", line))]  # not "Company fit: high fit"


def no_empty_placeholders(written: Written) -> list[str]:
    """Nothing missing shows through: no None, null or undefined, no empty or "(unknown)"
    parentheses, no space before a comma or full stop, no double space in plain text."""
    text = _plain(written)
    found = re.findall(r"\b(?:None|null|undefined|nan)\b|\(\s*(?:unknown)?\s*\)|"
                       r"\s[,.;:](?!\w)", text)
    if written.kind != "html":
        found += [f"double space in {line!r}" for line in text.splitlines()
                  if "  " in line.strip()]
    return found


_SENTENCE_END = re.compile(r"(?<!\be\.g)(?<!\bi\.e)(?<!\bvs)[.!?]\s+[\"“(]?([a-z])")


def no_lowercase_sentence_starts(written: Written) -> list[str]:
    """A sentence, a subject line and each sentence of a body start with a capital.
    Bullet points and values beside a label are not sentences."""
    if written.kind == "field":
        return []
    found = []
    for line in _sentences(written):
        if written.kind == "sentence" or not re.match(r"^(?:[-•*]|\d+\.)\s", line):
            first = re.search(r"[A-Za-z0-9]", line)
            labelled = re.match(r"^[A-Z][\w /]*:\s", line)
            if first and first.group(0).islower() and not labelled:
                found.append(line[:60])
        found += [line[max(m.start() - 20, 0):m.end() + 20]
                  for m in _SENTENCE_END.finditer(line)]
    return found


_FALLBACKS = ("not yet clear", "none yet", "no engagement yet")


def no_fallback_inside_a_sentence(written: Written) -> list[str]:
    """A stand-in for something unknown ("not yet clear") may be a whole value beside its
    label, never part of a sentence: "it looks like Fjord Logistics not yet clear"."""
    found = []
    for line in _lines(written):
        for fallback in _FALLBACKS:
            for match in re.finditer(re.escape(fallback), line):
                before = line[:match.start()].strip()
                if written.kind != "sentence" and (
                        not before or re.fullmatch(r"[A-Z][\w /]*:", before)):
                    continue  # the whole value beside its label
                found.append(line[:100])
    return found


_EVENT_WORDS = re.compile(r"^(?:[a-z]+ )+(?:viewed|used|downloaded|attended|registered|"
                          r"requested|submitted|clicked|replied|signal)\b")


def content_labels_are_human(written: Written) -> list[str]:
    """What the lead engaged with reads as a label: not an event type spelled out ("roi
    calculator used"), and the title does not repeat it ("ROI calculator: Roi Calculator")."""
    if not written.where.endswith(" content"):
        return []
    found = []
    if _EVENT_WORDS.match(written.text) or "_" in written.text:
        found.append(written.text)
    noun, _, title = written.text.partition(": ")
    words = set(re.findall(r"[a-z0-9]+", noun.lower()))
    if title and set(re.findall(r"[a-z0-9]+", title.lower())) <= words:
        found.append(written.text)
    return found


RULES: list[Rule] = [no_raw_industry_keys, a_or_an, no_zero_counts, singular_and_plural_agree,
                     no_doubled_words, no_empty_placeholders, no_lowercase_sentence_starts,
                     no_fallback_inside_a_sentence, content_labels_are_human]

# Each rule, and a sentence of the kind the engine once wrote that it must catch.
REPORTED: dict[Rule, Written] = {
    no_raw_industry_keys: Written("body", "Case studies rarely reflect teams in saas.", "prose"),
    a_or_an: Written("qualification", "Head of Operations at a 800-person company.",
                     "sentence"),
    no_zero_counts: Written("engagement pattern", "3 actions over 0 days, 3 in the last 7 "
                            "days — accelerating", "field"),
    singular_and_plural_agree: Written("engagement pattern", "1 actions over 0 days", "field"),
    no_doubled_words: Written("x content", "roi calculator used: Roi Calculator", "field"),
    no_empty_placeholders: Written("company fit", "high fit saas company (unknown) in US",
                                   "field"),
    no_lowercase_sentence_starts: Written("subject", "saas, growing: a customer story close "
                                          "to yours", "sentence"),
    no_fallback_inside_a_sentence: Written("opener", "Hi Ingrid, it looks like Fjord Logistics"
                                           " not yet clear; is that on your plate?",
                                           "sentence"),
    content_labels_are_human: Written("x content", "roi calculator used: Roi Calculator",
                                      "field"),
}


@pytest.mark.parametrize("rule", RULES, ids=lambda rule: rule.__name__)
def test_the_rule_catches_the_kind_of_sentence_it_is_for(rule: Rule) -> None:
    assert rule(REPORTED[rule]), f"{rule.__name__} let through {REPORTED[rule].text!r}"


@pytest.mark.parametrize("rule", RULES, ids=lambda rule: rule.__name__)
def test_every_sentence_the_engine_writes_keeps_the_rule(rule: Rule) -> None:
    broken = [(written.where, problem) for written in everything()
              for problem in rule(written)]
    shown = "\n".join(f"  {where}: {problem!r}" for where, problem in broken[:12])
    assert not broken, f"{rule.__doc__}\n{len(broken)} broken, e.g.:\n{shown}"
