"""`engine.mail` is used through its front door: the exported names are pinned."""

from __future__ import annotations

import inspect

import engine.mail


def test_front_door_exports_exactly_the_public_api() -> None:
    assert sorted(engine.mail.__all__) == [
        "EmailContext",
        "Handover",
        "MAIL_POLICY",
        "MailTransport",
        "MemoryTransport",
        "RenderedEmail",
        "SMTPTransport",
        "SenderIdentity",
        "TemplateRenderer",
        "TrackedEmail",
        "compose",
        "make_message_id",
        "read_click",
        "read_open",
        "sample_context",
        "sign_token",
        "smtp_delivery_error",
        "track_links",
        "unsubscribe_url",
        "verify_token",
    ]


def test_every_exported_class_and_function_has_a_docstring() -> None:
    for name in engine.mail.__all__:
        value = getattr(engine.mail, name)
        if inspect.isclass(value) or inspect.isfunction(value):
            assert inspect.getdoc(value), name
