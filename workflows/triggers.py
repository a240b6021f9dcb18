"""Playbook-wide triggers: behavior beats the clock."""

from engine.dsl import (
    attribute,
    days,
    escalate_now,
    go_to,
    matches_lead,
    not_,
    notify_sales,
    seen,
    send_email,
    trigger,
)
from engine.dsl.events import (
    BUYING_COMMITTEE_SIGNAL,
    CASE_STUDY_DOWNLOADED,
    CASE_STUDY_VIEWED,
    CONTACT_REQUESTED,
    DEMO_REQUESTED,
    EMAIL_CLICKED,
    PRICING_PAGE_VIEWED,
)

TRIGGERS = [
    trigger("demo_request", on=[DEMO_REQUESTED, CONTACT_REQUESTED],
            then=[escalate_now("asked to talk to sales", tier=1)]),
    trigger("pricing_visit", on=[PRICING_PAGE_VIEWED],
            phases=["qualification", "re_engagement", "reactivation"],
            when=not_(attribute("source").one_of(["pricing_page", "pricing"])),
            then=[notify_sales("visited the pricing page"),
                  go_to("acceleration", "pricing page visit")]),
    trigger("industry_proof", on=[CASE_STUDY_VIEWED, CASE_STUDY_DOWNLOADED],
            when=matches_lead(CASE_STUDY_VIEWED, CASE_STUDY_DOWNLOADED, property="industry",
                              attribute="industry"),
            cooldown=days(14), then=[send_email("trigger_industry_proof")]),
    trigger("deeper_content", on=[EMAIL_CLICKED],
            when=seen(EMAIL_CLICKED, at_least=3, within=days(30)), cooldown=days(30),
            then=[send_email("trigger_deeper_content")]),
    trigger("buying_committee", on=[BUYING_COMMITTEE_SIGNAL], cooldown=days(7),
            then=[notify_sales("another person from the same account is engaging")]),
]
