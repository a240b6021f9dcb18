"""Sales notifications: an email to the task's owner and, optionally, a signed webhook.

`notify_owner` sends each notice of a task once (claimed in the email-send ledger under
`<task_id>:notice:<n>`), whatever the retries. When a webhook URL is configured it also
starts a `SalesWebhook` workflow with a deterministic id, so a retried notice never posts
twice and the lead's workflow never waits on the receiver; that workflow retries the POST
with backoff for up to a day.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from temporalio import activity, workflow
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

# The workflow below runs in Temporal's sandbox, which re-imports this module per run:
# everything it does not execute is shared with the worker instead of re-imported.
with workflow.unsafe.imports_passed_through():
    import email.policy

    import jinja2

    from engine.errors import (
        ConfigError,
        DeliveryError,
        NurtureError,
        PermanentDeliveryError,
        TemplateError,
    )
    from engine.mail.context import SenderIdentity
    from engine.mail.message import MAIL_POLICY, make_message_id
    from engine.mail.render import RenderedEmail, TemplateRenderer
    from engine.mail.transport import MailTransport
    from engine.mail.webhook import deliver_webhook
    from engine.runtime.delivery import deliver_once, fail_unsendable
    from engine.runtime.models import Done, TaskNoticeInput
    from engine.runtime.sales_webhook import (
        SalesWebhookWorkflow,
        WebhookInput,
        webhook_workflow_id,
    )
    from engine.runtime.transient import retry_later
    from engine.store import SendClaim, Store

if TYPE_CHECKING:
    import httpx

T = TypeVar("T")

NOTICE_FOLDER = "sales/notice"
"""Where the notice templates live: `subject.txt`, `body.txt`, `body.html`."""

NOTICE_TEMPLATE = "sales_notice"
"""The template name notices carry in the email-send ledger."""

def notice_key(task_id: str, notice: int) -> str:
    """The idempotency key of a task's `notice`-th notice (ledger key and delivery id)."""
    return f"{task_id}:notice:{notice}"


