"""Who is signed in to the inbox, and the cookies that say so.

The session cookie holds the sign-in token; it and the flash cookie are HttpOnly,
SameSite=Strict, scoped to `/inbox`, and Secure when the app is served over https. A form's
CSRF token is an HMAC of the session's token under the app secret; the flash (a one-line
confirmation for the next page) is signed under the same secret, so neither can be forged.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from typing import Any

from fastapi import Request, Response

from engine.api.context import ApiContext
from engine.client import Viewer

SESSION = "nurture_inbox"
FLASH = "nurture_flash"
SESSION_SECONDS = 12 * 3600


def csrf_token(secret: str, session: str) -> str:
    """The CSRF token of a session: an HMAC of its sign-in token under the app secret."""
    return hmac.new(secret.encode(), b"inbox-csrf\x00" + session.encode(),
                    hashlib.sha256).hexdigest()


def csrf_matches(ctx: ApiContext, session: str, form: dict[str, str]) -> bool:
    """Whether the form carries the session's CSRF token."""
    return _same(form.get("csrf", ""), csrf_token(ctx.secret, session))


async def signed_in(ctx: ApiContext, request: Request) -> tuple[Viewer, str] | None:
    """The viewer and their sign-in token, from the session cookie; None if not signed in."""
    token = request.cookies.get(SESSION)
    viewer = await ctx.desk.authenticate(token) if token else None
    return None if viewer is None or token is None else (viewer, token)


def chrome(ctx: ApiContext, viewer: Viewer, session: str) -> dict[str, Any]:
    """What every signed-in page shows: who is looking, and the CSRF token for its forms."""
    return {"viewer": viewer, "csrf": csrf_token(ctx.secret, session)}


def start_session(ctx: ApiContext, response: Response, token: str) -> None:
    """Keep the checked sign-in token in the session cookie."""
    response.set_cookie(SESSION, token, max_age=SESSION_SECONDS, **_cookie(ctx))


def end_session(ctx: ApiContext, response: Response) -> None:
    """Drop the session cookie."""
    response.delete_cookie(SESSION, **_cookie(ctx))


def set_flash(ctx: ApiContext, response: Response, text: str) -> None:
    """Carry a confirmation to the next page, signed, for a minute at most."""
    data = base64.urlsafe_b64encode(json.dumps(text).encode())
    response.set_cookie(FLASH, f"{data.decode()}.{_sign(ctx, data)}", max_age=60,
                        **_cookie(ctx))


def read_flash(ctx: ApiContext, request: Request) -> str | None:
    """The confirmation the previous answer left; None if there is none or it is forged."""
    data, _, mac = request.cookies.get(FLASH, "").partition(".")
    if not data or not _same(mac, _sign(ctx, data.encode())):
        return None
    try:
        text = json.loads(base64.urlsafe_b64decode(data.encode()))
    except (binascii.Error, ValueError):
        return None
    return text if isinstance(text, str) else None


def clear_flash(ctx: ApiContext, response: Response) -> None:
    """Drop the flash once a page has shown it."""
    response.delete_cookie(FLASH, **_cookie(ctx))


def _cookie(ctx: ApiContext) -> dict[str, Any]:
    """Where and how the inbox's cookies are kept."""
    return {"path": "/inbox", "httponly": True, "samesite": "strict",
            "secure": ctx.settings.base_url.lower().startswith("https://")}


def _sign(ctx: ApiContext, data: bytes) -> str:
    return hmac.new(ctx.secret.encode(), b"inbox-flash\x00" + data, hashlib.sha256).hexdigest()


def _same(sent: str, expected: str) -> bool:
    """Constant-time comparison that also takes whatever a browser sent (any characters)."""
    return hmac.compare_digest(sent.encode(), expected.encode())
