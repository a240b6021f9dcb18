"""The shipped playbook's plays, run on the time-skipping server through the real workflow."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from temporalio.client import WorkflowExecutionStatus
from temporalio.testing import WorkflowEnvironment

from engine.client import workflow_id_for
from engine.store import Store
from worker.simulate import SimulationResult, parse_scenario, simulate
from workflows import PLAYBOOK

_ids = itertools.count()


def lead(**overrides: Any) -> dict[str, Any]:
    base = {"id": f"lead-{next(_ids)}", "email": f"ana{next(_ids)}@acme.io", "first_name": "Ana",
            "last_name": "Ruiz", "title": "VP Marketing", "company": "Acme",
            "company_domain": "acme.io", "company_size": 500, "industry": "saas",
            "country": "US", "timezone": "America/New_York", "source": "newsletter"}
    return base | overrides


async def run(env: WorkflowEnvironment, events: list[dict[str, Any]] | None = None,
              until: str = "P90D", store: Store | None = None, **profile: Any
              ) -> SimulationResult:
    import json

    scenario = parse_scenario(json.dumps({"lead": lead(**profile), "events": events or [],
                                          "until": until}))
    return await simulate(scenario, PLAYBOOK, env=env, store=store)


def templates(result: SimulationResult) -> list[str]:
    return [line["template"] for line in result.of_kind("email")]


async def test_webinar_attendee_gets_replay_within_48h_then_resource_then_case_study(
        env: WorkflowEnvironment) -> None:
    result = await run(env, [{"at": "P0D", "type": "webinar_attended", "properties": {
        "topic": "HIPAA-ready reporting", "takeaway": "audit trails are cheapest built in"}}],
        until="P15D", source="webinar")
    emails = result.of_kind("email")
    assert templates(result)[:3] == ["webinar_replay", "webinar_related_resource",
                                     "webinar_case_study"]
    assert emails[0]["day"] < 2
    # The replay names the webinar the lead attended, and its takeaway.
    assert emails[0]["subject"] == "Your replay: HIPAA-ready reporting"
    replay = next(m for m in result.sent if m["Subject"] == emails[0]["subject"])
    text = replay.get_body(("plain",)).get_content()
    assert "“HIPAA-ready reporting”" in text and "audit trails are cheapest built in" in text


async def test_webinar_attendee_clicking_the_case_study_moves_to_acceleration(
        env: WorkflowEnvironment) -> None:
    result = await run(env, [{"at": "P0D", "type": "webinar_attended"},
                             {"at": "P1D", "type": "case_study_viewed"}], until="P3D",
                       source="webinar", title="Marketing Analyst", company_size=30)
    assert any(p["to"] == "acceleration" for p in result.of_kind("phase"))


async def test_pricing_visitor_gets_proof_then_risk_and_no_beginner_education(
        env: WorkflowEnvironment) -> None:
    result = await run(env, until="P20D", source="pricing_page", title="Ops Specialist",
                       company_size=40)
    assert templates(result)[:4] == ["pricing_case_study", "pricing_roi",
                                     "pricing_buying_guide", "pricing_implementation"]
    assert not any(t.startswith("education") for t in templates(result))


async def test_content_syndication_lead_is_reminded_taught_diagnosed_and_asked(
        env: WorkflowEnvironment) -> None:
    result = await run(env, until="P20D", source="content_syndication")
    assert templates(result)[:4] == ["syndication_reminder", "syndication_one_idea",
                                     "syndication_diagnostic", "syndication_segmentation"]


async def test_quiet_lead_gets_the_30_60_90_cadence_without_bursts(
        env: WorkflowEnvironment) -> None:
    result = await run(env, until="P90D")
    days = [line["day"] for line in result.of_kind("email")]
    assert 5 <= len(days) <= 12
    for low, high in ((0, 8), (8, 31), (31, 61), (61, 90)):
        assert any(low <= d < high for d in days), f"no email in days {low}-{high}: {days}"
    after_first_week = [d for d in days if d >= 7]
    for d in after_first_week:
        assert sum(1 for other in days if d <= other < d + 7) <= 2, days
    assert len(result.sent) == len(days)


async def test_21_quiet_days_after_engaging_switch_to_re_engagement(
        env: WorkflowEnvironment) -> None:
    result = await run(env, [{"at": "P2D", "type": "email_clicked"}], until="P30D",
                       title="Consultant", company_size=8, industry="retail", country="BR")
    switch = [p for p in result.of_kind("phase") if p["to"] == "re_engagement"]
    assert switch and 22.9 <= switch[0]["day"] <= 23.1
    assert "reengage_new_angle" in templates(result)
    main_after = [e for e in result.of_kind("email")
                  if e["day"] > switch[0]["day"] and e["track"] != "re_engagement"]
    assert main_after == []


async def test_demo_request_escalates_to_tier_one_within_the_hour(
        env: WorkflowEnvironment, tmp_path: Any) -> None:
    store = Store(f"sqlite:///{tmp_path}/s.db", upgrade=True)
    result = await run(env, [{"at": "P3D", "type": "demo_requested"}], until="P4D", store=store,
                       title="Marketing Coordinator", company_size=30)
    escalation = result.of_kind("escalation")[0]
    assert escalation["tier"] == 1 and 3 <= escalation["day"] < 3 + 1 / 24
    tasks = store.sales_tasks(result.final.lead.id)
    assert [(t.kind, t.tier) for t in tasks] == [("escalation", 1)]
    package = tasks[0].handoff
    for field in ("source", "last_meaningful_action", "content_engaged", "likely_pain",
                  "buying_role", "company_fit", "engagement_pattern", "qualification_reason",
                  "suggested_opener", "tier"):
        assert field in package
    assert "requested a demo" in package["last_meaningful_action"]
    store.dispose()


@pytest.mark.parametrize("profile", [
    {"title": "MBA Student", "email": "kim@student.edu"},
    {"company_domain": "rivalmetrics.io", "email": "spy@rivalmetrics.io"},
])
async def test_students_and_competitors_never_reach_tier_one(
        env: WorkflowEnvironment, profile: dict[str, Any]) -> None:
    visits = [{"at": f"P{d}D", "type": "pricing_page_viewed"} for d in range(1, 30)]
    visits.append({"at": "P30D", "type": "demo_requested"})
    result = await run(env, visits, until="P31D", **profile)
    assert all(e["tier"] != 1 for e in result.of_kind("escalation"))
    assert result.final.readiness is None


async def test_unsubscribe_stops_all_email_at_once(env: WorkflowEnvironment) -> None:
    result = await run(env, [{"at": "P5D", "type": "unsubscribed"}], until="P90D")
    assert result.of_kind("suppressed")[0]["reason"] == "unsubscribed"
    assert all(e["day"] < 5 for e in result.of_kind("email"))
    assert result.final.phase == "suppressed"


async def test_a_duplicated_event_id_is_scored_once(env: WorkflowEnvironment) -> None:
    same = {"type": "blog_viewed", "id": "evt-1"}
    result = await run(env, [{"at": "P1D", **same}, {"at": "P1DT1H", **same},
                             {"at": "P2D", **same}], until="P3D")
    assert result.final.event_count == 1
    assert sum(1 for e in result.final.recent_events if e.id == "evt-1") == 1


async def test_industry_case_study_sends_more_proof_from_that_industry(
        env: WorkflowEnvironment) -> None:
    result = await run(env, [{"at": "P9D", "type": "case_study_downloaded",
                              "properties": {"industry": "saas"}}], until="P12D",
                       title="Analyst", company_size=30)
    assert "trigger_industry_proof" in templates(result)


async def test_pricing_visit_accelerates_and_alerts_sales(env: WorkflowEnvironment) -> None:
    result = await run(env, [{"at": "P10D", "type": "pricing_page_viewed"}], until="P11D",
                       title="Analyst", company_size=30, country="BR")
    assert [p["to"] for p in result.of_kind("phase")][-1] == "acceleration"
    assert any("pricing" in alert for alert in result.final.alerts)


async def test_a_demo_request_landing_with_a_score_crossing_escalates_at_tier_one(
        env: WorkflowEnvironment) -> None:
    result = await run(env, [{"at": "P0D", "type": "webinar_attended"},
                             {"at": "P1D", "type": "roi_calculator_used"},
                             {"at": "P1D", "type": "pricing_page_viewed"},
                             {"at": "P1D", "type": "pricing_page_viewed", "id": "again"},
                             {"at": "P1D", "type": "demo_requested"}],
                       until="P2D", source="webinar")
    escalations = result.of_kind("escalation")
    assert [e["tier"] for e in escalations] == [1]


async def test_a_simulated_lead_s_run_ends_cancelled_so_its_worker_lets_go_of_it(
        env: WorkflowEnvironment) -> None:
    # Terminated, the run never reached the worker again and stayed in its cache after it
    # stopped, holding the worker, its client and Temporal's core.
    result = await run(env, until="P2D")

    handle = env.client.get_workflow_handle(workflow_id_for(result.final.lead.id))
    assert (await handle.describe()).status == WorkflowExecutionStatus.CANCELED
