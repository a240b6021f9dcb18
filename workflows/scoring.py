"""Scoring defaults: what fit looks like, what behavior is worth, what disqualifies."""

from engine.dsl import (
    FitRules,
    IntentRules,
    NegativeRule,
    RelationshipRules,
    ScoringModel,
    SizeBand,
    TitleRule,
    days,
)

PERSONAL_EMAIL = ["gmail.com", "yahoo.com", "hotmail.com", "outlook.com", "icloud.com",
                  "aol.com", "proton.me", "protonmail.com", "gmx.com"]
COMPETITORS = ["competitor.example", "rivalmetrics.io", "pipelinepro.example"]

SCORING = ScoringModel(
    fit=FitRules(
        company_size=[
            SizeBand(min=1, max=10, points=0),
            SizeBand(min=11, max=50, points=6),
            SizeBand(min=51, max=200, points=10),
            SizeBand(min=201, max=5000, points=15),
            SizeBand(min=5001, points=12),
        ],
        industries={"saas": 10, "software": 10, "fintech": 8, "ecommerce": 7,
                    "professional services": 6, "manufacturing": 5, "healthcare": 5},
        other_industry=2,
        seniority=[
            TitleRule(words=["chief", "ceo", "cfo", "cmo", "cro", "coo", "founder", "owner",
                             "president"], points=18, role="executive"),
            TitleRule(words=["vp", "vice president", "head of"], points=20, role="vp"),
            TitleRule(words=["director"], points=15, role="director"),
            TitleRule(words=["manager", "lead"], points=10, role="manager"),
            TitleRule(words=["specialist", "analyst", "coordinator", "associate"], points=5,
                      role="individual"),
        ],
        departments=[TitleRule(words=["marketing", "revenue", "sales", "growth", "demand",
                                      "operations", "revops", "finance"], points=5)],
        countries={"US": 5, "CA": 5, "GB": 5, "UK": 5, "DE": 4, "FR": 4, "NL": 4, "AU": 4,
                   "IE": 4, "ES": 3},
        other_country=1,
        high=35,
        medium=20,
    ),
    intent=IntentRules(
        points={
            "email_opened": 2, "email_clicked": 5, "blog_viewed": 3, "page_viewed": 1,
            "pricing_page_viewed": 15, "case_study_viewed": 6, "case_study_downloaded": 10,
            "roi_calculator_used": 20, "demo_page_viewed": 25, "comparison_viewed": 10,
            "form_submitted": 8, "content_downloaded": 8, "webinar_registered": 4,
            "webinar_attended": 10, "email_replied": 15, "demo_requested": 40,
            "contact_requested": 35, "buying_committee_signal": 10,
        },
        caps={"email_opened": 10, "page_viewed": 5, "blog_viewed": 15,
              "buying_committee_signal": 20},
        half_life=days(30),
        high=40,
        medium=20,
    ),
    relationship=RelationshipRules(per_month=1, tenure_cap=10,
                                   touch_points={"email_replied": 5, "webinar_attended": 2},
                                   touch_cap=15),
    negative=[
        NegativeRule(points=-40, flag="student", title_words=["student", "intern"],
                     email_domains=["student.edu"]),
        NegativeRule(points=-30, flag="job seeker", title_words=["job seeker", "looking for"],
                     event_types=["careers_page_viewed"]),
        NegativeRule(points=-100, flag="competitor", company_domains=COMPETITORS),
        NegativeRule(points=-10, email_domains=PERSONAL_EMAIL),
        NegativeRule(points=-15, max_company_size=4),
        NegativeRule(points=-15, industries=["education", "government"]),
    ],
    mql=60,
    sales_ready=75,
)
