"""The sales inbox: server-rendered pages where reps read escalated leads and answer them.

`/inbox/login` takes a sign-in token (from `nurture tasks token USER`) and keeps it in an
HttpOnly, SameSite=Strict cookie scoped to `/inbox`. Every form carries a CSRF token (an
HMAC of the session token under the app secret); a POST without it changes nothing. Pages
render through the shared autoescaping Jinja environment, so whatever a lead typed into a
form shows as text, never as markup, and the Content-Security-Policy allows no script.

The routes live in `routes`, the session and its cookies in `session`, and what each page
shows in `views`.
"""

from engine.api.inbox.routes import router
from engine.api.inbox.session import csrf_token
from engine.api.inbox.views import task_url

__all__ = ["csrf_token", "router", "task_url"]
