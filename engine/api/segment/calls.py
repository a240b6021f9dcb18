"""Segment's HTTP Tracking API, read into the engine's terms.

Segment, RudderStack and Jitsu clients send `track`, `identify`, `page`, `screen`, `group`
and `alias` calls (alone or in a `batch`) with Segment's field names. `read_calls` checks
them and turns each into an `Inbound` message for the store: behavior becomes an event,
traits become a profile patch, an alias links two ids. Anything malformed raises
`PayloadError` naming the field (`batch[3].userId`), and nothing from that request is kept.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from engine.dsl.pages import PageRule, page_event_type
from engine.errors import PayloadError
from engine.events import normalize_event_type
from engine.leads import LeadProfile
from engine.store import Inbound, InboundKind

MAX_EVENT_BYTES = 32 * 1024
CALL_TYPES = ("track", "identify", "page", "screen", "group", "alias")
_ID_LIMIT = 200


class _Call(BaseModel):
    """Fields every Segment call may carry (camelCase, as sent)."""

    model_config = ConfigDict(extra="ignore")

    type: str | None = None
    userId: str | None = None
    anonymousId: str | None = None
    messageId: str | None = Field(default=None, max_length=_ID_LIMIT)
    timestamp: datetime | None = None
    originalTimestamp: datetime | None = None
    sentAt: datetime | None = None
    context: dict[str, Any] = Field(default_factory=dict)
    event: str | None = None
    name: str | None = None
    properties: dict[str, Any] = Field(default_factory=dict)
    traits: dict[str, Any] = Field(default_factory=dict)
    groupId: str | None = None
    previousId: str | None = None

    @field_validator("userId", "anonymousId", "groupId", "previousId", mode="before")
    @classmethod
    def _id_as_text(cls, value: Any) -> Any:
        if isinstance(value, bool):
            raise ValueError("must be a string or a number")
        if isinstance(value, int | float):
            value = str(value)
        return _text_id(value)

    @field_validator("messageId", mode="before")
    @classmethod
    def _message_id_as_text(cls, value: Any) -> Any:
        return _text_id(value)

    @field_validator("context", "properties", "traits", mode="before")
    @classmethod
    def _none_is_empty(cls, value: Any) -> Any:
        return {} if value is None else value

    @field_validator("timestamp", "originalTimestamp", "sentAt")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        if value is None:
            return None
        try:
            return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        except OverflowError:  # e.g. 0001-01-01T00:00+01:00 is before year 1 in UTC
            raise ValueError("is out of the range of dates") from None


def _text_id(value: Any) -> Any:
    if isinstance(value, str):
        value = value.strip()
        if len(value) > _ID_LIMIT:
            raise ValueError(f"must be at most {_ID_LIMIT} characters")
        if "\x00" in value:  # PostgreSQL cannot store it: refuse rather than fail later
            raise ValueError("must not contain NUL characters")
        return value or None
    return value


def read_calls(body: Any, *, kind: str | None, received_at: datetime,
               pages: list[PageRule]) -> list[Inbound]:
    """Every call in a request body as store messages (`kind` None means a batch)."""
    if not isinstance(body, dict):
        raise PayloadError("", "the body must be a JSON object")
    if kind is not None:
        return [_read_one(body, kind, "", received_at, pages, {}, None)]
    batch = body.get("batch")
    if not isinstance(batch, list):
        raise PayloadError("batch", "must be a list of calls")
    context = body.get("context")
    shared_context: dict[str, Any] = context if isinstance(context, dict) else {}
    shared_sent = body.get("sentAt")
    messages = []
    for index, item in enumerate(batch):
        where = f"batch[{index}]"
        if not isinstance(item, dict):
            raise PayloadError(where, "each call must be a JSON object")
        size = len(json.dumps(item, separators=(",", ":"), ensure_ascii=False,
                              default=str).encode("utf-8", "surrogatepass"))
        if size > MAX_EVENT_BYTES:
            raise PayloadError(where, f"a call may be at most {MAX_EVENT_BYTES // 1024} KB")
        call_type = item.get("type")
        if call_type not in CALL_TYPES:
            raise PayloadError(f"{where}.type",
                               f"must be one of {', '.join(CALL_TYPES)} (got {call_type!r})")
        messages.append(_read_one(item, str(call_type), f"{where}.", received_at, pages,
                                  shared_context, shared_sent))
    return messages


def _read_one(raw: dict[str, Any], kind: str, prefix: str, received_at: datetime,
              pages: list[PageRule], shared_context: dict[str, Any],
              shared_sent: Any) -> Inbound:
    if shared_sent is not None and "sentAt" not in raw:
        raw = {**raw, "sentAt": shared_sent}
    try:
        call = _Call.model_validate(raw)
    except ValidationError as err:
        first = err.errors()[0]
        field = ".".join(str(part) for part in first["loc"])
        raise PayloadError(prefix + field, first["msg"]) from None
    context = {**shared_context, **call.context}
    if kind == "alias":
        if call.previousId is None:
            raise PayloadError(prefix + "previousId", "alias needs the previous id")
        if call.userId is None:
            raise PayloadError(prefix + "userId", "alias needs the new userId")
        return Inbound(message_id=_message_id(call, kind, raw), kind=InboundKind.ALIAS,
                       lead_id=call.userId, anonymous_id=call.previousId,
                       payload={"call": kind, "previous_id": call.previousId})
    if call.userId is None and call.anonymousId is None:
        raise PayloadError(prefix + "userId", "every call needs a userId or an anonymousId")
    message_id = _message_id(call, kind, raw)
    base = {"message_id": message_id, "lead_id": call.userId, "anonymous_id": call.anonymousId}
    if kind == "identify":
        traits = profile_traits(call.traits, context, prefix + "traits")
        return Inbound(**base, kind=InboundKind.PROFILE,
                       payload={"call": kind, "traits": traits})
    if kind == "group":
        if call.groupId is None:
            raise PayloadError(prefix + "groupId", "group needs the account's groupId")
        traits = account_traits(call.groupId, call.traits, prefix + "traits")
        return Inbound(**base, kind=InboundKind.PROFILE,
                       payload={"call": kind, "traits": traits})
    try:
        at = event_time(call, received_at)
    except OverflowError:
        raise PayloadError(prefix + "sentAt", "is too far from originalTimestamp to correct "
                                              "the sender's clock by") from None
    if kind == "track":
        if not call.event:
            raise PayloadError(prefix + "event", "track needs the event name, e.g. "
                                                 "'Pricing Page Viewed'")
        try:
            event_type = normalize_event_type(call.event)
        except ValueError as err:
            raise PayloadError(prefix + "event", str(err)) from None
        properties = dict(call.properties)
    else:  # page or screen
        properties, event_type = _page(call, context, kind, pages)
    return Inbound(**base, kind=InboundKind.EVENT, payload={
        "id": message_id, "type": event_type, "at": at.isoformat(), "properties": properties})


def event_time(call: _Call, received_at: datetime) -> datetime:
    """When it happened, corrected for the sender's clock skew; never in the future."""
    if call.originalTimestamp is not None and call.sentAt is not None:
        at = call.originalTimestamp + (received_at - call.sentAt)
    else:
        at = call.timestamp or call.originalTimestamp or received_at
    return min(at, received_at)


