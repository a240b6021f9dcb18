"""The shipped email templates: every one renders, carries the legal footer and reads well."""

from __future__ import annotations

import re
from pathlib import Path

from engine.leads import LeadProfile
from engine.mail import EmailContext, SenderIdentity, TemplateRenderer, sample_context
from engine.mail.context import SAMPLE_CTX

# The ctx keys a track step must give each template; every other template needs none.
CTX_KEYS = {
    "syndication_reminder": {"asset"},
    "conv_webinar_takeaway": {"takeaway"},
}

CATALOGUE = {
    "webinar_replay", "webinar_related_resource", "webinar_case_study",
    "pricing_case_study", "pricing_roi", "pricing_buying_guide", "pricing_implementation",
    "syndication_reminder", "syndication_one_idea", "syndication_diagnostic",
    "syndication_segmentation",
    "welcome_confirmation", "activation_value", "education_pipeline", "education_attribution",
    "education_forecasting", "consideration_social_proof", "consideration_roi_comparison",
    "decision_audit_offer", "decision_demo_offer",
    "accel_customer_story", "accel_roi_calculator", "accel_comparison", "accel_problem_webinar",
    "accel_champion_kit",
    "conv_onboarding_timeline", "conv_roi_data", "conv_implementation_guide",
    "conv_timing_checkin", "conv_pricing_proof", "conv_webinar_takeaway", "conv_exec_summary",
    "conv_comparison_guide", "conv_business_case",
    "reengage_new_angle", "reengage_preferences", "reengage_last_note",
    "reactivate_engaged", "reactivate_never_engaged",
    "trigger_industry_proof", "trigger_deeper_content",
}

BANNED = re.compile(r"just\s+checking\s+in", re.IGNORECASE)


def body_words(text: str) -> int:
    """Words above the footer rule: greeting, body and signature."""
    return len(text.split("\n--\n")[0].split())


def test_every_email_the_playbook_names_exists(renderer: TemplateRenderer) -> None:
    assert CATALOGUE <= set(renderer.names())


def test_template_renders_with_footer_address_and_unsubscribe_link(
    renderer: TemplateRenderer, template_name: str
) -> None:
    context = sample_context()

    rendered = renderer.render(template_name, context)

    assert rendered.subject
    assert len(rendered.subject) < 70
    for body in (rendered.text, rendered.html):
        assert context.sender["address"] in body
        assert context.unsubscribe_url in body
    for output in (rendered.subject, rendered.text, rendered.html):
        assert not BANNED.search(output)


def test_template_is_short_and_personal(renderer: TemplateRenderer, template_name: str) -> None:
    rendered = renderer.render(template_name, sample_context())

    assert 80 <= body_words(rendered.text) <= 180
    assert rendered.text.startswith("Hi Priya,")
    assert "Hi Priya," in rendered.html


def test_template_needs_only_the_ctx_keys_its_step_provides(
    renderer: TemplateRenderer, template_name: str
) -> None:
    keys = CTX_KEYS.get(template_name, set())

    renderer.render(template_name, sample_context(ctx={key: SAMPLE_CTX[key] for key in keys}))


def test_template_copes_with_a_lead_we_know_nothing_about(
    renderer: TemplateRenderer, template_name: str
) -> None:
    context = EmailContext.for_lead(
        LeadProfile(id="lead-2", email="someone@example.org"),
        sender=SenderIdentity(),
        unsubscribe_url="https://northwind.example/u/t",
        ctx=SAMPLE_CTX,
    )

    rendered = renderer.render(template_name, context)

    assert rendered.text.startswith("Hi there,")
    for output in (rendered.subject, rendered.text, rendered.html):
        assert "None" not in output


def test_no_template_source_says_just_checking_in(templates_dir: Path) -> None:
    for path in (templates_dir / "email").rglob("*"):
        if path.is_file():
            assert not BANNED.search(path.read_text()), path


def test_industry_proof_follows_the_case_study_the_lead_read(renderer: TemplateRenderer) -> None:
    event = {"type": "case_study_viewed", "properties": {"industry": "Healthcare"}}

    rendered = renderer.render("trigger_industry_proof", sample_context(event=event))

    assert "Healthcare" in rendered.subject
    assert "industry=Healthcare" in rendered.html
    assert "Logistics" not in rendered.text


def test_industry_proof_falls_back_to_the_lead_industry(renderer: TemplateRenderer) -> None:
    rendered = renderer.render("trigger_industry_proof", sample_context())

    assert "Logistics" in rendered.subject


def test_customer_story_matches_industry_and_company_size(renderer: TemplateRenderer) -> None:
    rendered = renderer.render("accel_customer_story", sample_context())

    assert rendered.subject.startswith("Logistics, mid-market:")
    assert "mid-market customers in Logistics" in rendered.text


def test_webinar_replay_leads_with_the_step_takeaway(renderer: TemplateRenderer) -> None:
    context = sample_context(ctx={"topic": "Forecast calls", "takeaway": "Forecast in ranges."})

    rendered = renderer.render("webinar_replay", context)

    assert rendered.subject == "Your replay: Forecast calls"
    assert "make it this: Forecast in ranges." in rendered.text


def test_segmentation_offers_three_answers(renderer: TemplateRenderer) -> None:
    rendered = renderer.render("syndication_segmentation", sample_context())

    assert rendered.html.count("/start/") == 3
    assert "reply with 1, 2 or 3" in rendered.text


def test_the_webinar_replay_names_the_leads_webinar_and_its_takeaway(
        renderer: TemplateRenderer) -> None:
    attended = {"type": "webinar_attended", "properties": {
        "topic": "agency <reporting>", "takeaway": "clients renew on the report they read."}}

    rendered = renderer.render("webinar_replay", sample_context(ctx={}, event=attended))
    bare = renderer.render("webinar_replay", sample_context(ctx={}))

    assert rendered.subject == "Your replay: agency <reporting>"
    assert "Thanks for joining “agency <reporting>”" in rendered.text
    assert "make it this: clients renew on the report they read." in rendered.text
    assert "“agency &lt;reporting&gt;”" in rendered.html  # the event's text is escaped
    assert "pipeline" not in rendered.text.lower()
    assert bare.subject == "Your webinar replay"
    assert "Thanks for joining the webinar." in bare.text and "make it this" not in bare.text
