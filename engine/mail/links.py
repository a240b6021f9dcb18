"""Click and open tracking: every link in an email's HTML goes through `/t/c/{token}`, and
an invisible pixel `/t/o/{token}` reports the open.

A click token names the send and the link's position, never the URL itself, so the
redirect can only lead to a link that was in that email (no open redirect). Tokens are
signed; a tampered one verifies as nothing.
"""

from __future__ import annotations

import html
import json
import re

from pydantic import BaseModel

from engine.mail.render import RenderedEmail
from engine.mail.tokens import sign_token, verify_token

CLICK, OPEN = "click", "open"
_HREF = re.compile(r'href="(https?://[^"]+)"', re.IGNORECASE)


class TrackedEmail(BaseModel):
    """The email with tracked links, and the original links in their order."""

    email: RenderedEmail
    links: list[str]


def track_links(rendered: RenderedEmail, *, send_key: str, base_url: str, secret: str,
                skip: tuple[str, ...] = ()) -> TrackedEmail:
    """Route the HTML part's web links through click tracking and add an open pixel.

    Links starting with anything in `skip` (the unsubscribe link) stay direct; the text
    part is left as it is.
    """
    base = base_url.rstrip("/")
    links: list[str] = []

    def rewrite(match: re.Match[str]) -> str:
        url = html.unescape(match.group(1))
        if url.startswith(skip):
            return match.group(0)
        if url not in links:
            links.append(url)
        token = sign_token(json.dumps([send_key, links.index(url)]), secret, purpose=CLICK)
        return f'href="{base}/t/c/{token}"'

    body = _HREF.sub(rewrite, rendered.html)
    pixel = (f'<img src="{base}/t/o/{sign_token(send_key, secret, purpose=OPEN)}" width="1" '
             'height="1" alt="" style="display:block;border:0;width:1px;height:1px;">')
    body = body.replace("</body>", pixel + "</body>", 1) if "</body>" in body else body + pixel
    return TrackedEmail(email=rendered.model_copy(update={"html": body}), links=links)


def read_click(token: str, secret: str) -> tuple[str, int] | None:
    """The send key and link index a click token names, or None if it is not genuine."""
    value = verify_token(token, secret, purpose=CLICK)
    if value is None:
        return None
    try:
        key, index = json.loads(value)
    except (ValueError, TypeError):
        return None
    if not isinstance(key, str) or not isinstance(index, int) or isinstance(index, bool):
        return None
    return key, index


def read_open(token: str, secret: str) -> str | None:
    """The send key an open token names, or None if it is not genuine."""
    return verify_token(token, secret, purpose=OPEN)