def _page(call: _Call, context: dict[str, Any], kind: str,
          pages: list[PageRule]) -> tuple[dict[str, Any], str]:
    props = dict(call.properties)
    found = context.get("page")
    page_context: dict[str, Any] = found if isinstance(found, dict) else {}
    url = props.get("url") or page_context.get("url")
    path = props.get("path") or page_context.get("path")
    if not isinstance(path, str) and isinstance(url, str):
        try:
            path = urlsplit(url).path
        except ValueError:  # not a URL (e.g. "http://[x"): the view stays untyped
            path = None
    if call.name and "name" not in props:
        props["name"] = call.name
    if kind == "screen":
        return props, "screen_viewed"
    if isinstance(path, str) and path:
        props["path"] = path
        if isinstance(url, str):
            props.setdefault("url", url)
        return props, page_event_type(path, pages)
    return props, page_event_type("/", [])


def _message_id(call: _Call, kind: str, raw: dict[str, Any]) -> str:
    """The sender's messageId, else a hash of the call's content: a retried identical
    call is recognised (Segment's libraries always send a messageId)."""
    if call.messageId:
        return call.messageId
    digest = hashlib.sha256(json.dumps({"kind": kind, **raw}, sort_keys=True,
                                       default=str).encode()).hexdigest()
    return f"auto-{digest[:40]}"


# --- traits --------------------------------------------------------------------------------

