"""Email engagement and unsubscribe: `/t/c/{token}` (click), `/t/o/{token}` (open) and
`/u/{token}` (unsubscribe page and RFC 8058 one-click).

Every token is signed; a tampered or unknown one gets 404 and records nothing. A click
goes only to a link that was in that email. Clicks no person could have made (too soon
after delivery, or several links of one email in the same instant: link scanners) are
recorded with `bot: true`, which scoring and triggers ignore.
"""

from __future__ import annotations

import asyncio
import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from engine.api.context import ApiContext
from engine.api.intake import Refused
from engine.events import EMAIL_CLICKED, EMAIL_OPENED, UNSUBSCRIBED
from engine.mail import read_click, read_open, verify_token
from engine.store import Inbound, InboundKind

router = APIRouter(tags=["email"])

SCANNER_BURST = timedelta(seconds=2)
_PIXEL = bytes.fromhex("47494638396101000100800000000000ffffff21f90401000000002c000000000100"
                       "01000002024401003b")
_NO_STORE = {"Cache-Control": "no-store, private", "Referrer-Policy": "no-referrer"}


def _event(lead_id: str, message_id: str, kind: str, properties: dict[str, Any]) -> Inbound:
    now = datetime.now(UTC)
    return Inbound(message_id=message_id, kind=InboundKind.EVENT, lead_id=lead_id, payload={
        "id": message_id, "type": kind, "at": now.isoformat(), "properties": properties})


def _short(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()[:24]


@router.get("/t/c/{token}", summary="Follow a tracked link", include_in_schema=False)
async def click(token: str, request: Request) -> Response:
    """Record the click and redirect to the link the email held."""
    ctx: ApiContext = request.app.state.nurture
    found = read_click(token, ctx.secret)
    send = await asyncio.to_thread(ctx.store.get_send, found[0]) if found else None
    if found is None or send is None or not 0 <= found[1] < len(send.links):
        raise Refused(404, "unknown link")
    key, index = found
    url = send.links[index]
    row = await asyncio.to_thread(
        ctx.store.record_click, key, index, now=datetime.now(UTC),
        scanner_after_send=timedelta(seconds=ctx.settings.scanner_click_seconds),
        burst=SCANNER_BURST)
    properties: dict[str, Any] = {"url": url, "template": send.template, "track": send.track,
                                  "subject": send.subject, "link": index}
    if row.scanner:
        properties["bot"] = True
    await ctx.accept([_event(send.lead_id, f"click-{_short(key)}-{row.id}", EMAIL_CLICKED,
                             properties)])
    return RedirectResponse(url, status_code=302, headers=_NO_STORE)


@router.get("/t/o/{token}", summary="Open pixel", include_in_schema=False)
async def opened(token: str, request: Request) -> Response:
    """Record the first open of an email; answer with a 1×1 transparent GIF."""
    ctx: ApiContext = request.app.state.nurture
    key = read_open(token, ctx.secret)
    send = await asyncio.to_thread(ctx.store.get_send, key) if key else None
    if key is None or send is None:
        raise Refused(404, "unknown email")
    await ctx.accept([_event(send.lead_id, f"open-{_short(key)}", EMAIL_OPENED,
                             {"template": send.template, "track": send.track})])
    return Response(_PIXEL, media_type="image/gif", headers=_NO_STORE)


async def _lead_email(ctx: ApiContext, token: str) -> tuple[str, str]:
    lead_id = verify_token(token, ctx.secret)
    profile = await asyncio.to_thread(ctx.store.get_lead, lead_id) if lead_id else None
    if lead_id is None or profile is None:
        raise Refused(404, "unknown unsubscribe link")
    return lead_id, profile.email


def _page(ctx: ApiContext, email: str, *, done: bool) -> HTMLResponse:
    page = ctx.renderer.environment.get_template("web/unsubscribe.html").render(
        email=email, company=ctx.settings.sender_company, done=done)
    return HTMLResponse(page, headers=_NO_STORE)


@router.get("/u/{token}", response_class=HTMLResponse, summary="Unsubscribe page")
async def unsubscribe_page(token: str, request: Request) -> HTMLResponse:
    """Ask before unsubscribing: link scanners follow GETs, so a GET changes nothing."""
    ctx: ApiContext = request.app.state.nurture
    _, email = await _lead_email(ctx, token)
    return _page(ctx, email, done=False)


@router.post("/u/{token}", summary="Unsubscribe (RFC 8058 one-click or the page's button)")
async def unsubscribe(token: str, request: Request) -> Response:
    """Suppress the address at once, then tell the lead's workflow."""
    ctx: ApiContext = request.app.state.nurture
    lead_id, email = await _lead_email(ctx, token)
    now = datetime.now(UTC)
    await asyncio.to_thread(ctx.store.suppress, email, lead_id=lead_id, reason="unsubscribed",
                            now=now)
    await ctx.accept([_event(lead_id, f"unsubscribe-{_short(lead_id)}", UNSUBSCRIBED,
                             {"via": "one-click"})])
    if "text/html" in request.headers.get("accept", ""):
        return _page(ctx, email, done=True)
    return Response("unsubscribed\n", media_type="text/plain", headers=_NO_STORE)