def owner_zone(name: str | None) -> ZoneInfo:
    """The owner's time zone, or UTC when it is unset or unknown."""
    try:
        return ZoneInfo(name) if name else ZoneInfo("UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def due_labels(due_at: datetime, now: datetime, zone: ZoneInfo) -> dict[str, str]:
    """The due time as the owner reads it: `short` ("14:30 EST", with the day when it is
    not today), `full` ("Tue 3 Jun 2025, 14:30 EST") and the `zone` name."""
    local, today = due_at.astimezone(zone), now.astimezone(zone)
    clock = f"{local:%H:%M} {local.tzname() or zone.key}"
    day = f"{local:%a} {local.day} {local:%b}"
    short = clock if local.date() == today.date() else f"{day}, {clock}"
    return {"short": short, "full": f"{day} {local:%Y}, {clock}", "zone": zone.key}


class NoticeActivities:
    """Tells reps about their sales tasks by email, and receivers by webhook."""

    def __init__(
        self,
        *,
        store: Store,
        renderer: TemplateRenderer,
        transport: MailTransport,
        sender: SenderIdentity,
        base_url: str,
        webhook_url: str | None,
        webhook_secret: str,
        http: httpx.AsyncClient | None = None,
    ) -> None:
        self.store, self.renderer, self.transport = store, renderer, transport
        self.sender, self.base_url = sender, base_url.rstrip("/")
        self.webhook_url, self.webhook_secret = webhook_url or None, webhook_secret
        self._http, self._own_http = http, http is None

    @staticmethod
    async def _db(work: Callable[[], T]) -> T:
        return await asyncio.to_thread(work)

    def inbox_url(self, task_id: str) -> str:
        """The task's page in the sales inbox."""
        return f"{self.base_url}/inbox/tasks/{quote(task_id, safe='')}"

    def render_notice(self, input: TaskNoticeInput) -> RenderedEmail:
        """Subject, text and HTML of the notice; lead values are escaped in the HTML."""
        lead = input.lead.model_dump()
        lead["full_name"] = input.lead.full_name
        variables: dict[str, Any] = {
            "kind": input.kind,
            "tier": input.tier,
            "task_id": input.task_id,
            "inbox_url": self.inbox_url(input.task_id),
            "lead": lead,
            "owner": input.owner.model_dump(),
            "handoff": input.handoff.model_dump(),
            "due": due_labels(input.due_at, input.now, owner_zone(input.owner.timezone)),
            "overdue": input.due_at <= input.now,
            "sender": self.sender.model_dump(),
        }
        subject, text, html = (self._render(part, variables)
                               for part in ("subject.txt", "body.txt", "body.html"))
        subject = " ".join(subject.split())
        if not subject:
            raise TemplateError(f"{NOTICE_FOLDER}/subject.txt renders to nothing")
        return RenderedEmail(subject=subject, text=text.strip() + "\n", html=html)

    def _render(self, part: str, variables: dict[str, Any]) -> str:
        path = f"{NOTICE_FOLDER}/{part}"
        try:
            return self.renderer.environment.get_template(path).render(variables)
        except jinja2.TemplateNotFound as exc:
            raise TemplateError(f"sales notice template {path} is missing "
                                f"(looked in {self.renderer.templates_dir})") from exc
        except jinja2.TemplateError as exc:
            raise TemplateError(f"sales notice template {path}: {exc}") from exc

    def payload(self, input: TaskNoticeInput) -> dict[str, Any]:
        """The webhook's JSON body for a notice."""
        lead = input.lead
        return {
            "event": f"sales_task.{input.kind}",
            "delivery_id": notice_key(input.task_id, input.notice),
            "task_id": input.task_id,
            "lead": {"id": lead.id, "email": lead.email, "name": lead.full_name,
                     "title": lead.title, "company": lead.company},
            "owner": input.owner.model_dump(mode="json"),
            "tier": input.tier,
            "due_at": input.due_at.isoformat(),
            "handoff": input.handoff.model_dump(mode="json"),
            "inbox_url": self.inbox_url(input.task_id),
            "sent_at": input.now.isoformat(),
        }

    @activity.defn(name="notify_owner")
    async def notify_owner(self, input: TaskNoticeInput) -> Done:
        """Email the owner about the task once, and start the webhook once if configured."""
        if self.webhook_url:
            await self._start_webhook(self.webhook_url, input)
        try:
            rendered = self.render_notice(input)
        except TemplateError as err:  # a template bug: retrying cannot fix it
            activity.logger.error("sales notice for task %s not sent: %s", input.task_id, err)
            return Done(changed=False)
        key = notice_key(input.task_id, input.notice)
        message_id = make_message_id(key, self.sender.email.rpartition("@")[2])

        def claim(kept: bytes | None) -> SendClaim:
            return self.store.begin_send(
                key=key, lead_id=input.lead.id, to_address=input.owner.email,
                template=NOTICE_TEMPLATE, track="sales", step=input.kind,
                subject=rendered.subject, message_id=message_id, now=input.now, message=kept)

        when = activity.info().current_attempt_scheduled_time
        try:
            message = notice_message(rendered, to=input.owner.email, sender=self.sender,
                                     message_id=message_id, date=input.now)
        except NurtureError as err:  # a bad address or setting: retrying cannot help
            activity.logger.error("sales notice %s not sent: %s", key, err)
            await fail_unsendable(self.store, key=key, when=when, error=str(err), claim=claim)
            return Done(changed=False)
        try:
            outcome = await deliver_once(self.store, self.transport, message, key=key,
                                         when=when, claim=claim)
        except PermanentDeliveryError as err:  # an unknown outcome too: never resent
            activity.logger.error("sales notice %s to %s failed: %s", key, input.owner.email,
                                  err)
            return Done(changed=False)
        except DeliveryError as err:
            raise retry_later(err, f"sales notice {key!r}") from None
        # "done": already sent; "unknown": an earlier attempt died mid-send
        return Done(changed=outcome == "sent")

    async def _start_webhook(self, url: str, input: TaskNoticeInput) -> None:
        body = json.dumps(self.payload(input), separators=(",", ":"))
        arg = WebhookInput(url=url, body=body, event=f"sales_task.{input.kind}",
                           delivery_id=notice_key(input.task_id, input.notice))
        try:
            await activity.client().start_workflow(
                SalesWebhookWorkflow.run, arg,
                id=webhook_workflow_id(input.task_id, input.notice),
                task_queue=activity.info().task_queue,
                # A finished delivery keeps its id: starting it again must not post again.
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE)
        except WorkflowAlreadyStartedError:
            pass  # started by an earlier attempt of this activity

    @activity.defn(name="post_webhook")
    async def post_webhook(self, input: WebhookInput) -> Done:
        """POST one signed webhook; `DeliveryError` retries, `PermanentDeliveryError` ends."""
        if self._http is None:
            import httpx  # here, not above: a worker that never posts a webhook never loads it

            self._http = httpx.AsyncClient(timeout=httpx.Timeout(10.0))
        try:
            await deliver_webhook(self._http, input.url, body=input.body.encode("utf-8"),
                                  secret=self.webhook_secret, event=input.event,
                                  delivery_id=input.delivery_id, now=int(time.time()))
        except PermanentDeliveryError:
            raise
        except DeliveryError as err:
            raise retry_later(err, f"webhook {input.delivery_id!r}") from None
        return Done()

    async def close(self) -> None:
        """Close the HTTP client this object opened itself (one handed in stays open)."""
        if self._own_http and self._http is not None:
            client, self._http = self._http, None
            await client.aclose()

    def all(self) -> list[Callable[..., Any]]:
        """Every activity, for a worker."""
        return [self.notify_owner, self.post_webhook]


def notice_message(rendered: RenderedEmail, *, to: str, sender: SenderIdentity,
                   message_id: str, date: datetime | None = None) -> EmailMessage:
    """A plain multipart/alternative message to a rep: no unsubscribe headers, it is not
    marketing mail. A bad owner address raises `PermanentDeliveryError`, a bad sender
    `ConfigError`."""
    message = EmailMessage(policy=email.policy.default)
    try:
        message["To"] = Address(addr_spec=to.strip())
    except (ValueError, IndexError) as exc:
        raise PermanentDeliveryError(f"owner address {to!r} is not valid: {exc}") from exc
    try:
        message["From"] = Address(display_name=sender.name, addr_spec=sender.email)
    except (ValueError, IndexError) as exc:
        raise ConfigError(f"sender email {sender.email!r} is not a valid address") from exc
    message["Subject"] = rendered.subject
    message["Date"] = format_datetime(date or datetime.now(UTC))
    message["Message-ID"] = message_id
    message.set_content(rendered.text, subtype="plain", cte="quoted-printable")
    message.add_alternative(rendered.html, subtype="html", cte="quoted-printable")
    message.policy = MAIL_POLICY
    return message
