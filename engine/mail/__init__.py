"""Email: render templates, compose messages with unsubscribe headers, deliver over SMTP.

    renderer = TemplateRenderer(Path("templates"))
    rendered = renderer.render("welcome_confirmation", EmailContext.for_lead(
        profile, sender=SenderIdentity(), unsubscribe_url=url))
    message = compose(rendered, to=profile.email, sender=SenderIdentity(),
                      message_id=make_message_id(send_key, "northwind.example"),
                      unsubscribe_url=url, unsubscribe_mailto="unsubscribe@northwind.example")
    await transport.send(message)
"""

from engine.mail.context import EmailContext, SenderIdentity, sample_context
from engine.mail.links import TrackedEmail, read_click, read_open, track_links
from engine.mail.message import MAIL_POLICY, compose, make_message_id
from engine.mail.render import RenderedEmail, TemplateRenderer
from engine.mail.tokens import sign_token, unsubscribe_url, verify_token
from engine.mail.transport import (
    Handover,
    MailTransport,
    MemoryTransport,
    SMTPTransport,
    smtp_delivery_error,
)

__all__ = [
    "MAIL_POLICY",
    "EmailContext",
    "Handover",
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
