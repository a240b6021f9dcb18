"""The lead's activities: registering it, its email, its suppression and its position.

They are methods of one class built with its dependencies (store, renderer, transport),
so tests hand in an in-memory transport and a temporary database.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

from temporalio import activity

from engine.dsl import library
from engine.errors import (
    DeliveryError,
    NurtureError,
    OutcomeUnknownError,
    PermanentDeliveryError,
    TemplateError,
)
from engine.leads import PERSONAL_DOMAINS
from engine.mail import (
    EmailContext,
    MailTransport,
    SenderIdentity,
    TemplateRenderer,
    compose,
    make_message_id,
    sign_token,
    track_links,
)
from engine.runtime.delivery import deliver_once, fail_unsendable
from engine.runtime.models import (
    Done,
    JournalInput,
    KeepPlaybookInput,
    PositionInput,
    RegisterLeadInput,
    RegisterLeadResult,
    SendEmailInput,
    SendEmailResult,
    SuppressInput,
)
from engine.runtime.transient import retry_later
from engine.store import SendClaim, Store

T = TypeVar("T")

class NurtureActivities:
    """The lead workflow's side effects, built with what they need."""

    def __init__(self, *, store: Store, renderer: TemplateRenderer, transport: MailTransport,
                 sender: SenderIdentity, base_url: str, secret: str) -> None:
        self.store, self.renderer, self.transport = store, renderer, transport
        self.sender, self.base_url, self.secret = sender, base_url.rstrip("/"), secret

    @staticmethod
    async def _db(work: Callable[[], T]) -> T:
        return await asyncio.to_thread(work)

    @activity.defn(name="register_lead")
    async def register_lead(self, input: RegisterLeadInput) -> RegisterLeadResult:
        """Save the profile; return colleagues at the same company and any suppression."""
        lead = input.lead

        def work() -> RegisterLeadResult:
            domain = (lead.company_domain or lead.email_domain).lower()
            colleagues, reason = self.store.register_lead(
                lead, now=input.now, colleagues_at=None if domain in PERSONAL_DOMAINS
                else domain)
            return RegisterLeadResult(colleagues=colleagues, suppressed_reason=reason)

        return await self._db(work)

    def unsubscribe_links(self, lead_id: str) -> tuple[str, str]:
        """The one-click HTTPS link and the mailto fallback for a lead."""
        token = sign_token(lead_id, self.secret)
        domain = self.sender.email.rpartition("@")[2]
        return (f"{self.base_url}/u/{token}",
                f"mailto:unsubscribe@{domain}?subject=unsubscribe%20{token}")

    @activity.defn(name="send_email")
    async def send_email(self, input: SendEmailInput) -> SendEmailResult:
        """Deliver one email at most once: recorded before SMTP, suppression checked last."""
        lead = input.lead
        reason = await self._db(lambda: self.store.suppression(lead.email))
        if reason is not None:
            return SendEmailResult(status="suppressed", detail=reason)
        url, mailto = self.unsubscribe_links(lead.id)
        context = EmailContext.for_lead(lead, sender=self.sender, unsubscribe_url=url,
                                        ctx=input.ctx, event=input.event or None)
        try:
            rendered = self.renderer.render(input.template, context)
        except TemplateError as err:
            activity.logger.error("template %s failed: %s", input.template, err)
            return SendEmailResult(status="failed", detail=str(err))
        tracked = track_links(rendered, send_key=input.key, base_url=self.base_url,
                              secret=self.secret, skip=(url,))
        rendered = tracked.email
        message_id = make_message_id(input.key, self.sender.email.rpartition("@")[2])

        def claim(kept: bytes | None) -> SendClaim:
            return self.store.begin_send(
                key=input.key, lead_id=lead.id, to_address=lead.email,
                template=input.template, track=input.track, step=input.step,
                subject=rendered.subject, message_id=message_id, now=input.now,
                links=tracked.links, message=kept)

        try:
            message = compose(rendered, to=lead.email, sender=self.sender,
                              message_id=message_id, unsubscribe_url=url,
                              unsubscribe_mailto=mailto)
        except NurtureError as err:  # a bad address or setting: retrying cannot help
            await fail_unsendable(self.store, key=input.key, when=self._when(),
                                  error=str(err), claim=claim)
            return SendEmailResult(status="failed", subject=rendered.subject, detail=str(err))
        try:
            outcome = await deliver_once(self.store, self.transport, message, key=input.key,
                                         when=self._when(), claim=claim)
        except OutcomeUnknownError as err:
            return SendEmailResult(status="unknown", subject=rendered.subject, detail=str(err))
        except PermanentDeliveryError as err:
            if err.suppress:
                bounce = f"hard bounce: {err}"
                await self._db(lambda: self.store.suppress(
                    lead.email, lead_id=lead.id, reason=bounce, now=input.now))
                return SendEmailResult(status="bounced", detail=bounce)
            return SendEmailResult(status="failed", subject=rendered.subject, detail=str(err))
        except DeliveryError as err:
            raise retry_later(err, f"email {input.key!r}") from None
        if outcome == "done":
            return SendEmailResult(status="already_sent", subject=rendered.subject,
                                   message_id=message_id)
        if outcome == "unknown":
            return SendEmailResult(status="unknown", subject=rendered.subject,
                                   detail="an earlier attempt stopped mid-send; not resent")
        return SendEmailResult(status="sent", subject=rendered.subject, message_id=message_id)

    @staticmethod
    def _when() -> datetime:
        """When this attempt was scheduled: the time its outcome is recorded at."""
        return activity.info().current_attempt_scheduled_time

    @activity.defn(name="suppress")
    async def suppress(self, input: SuppressInput) -> Done:
        """Suppress the lead's address for good."""
        changed = await self._db(lambda: self.store.suppress(
            input.lead.email, lead_id=input.lead.id, reason=input.reason, now=input.now))
        return Done(changed=changed)

    @activity.defn(name="record_position")
    async def record_position(self, input: PositionInput) -> Done:
        """Keep the lead row's phase, track, step and playbook version current."""
        await self._db(lambda: self.store.set_lead_position(
            input.lead_id, phase=input.phase, track=input.track, now=input.now,
            step=input.step, playbook_version=input.playbook_version))
        if input.journal is not None:
            await self.record_journal(input.journal)
        return Done()

    @activity.defn(name="keep_playbook")
    async def keep_playbook(self, input: KeepPlaybookInput) -> Done:
        """Store a playbook version (once) and know it in this process."""
        stored = await self._db(lambda: self.store.save_playbook(input.playbook, now=input.now))
        library.remember(input.playbook)
        return Done(changed=stored)

    @activity.defn(name="record_journal")
    async def record_journal(self, input: JournalInput) -> Done:
        """Write timeline lines to the store (a line written before stays as it was)."""
        lines = [line.model_dump() for line in input.lines]
        added = await self._db(lambda: self.store.write_journal(input.lead_id,
                                                                input.enrolled_at, lines))
        return Done(changed=added > 0)

    def all(self) -> list[Callable[..., Any]]:
        """Every activity, for a worker."""
        return [self.register_lead, self.send_email, self.suppress, self.record_position,
                self.record_journal, self.keep_playbook]