_PROFILE_ALIASES: dict[str, tuple[str, ...]] = {
    "email": ("email",),
    "first_name": ("firstName", "first_name", "firstname"),
    "last_name": ("lastName", "last_name", "lastname"),
    "title": ("title", "jobTitle", "job_title"),
    "company": ("companyName", "company_name", "company"),
    "company_domain": ("companyDomain", "company_domain", "domain", "website"),
    "company_size": ("employees", "company_size", "companySize", "numberOfEmployees",
                     "employee_count"),
    "industry": ("industry",),
    "country": ("country",),
    "timezone": ("timezone", "timeZone"),
    "source": ("source", "leadSource", "lead_source", "utm_source"),
    "campaign": ("campaign", "utm_campaign", "campaignName", "campaign_name"),
}
_NUMBER = re.compile(r"\d[\d,]*")
_MAX_DIGITS = 9  # more is no head count (and int() refuses thousands of digits)


def profile_traits(traits: dict[str, Any], context: dict[str, Any], where: str
                   ) -> dict[str, Any]:
    """`identify` traits as lead-profile fields; a value of the wrong shape is a 400."""
    found: dict[str, Any] = {}
    company = traits.get("company")
    if isinstance(company, dict):  # Segment's spec allows a company object
        traits = {**traits, "company": company.get("name"),
                  **{k: v for k, v in {"industry": company.get("industry"),
                                       "employees": company.get("employee_count"),
                                       "domain": company.get("domain")}.items()
                     if v is not None and k not in traits}}
    for field, names in _PROFILE_ALIASES.items():
        for name in names:
            if traits.get(name) not in (None, ""):
                found[field] = _clean(field, traits[name], f"{where}.{name}")
                break
    if "first_name" not in found and isinstance(traits.get("name"), str):
        first, _, last = traits["name"].strip().partition(" ")
        if first:
            found["first_name"] = first
        if last.strip() and "last_name" not in found:
            found["last_name"] = last.strip()
    address = traits.get("address")
    if "country" not in found and isinstance(address, dict) and address.get("country"):
        found["country"] = _clean("country", address["country"], f"{where}.address.country")
    if "timezone" not in found and isinstance(context.get("timezone"), str):
        found["timezone"] = context["timezone"][:64]
    campaign = context.get("campaign")
    if "source" not in found and isinstance(campaign, dict) and campaign.get("source"):
        found["source"] = str(campaign["source"])[:100]
    if "campaign" not in found and isinstance(campaign, dict) and campaign.get("name"):
        found["campaign"] = str(campaign["name"])[:200]
    return found


def account_traits(group_id: str, traits: dict[str, Any], where: str) -> dict[str, Any]:
    """`group` traits as the account fields of the lead's profile."""
    found: dict[str, Any] = {"account_id": group_id}
    for field, names in {"company": ("name", "company"),
                         "company_domain": ("domain", "website"),
                         "industry": ("industry",),
                         "company_size": ("employees", "employee_count", "company_size",
                                          "size")}.items():
        for name in names:
            if traits.get(name) not in (None, ""):
                found[field] = _clean(field, traits[name], f"{where}.{name}")
                break
    return found


def _clean(field: str, value: Any, where: str) -> Any:
    if field == "company_size":
        if isinstance(value, bool):
            raise PayloadError(where, "must be a number of employees")
        if isinstance(value, int | float):
            if value < 0:
                raise PayloadError(where, "must not be negative")
            if not math.isfinite(value):
                raise PayloadError(where, f"must be a number of employees (got {value!r})")
            return int(value)
        match = _NUMBER.search(value) if isinstance(value, str) else None
        digits = match.group().replace(",", "") if match else ""
        if not digits or len(digits) > _MAX_DIGITS:
            raise PayloadError(where, f"must be a number of employees (got {value!r:.40})")
        return int(digits)
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        raise PayloadError(where, "must be a string")
    text = str(value).strip()
    if field == "email":
        try:
            LeadProfile(id="x", email=text)
        except ValidationError:
            raise PayloadError(where, f"{text!r} is not an email address") from None
    if field == "company_domain":
        try:
            text = urlsplit(text if "//" in text else f"//{text}").hostname or text
        except ValueError:
            raise PayloadError(where, f"{text!r:.80} is not a domain or web address") from None
        text = text.removeprefix("www.")
    return text[:200] if field == "campaign" else text[:320]
