"""The shipped nurture playbook, written by marketing ops.

`PLAYBOOK` is what the worker runs (`NURTURE_PLAYBOOK=workflows:PLAYBOOK`). Building it
validates every track and checks every template name against `templates/email/`.
"""

import os
from pathlib import Path

from engine.dsl import Cadence, SilenceRule, attribute, days, playbook, route
from workflows.acceleration import ACCELERATION
from workflows.conversion import (
    ALMOST_CASE_STUDIES,
    ALMOST_PRICING,
    ALMOST_WEBINAR,
    OBJECTION_STUCK,
    TIMING_STUCK,
)
from workflows.education import EDUCATION
from workflows.pages import PAGES
from workflows.qualification import PRICING_VISITOR, SYNDICATION, WEBINAR, WELCOME
from workflows.reengagement import RE_ENGAGEMENT, REACTIVATION
from workflows.sales import SALES, SALES_TRACKS
from workflows.scoring import SCORING
from workflows.signals import ENGAGEMENT
from workflows.triggers import TRIGGERS

# The same folder the engine renders from (NURTURE_TEMPLATES_DIR overrides both).
TEMPLATES_DIR = Path(os.environ.get("NURTURE_TEMPLATES_DIR")
                     or Path(__file__).resolve().parent.parent / "templates")


def template_names(templates_dir: Path = TEMPLATES_DIR) -> list[str]:
    """Email template names: the folders under templates/email (not starting with _)."""
    folder = templates_dir / "email"
    return sorted(p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith("_"))


PLAYBOOK = playbook(
    "b2b-nurture",
    tracks=[WELCOME, WEBINAR, PRICING_VISITOR, SYNDICATION, EDUCATION, ACCELERATION,
            OBJECTION_STUCK, TIMING_STUCK, ALMOST_PRICING, ALMOST_WEBINAR, ALMOST_CASE_STUDIES,
            RE_ENGAGEMENT, REACTIVATION, *SALES_TRACKS],
    entry=[
        route(attribute("source").is_("webinar"), "webinar_follow_up"),
        route(attribute("source").one_of(["pricing_page", "pricing"]), "pricing_visitor"),
        route(attribute("source").one_of(["content_syndication", "syndication"]),
              "content_syndication"),
    ],
    default_track="welcome",
    triggers=TRIGGERS,
    silence=SilenceRule(after=days(21), engagement=list(ENGAGEMENT),
                        phases=["qualification", "acceleration", "conversion"],
                        track="re_engagement"),
    scoring=SCORING,
    cadence=Cadence(max_emails=2, per=days(7), window_start_hour=8, window_end_hour=19),
    pages=PAGES,
    sales=SALES,
    templates=template_names() if (TEMPLATES_DIR / "email").is_dir() else None,
)

__all__ = ["PLAYBOOK", "TEMPLATES_DIR", "template_names"]
