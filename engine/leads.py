"""Leads: the profile producers send, and the phases a lead moves through."""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, field_validator

from engine.errors import did_you_mean

PERSONAL_DOMAINS = frozenset({
    "gmail.com", "googlemail.com", "yahoo.com", "hotmail.com", "outlook.com", "live.com",
    "icloud.com", "me.com", "aol.com", "proton.me", "protonmail.com", "gmx.com", "mail.com",
})
"""Mail domains of people, not companies: they never form an account."""


class Phase(StrEnum):
    """Where a lead is in its life."""

    QUALIFICATION = "qualification"
    ACCELERATION = "acceleration"
    CONVERSION = "conversion"
    RE_ENGAGEMENT = "re_engagement"
    REACTIVATION = "reactivation"
    SALES = "sales"
    SQL = "sql"  # sales accepted the lead: it left marketing nurture
    RECYCLED = "recycled"  # sales gave it back; it rests until a date, then nurture resumes
    SUPPRESSED = "suppressed"
    EXITED = "exited"


NURTURE_PHASES: frozenset[Phase] = frozenset(
    {Phase.QUALIFICATION, Phase.ACCELERATION, Phase.CONVERSION, Phase.RE_ENGAGEMENT,
     Phase.REACTIVATION}
)


def check_phase(value: str, allowed: Iterable[str] = tuple(Phase), *, what: str = "a phase"
                ) -> str:
    """`value` if it names one of the `allowed` phases; otherwise a ValueError that lists
    them and says which one was probably meant (a misspelled phase would strand a lead)."""
    names = sorted(str(phase) for phase in allowed)
    if value in names:
        return value
    raise ValueError(f"{value!r} is not {what}; {did_you_mean(value, names)}the choices are "
                     f"{', '.join(names)}")


class LeadProfile(BaseModel):
    """What we know about a person. Only `id` and `email` are required."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1, max_length=200)
    email: str = Field(min_length=3, max_length=320)
    first_name: str | None = None
    last_name: str | None = None
    title: str | None = None
    company: str | None = None
    company_domain: str | None = None
    company_size: int | None = Field(default=None, ge=0)
    industry: str | None = None
    country: str | None = None
    timezone: str | None = None
    source: str | None = None
    campaign: str | None = Field(default=None, max_length=200)
    account_id: str | None = Field(default=None, max_length=200)

    @field_validator("email")
    @classmethod
    def _email_has_domain(cls, value: str) -> str:
        local, _, domain = value.strip().rpartition("@")
        if not local or "." not in domain:
            raise ValueError(f"{value!r} is not an email address (expected name@company.com)")
        return f"{local}@{domain.lower()}"

    @property
    def email_domain(self) -> str:
        """The part of the email address after the @."""
        return self.email.rpartition("@")[2]

    @property
    def full_name(self) -> str:
        """First and last name, or the email address when both are unknown."""
        name = " ".join(p for p in (self.first_name, self.last_name) if p)
        return name or self.email

    def attribute(self, name: str) -> object:
        """A profile field by name (used by conditions); unknown names are an error."""
        if name not in type(self).model_fields and name != "email_domain":
            raise KeyError(name)
        return getattr(self, name)
