"""Rendering: strict variables, escaping, and lead data that can never become template code."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from engine.errors import TemplateError
from engine.leads import LeadProfile
from engine.mail import EmailContext, SenderIdentity, TemplateRenderer, sample_context

WriteEmail = Callable[..., TemplateRenderer]


def context_for(**lead: str) -> EmailContext:
    profile = LeadProfile(id="lead-1", email="sam@acme.example", **lead)
    return EmailContext.for_lead(
        profile, sender=SenderIdentity(), unsubscribe_url="https://northwind.example/u/tok"
    )


def test_undefined_variable_error_names_template_variable_file_and_line(
    write_email: WriteEmail,
) -> None:
    renderer = write_email("replay", text="Thanks for coming.\nTopic: {{ ctx.topic }}")

    with pytest.raises(TemplateError) as raised:
        renderer.render("replay", sample_context(ctx={}))

    message = str(raised.value)
    assert "'replay'" in message
    assert "topic" in message
    assert "email/replay/body.txt, line 4" in message
    assert "{{ ctx.topic }}" in message


def test_undefined_variable_in_subject_is_reported_against_the_subject(
    write_email: WriteEmail,
) -> None:
    renderer = write_email("hello", subject="About {{ ctx.asset }}")

    with pytest.raises(TemplateError, match=r"subject\.txt, line 1.*asset"):
        renderer.render("hello", sample_context(ctx={}))


def test_unknown_template_is_a_template_error_that_says_what_to_create(
    renderer: TemplateRenderer,
) -> None:
    with pytest.raises(TemplateError, match=r"'no_such_email' not found.*subject\.txt"):
        renderer.render("no_such_email", sample_context())


def test_missing_part_is_named_in_the_error(write_email: WriteEmail) -> None:
    renderer = write_email("half_done", html=None)

    with pytest.raises(TemplateError, match=r"'half_done': body\.html is missing"):
        renderer.render("half_done", sample_context())


def test_syntax_error_names_file_and_line(write_email: WriteEmail) -> None:
    renderer = write_email("broken", text="fine\n{% if lead.company %}no end")

    with pytest.raises(TemplateError, match=r"syntax error in email/broken/body\.txt, line \d"):
        renderer.render("broken", sample_context())


def test_lead_markup_is_escaped_in_html_and_left_alone_in_text(write_email: WriteEmail) -> None:
    renderer = write_email("hello")
    context = context_for(first_name="<script>alert(1)</script>", last_name="O'Neil & Co")

    rendered = renderer.render("hello", context)

    assert "<script>" not in rendered.html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in rendered.html
    assert "O&#39;Neil &amp; Co" in rendered.html
    assert "<script>alert(1)</script> O'Neil & Co" in rendered.text
    assert rendered.subject == "Hello <script>alert(1)</script>"


def test_lead_value_that_looks_like_a_template_renders_literally(write_email: WriteEmail) -> None:
    renderer = write_email("hello")
    context = context_for(first_name="{{ 7*7 }}", last_name="{% for x in range(3) %}x{% endfor %}")

    rendered = renderer.render("hello", context)

    for output in (rendered.subject, rendered.text, rendered.html):
        assert "{{ 7*7 }}" in output
        assert "49" not in output
    assert "{% for x in range(3) %}x{% endfor %}" in rendered.text


def test_sandbox_refuses_to_reach_python_internals(write_email: WriteEmail) -> None:
    renderer = write_email("sneaky", text="{{ lead.__class__.__mro__ }}")

    with pytest.raises(TemplateError, match="unsafe"):
        renderer.render("sneaky", sample_context())


def test_subject_is_one_line_with_whitespace_collapsed(write_email: WriteEmail) -> None:
    renderer = write_email("spaced", subject="  Hello\n\n   {{ lead.first_name }}\t again \n")

    assert renderer.render("spaced", sample_context()).subject == "Hello Priya again"


def test_subject_that_renders_empty_is_an_error(write_email: WriteEmail) -> None:
    renderer = write_email("blank", subject="{% if false %}never{% endif %}\n")

    with pytest.raises(TemplateError, match="subject.txt renders to nothing"):
        renderer.render("blank", sample_context())


def test_names_lists_email_folders_but_not_layouts_or_partials(write_email: WriteEmail) -> None:
    write_email("welcome")
    renderer = write_email("another")
    (renderer.email_dir / "_drafts").mkdir()

    assert renderer.names() == ["another", "welcome"]
    assert renderer.exists("welcome")
    assert not renderer.exists("_drafts")
    assert not renderer.exists("_layout.html")
    assert not renderer.exists("../email")


def test_context_for_lead_carries_every_profile_field_and_the_full_name() -> None:
    context = context_for(first_name="Sam", last_name="Ortiz", company="Acme")

    assert set(context.lead) == set(LeadProfile.model_fields) | {"full_name"}
    assert context.lead["full_name"] == "Sam Ortiz"
    assert context.lead["industry"] is None
    assert context.sender["address"] == SenderIdentity().address
    assert context.event == {"type": None, "properties": {}}
    assert context.ctx == {}


def test_context_keeps_the_triggering_event_and_fills_missing_properties() -> None:
    profile = LeadProfile(id="lead-1", email="sam@acme.example")
    context = EmailContext.for_lead(
        profile, sender=SenderIdentity(), unsubscribe_url="https://x.example/u/t",
        event={"type": "case_study_viewed"}, ctx={"topic": "Forecasting"},
    )

    assert context.event == {"type": "case_study_viewed", "properties": {}}
    assert context.ctx == {"topic": "Forecasting"}


def test_phrasing_filters_make_lead_data_read_right_in_a_sentence(
    write_email: WriteEmail,
) -> None:
    renderer = write_email(
        "story",
        subject="{{ lead.industry | industry_name | sentence }}: "
                "{{ (lead.company_size ~ '-person team') | with_article }}",
        text="Teams in {{ lead.industry | industry_name }} via "
             "{{ lead.source | source_label }}.")

    rendered = renderer.render("story", context_for(first_name="Sam", industry="saas",
                                                    source="content_syndication"))
    sized = renderer.render("story", EmailContext.for_lead(
        LeadProfile(id="l", email="a@b.example", industry="ecommerce", company_size=800),
        sender=SenderIdentity(), unsubscribe_url="https://northwind.example/u/tok"))

    assert "Teams in SaaS via content syndication." in rendered.text
    assert sized.subject == "E-commerce: an 800-person team"
