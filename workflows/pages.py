"""Which website pages are which behavior: `page` calls become typed events by these rules.

First match wins; patterns are globs on the path. Unmatched pages stay `page_viewed`.
"""

from engine.dsl import page
from engine.dsl.events import (
    BLOG_VIEWED,
    CASE_STUDY_VIEWED,
    COMPARISON_VIEWED,
    DEMO_PAGE_VIEWED,
    PRICING_PAGE_VIEWED,
    ROI_CALCULATOR_USED,
)

PAGES = [
    page("/pricing*", PRICING_PAGE_VIEWED),
    page("/plans*", PRICING_PAGE_VIEWED),
    page("/demo*", DEMO_PAGE_VIEWED),
    page("/book-a-demo*", DEMO_PAGE_VIEWED),
    page("/customers/*", CASE_STUDY_VIEWED),
    page("/case-studies/*", CASE_STUDY_VIEWED),
    page("/compare/*", COMPARISON_VIEWED),
    page("/vs/*", COMPARISON_VIEWED),
    page("/roi-calculator*", ROI_CALCULATOR_USED),
    page("/blog/*", BLOG_VIEWED),
]
