"""Segment traits read as the lead's profile: `identify` traits as person and company
fields, `group` traits as the account's; a value of the wrong shape is a `PayloadError`."""

from __future__ import annotations

import math
import re
from typing import Any
from urllib.parse import urlsplit

from pydantic import ValidationError

from engine.errors import PayloadError
from engine.leads import LeadProfile

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


def profile_traits(traits: dict[str, Any], context: dict[str, Any], where: str,
                   context_where: str = "context.traits") -> dict[str, Any]:
    """`identify` traits as lead-profile fields; a value of the wrong shape is a 400.

    Traits sent under `context.traits` count too (the RudderStack SDKs send them only
    there, as Segment's spec allows); a field given at the top level wins."""
    found: dict[str, Any] = {}
    inner = context.get("traits")
    if isinstance(inner, dict):
        found.update(_person_fields(inner, context_where))
    found.update(_person_fields(traits, where))
    if "timezone" not in found and isinstance(context.get("timezone"), str):
        found["timezone"] = context["timezone"][:64]
    campaign = context.get("campaign")
    if "source" not in found and isinstance(campaign, dict) and campaign.get("source"):
        found["source"] = str(campaign["source"])[:100]
    if "campaign" not in found and isinstance(campaign, dict) and campaign.get("name"):
        found["campaign"] = str(campaign["name"])[:200]
    return found


def _person_fields(traits: dict[str, Any], where: str) -> dict[str, Any]:
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
