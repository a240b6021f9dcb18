"""Wiring: build the activities and the Temporal worker from settings."""

from __future__ import annotations

import gc
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from temporalio.client import Client
from temporalio.worker import PollerBehaviorSimpleMaximum, Worker

from engine.mail import MailTransport, SenderIdentity, SMTPTransport, TemplateRenderer
from engine.runtime import LeadWorkflow, NurtureActivities
from engine.runtime.heartbeat import Heartbeating
from engine.runtime.notices import NoticeActivities
from engine.runtime.sales_tasks import SalesTaskActivities
from engine.runtime.sales_webhook import WORKFLOWS as NOTICE_WORKFLOWS
from engine.runtime.sandbox import lead_workflow_runner
from engine.settings import Settings
from engine.store import Store
from worker.playbooks import learn_stored


def sender_from(settings: Settings) -> SenderIdentity:
    """The sender identity every email carries."""
    return SenderIdentity(
        name=settings.sender_name, title=settings.sender_title,
        company=settings.sender_company, product=settings.sender_product,
        email=settings.sender_email, website=settings.sender_website,
        address=settings.sender_address)


def sales_ops_from(settings: Settings) -> SenderIdentity:
    """Who notices to sales reps come from: sales ops, at the company's address."""
    return sender_from(settings).model_copy(update={
        "name": settings.sales_ops_name, "title": "Sales Operations",
        "email": settings.sales_ops_email})


def smtp_from(settings: Settings) -> SMTPTransport:
    """The SMTP transport the settings describe."""
    if not settings.smtp_host:
        from engine.errors import ConfigError

        raise ConfigError("NURTURE_SMTP_HOST is not set: the worker needs an SMTP server")
    return SMTPTransport(
        settings.smtp_host, settings.smtp_port, username=settings.smtp_username,
        password=settings.smtp_password.get_secret_value() if settings.smtp_password else None,
        use_tls=settings.smtp_tls, start_tls=settings.smtp_starttls)


@dataclass
class WorkerActivities:
    """Every activity a worker runs: the lead's (mail, store), its sales tasks' and the
    sales notices."""

    nurture: NurtureActivities
    sales: SalesTaskActivities
    notices: NoticeActivities

    def all(self) -> list[Callable[..., Any]]:
        """The activity functions, for a Worker."""
        return [*self.nurture.all(), *self.sales.all(), *self.notices.all()]


def build_activities(settings: Settings, store: Store, transport: MailTransport
                     ) -> WorkerActivities:
    """The activity objects with their dependencies."""
    renderer = TemplateRenderer(settings.templates_dir)
    secret = settings.secret.get_secret_value()
    webhook_secret = settings.webhook_secret.get_secret_value() if settings.webhook_secret \
        else secret
    return WorkerActivities(
        nurture=NurtureActivities(store=store, renderer=renderer, transport=transport,
                                  sender=sender_from(settings), base_url=settings.base_url,
                                  secret=secret),
        sales=SalesTaskActivities(store=store),
        notices=NoticeActivities(store=store, renderer=renderer, transport=transport,
                                 sender=sales_ops_from(settings), base_url=settings.base_url,
                                 webhook_url=settings.webhook_url,
                                 webhook_secret=webhook_secret))


WORKFLOWS: list[type] = [LeadWorkflow, *NOTICE_WORKFLOWS]
"""Every workflow a worker runs (and the replay corpus replays)."""


def worker_options(settings: Settings) -> dict[str, Any]:
    """The Worker arguments the settings' `NURTURE_WORKER_*` tuning names."""
    return {
        "max_cached_workflows": settings.worker_max_cached_workflows,
        "max_concurrent_workflow_tasks": settings.worker_max_concurrent_workflow_tasks,
        "max_concurrent_activities": settings.worker_max_concurrent_activities,
        "workflow_task_poller_behavior": PollerBehaviorSimpleMaximum(
            settings.worker_workflow_pollers),
        "nonsticky_to_sticky_poll_ratio": settings.worker_nonsticky_poll_ratio,
        "activity_task_poller_behavior": PollerBehaviorSimpleMaximum(
            settings.worker_activity_pollers),
        "sticky_queue_schedule_to_start_timeout": timedelta(
            seconds=settings.worker_sticky_timeout),
    }


def tune_garbage_collector(settings: Settings) -> None:
    """Collect less often in a worker process, once its start-up is done.

    A worker holds its cached leads' state (hundreds of thousands of objects) and every
    workflow task allocates thousands more: with Python's defaults the young generations are
    collected every 700 allocations and the whole heap every few hundred tasks, which cost
    more CPU than decoding the tasks. Objects from start-up (modules, the playbook) are
    frozen out of every collection; a full collection still runs once the survivors since
    the last one grow by a quarter, so memory stays bounded.
    """
    if settings.worker_gc_threshold:
        gc.freeze()
        gc.set_threshold(settings.worker_gc_threshold, 10, 10)


def build_worker(client: Client, activities: WorkerActivities, task_queue: str, *,
                 settings: Settings | None = None, build_id: str | None = None) -> Worker:
    """A worker for lead workflows, sales webhooks and their activities, tuned as the
    settings say (the defaults when none are given); it knows every playbook version its
    database keeps (`worker.playbooks`). Without `build_id`, Temporal hashes the code of
    every loaded module (a short-lived process names one instead)."""
    learn_stored(activities.nurture.store)
    settings = settings or Settings()
    return Worker(client, task_queue=task_queue, workflows=WORKFLOWS,
                  activities=activities.all(), interceptors=[Heartbeating()],
                  workflow_runner=lead_workflow_runner(sandboxed=settings.worker_workflow_sandbox),
                  build_id=build_id, **worker_options(settings))
