"""The sales inbox: server-rendered pages where reps read escalated leads and answer them."""

from engine.api.inbox.routes import csrf_token, router, task_url

__all__ = ["csrf_token", "router", "task_url"]
