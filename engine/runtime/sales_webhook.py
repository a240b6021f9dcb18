"""The `SalesWebhook` workflow: one signed POST of a sales-task notice, retried with
backoff for up to a day, so the lead's workflow never waits on the receiver."""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel
from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from engine.errors import PermanentDeliveryError
    from engine.runtime.models import Done

WEBHOOK_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=10),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=30),
    non_retryable_error_types=[PermanentDeliveryError.__name__],
)
"""How a webhook POST is retried: 10 s, 20 s, 40 s … then every 30 minutes."""

WEBHOOK_DEADLINE = timedelta(hours=24)
"""How long a webhook keeps being retried before it is given up."""

WEBHOOK_ATTEMPT_TIMEOUT = timedelta(seconds=30)
"""How long one POST may take."""


class WebhookInput(BaseModel):
    """One webhook delivery: where to, the JSON body as sent, its event and delivery id."""

    url: str
    body: str
    event: str
    delivery_id: str


def webhook_workflow_id(task_id: str, notice: int) -> str:
    """The `SalesWebhook` workflow id of a notice: starting it twice is harmless."""
    return f"webhook:{task_id}:{notice}"


@workflow.defn(name="SalesWebhook")
class SalesWebhookWorkflow:
    """Delivers one webhook, retrying with backoff for a day; the lead never waits on it."""

    @workflow.run
    async def run(self, input: WebhookInput) -> Done:
        """POST the webhook through the `post_webhook` activity."""
        return await workflow.execute_activity(
            "post_webhook", input, result_type=Done, retry_policy=WEBHOOK_RETRY,
            schedule_to_close_timeout=WEBHOOK_DEADLINE,
            start_to_close_timeout=WEBHOOK_ATTEMPT_TIMEOUT)


WORKFLOWS = [SalesWebhookWorkflow]
"""The workflows this module defines, for a worker."""
