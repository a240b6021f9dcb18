"""The sales inbox: server-rendered pages where reps read escalated leads and answer them.

`/inbox/login` takes a sign-in token (from `nurture tasks token USER`) and keeps it in an
HttpOnly, SameSite=Strict cookie scoped to `/inbox`. Every form carries a CSRF token (an
HMAC of the session token under the app secret); a POST without it changes nothing. Pages
render through the shared autoescaping Jinja environment, so whatever a lead typed into a
form shows as text, never as markup, and the Content-Security-Policy allows no script.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, quote, urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from engine.api.context import ApiContext
from engine.client import (
    STATUSES,
    DeskError,
    InvalidFeedback,
    TaskDetail,
    TaskNotFound,
    Viewer,
    closed_message,
    display_name,
    outcome_message,
    reject_reason,
    task_sla,
)
from engine.dsl.spec import PlaybookSpec
from engine.feedback import Feedback, RejectReason

router = APIRouter(prefix="/inbox", include_in_schema=False)

SESSION = "nurture_inbox"
FLASH = "nurture_flash"
SESSION_SECONDS = 12 * 3600
MAX_FORM_BYTES = 16 * 1024
PAGE_SIZE = 50
HEADERS = {
    "Content-Security-Policy": "default-src 'self'; style-src 'self'; img-src 'self'; "
                               "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
    "Referrer-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
}
ACTIONS = ("accept", "reject", "recycle")
_HANDOFF = [("source", "Source"), ("campaign", "Campaign"),
            ("last_meaningful_action", "Last meaningful action"),
            ("content_engaged", "Content engaged"), ("likely_pain", "Likely pain"),
            ("buying_role", "Buying role"), ("company_fit", "Company fit"),
            ("engagement_pattern", "Engagement pattern"),
            ("escalation_reason", "Why it was escalated")]


def _ctx(request: Request) -> ApiContext:
    return request.app.state.nurture  # type: ignore[no-any-return]


def csrf_token(secret: str, session: str) -> str:
    """The CSRF token of a session: an HMAC of its sign-in token under the app secret."""
    return hmac.new(secret.encode(), b"inbox-csrf\x00" + session.encode(),
                    hashlib.sha256).hexdigest()


def task_url(task_id: str) -> str:
    """Where the inbox shows a task (the id's colons stay readable)."""
    return "/inbox/tasks/" + quote(task_id, safe=":@")


def _page(ctx: ApiContext, template: str, code: int = 200, **values: Any) -> HTMLResponse:
    html = ctx.renderer.environment.get_template(f"web/inbox/{template}").render(
        company=ctx.settings.sender_company, **values)
    return HTMLResponse(html, status_code=code, headers=HEADERS)


def _redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303, headers=HEADERS)


async def _session(request: Request) -> tuple[Viewer, str] | None:
    token = request.cookies.get(SESSION)
    viewer = await _ctx(request).desk.authenticate(token) if token else None
    return None if viewer is None or token is None else (viewer, token)


async def _form(request: Request) -> dict[str, str]:
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        raise InvalidFeedback("the form is too large")
    fields = parse_qs(body.decode("utf-8", errors="replace"), keep_blank_values=True)
    return {key: values[0] for key, values in fields.items()}


def _chrome(ctx: ApiContext, viewer: Viewer, session: str) -> dict[str, Any]:
    """What every signed-in page shows: who is looking, and the CSRF token for its forms."""
    return {"viewer": viewer, "csrf": csrf_token(ctx.secret, session)}


def _sign(ctx: ApiContext, data: bytes) -> str:
    return hmac.new(ctx.secret.encode(), b"inbox-flash\x00" + data, hashlib.sha256).hexdigest()


def _flash_cookie(ctx: ApiContext, response: Response, text: str) -> None:
    data = base64.urlsafe_b64encode(json.dumps(text).encode())
    response.set_cookie(FLASH, f"{data.decode()}.{_sign(ctx, data)}", max_age=60,
                        path="/inbox", httponly=True, samesite="strict",
                        secure=_secure(ctx))


def _read_flash(ctx: ApiContext, request: Request) -> str | None:
    data, _, mac = request.cookies.get(FLASH, "").partition(".")
    if not data or not _same(mac, _sign(ctx, data.encode())):
        return None
    try:
        text = json.loads(base64.urlsafe_b64decode(data.encode()))
    except (binascii.Error, ValueError):
        return None
    return text if isinstance(text, str) else None


def _same(sent: str, expected: str) -> bool:
    """Constant-time comparison that also takes whatever a browser sent (any characters)."""
    return hmac.compare_digest(sent.encode(), expected.encode())


def _secure(ctx: ApiContext) -> bool:
    return ctx.settings.base_url.lower().startswith("https://")


def _when(moment: datetime | None, zone: str) -> str:
    return moment.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M %Z") if moment else ""


_ASSETS = {"inbox.css": "text/css", "favicon.svg": "image/svg+xml"}


@router.get("/assets/{name}")
async def asset(request: Request, name: str) -> Response:
    """The inbox's stylesheet and icon (files, so the CSP needs no inline styles)."""
    if name not in _ASSETS:
        return Response("not found\n", status_code=404, media_type="text/plain")
    path = _ctx(request).renderer.templates_dir / "web" / "inbox" / name
    return Response(path.read_bytes(), media_type=_ASSETS[name],
                    headers={"Cache-Control": "max-age=300", "X-Content-Type-Options": "nosniff"})


@router.get("/login", response_class=HTMLResponse)
async def login_page(request: Request) -> Response:
    """The sign-in form (straight to the inbox when already signed in)."""
    if await _session(request):
        return _redirect("/inbox")
    return _page(_ctx(request), "login.html", error=None)


@router.post("/login")
async def login(request: Request) -> Response:
    """Check the pasted token; keep it in the session cookie, or show the form again."""
    ctx = _ctx(request)
    token = (await _form(request)).get("token", "").strip()
    viewer = await ctx.desk.authenticate(token) if token else None
    if viewer is None:
        return _page(ctx, "login.html", 401, error="That token is unknown or was revoked. "
                     "Ask your admin for a new one (nurture tasks token YOUR_ID).")
    response = _redirect("/inbox")
    response.set_cookie(SESSION, token, max_age=SESSION_SECONDS, path="/inbox",
                        httponly=True, samesite="strict", secure=_secure(ctx))
    return response


@router.post("/logout")
async def logout(request: Request) -> Response:
    """End the session (a signed-in logout needs the CSRF token too)."""
    ctx, session = _ctx(request), await _session(request)
    if session is not None:
        sent = (await _form(request)).get("csrf", "")
        if not _same(sent, csrf_token(ctx.secret, session[1])):
            return _page(ctx, "problem.html", 403, **_chrome(ctx, *session),
                         title="This form has expired", message="Reload the page and try again.")
    response = _redirect("/inbox/login")
    response.delete_cookie(SESSION, path="/inbox", httponly=True, samesite="strict",
                           secure=_secure(ctx))
    return response


@router.get("", response_class=HTMLResponse)
async def inbox(request: Request, status: str = "open", tier: str = "", owner: str = "",
                offset: int = 0) -> Response:
    """The viewer's tasks, soonest due first, with status tabs (managers see everyone's)."""
    ctx, session = _ctx(request), await _session(request)
    if session is None:
        return _redirect("/inbox/login")
    viewer = session[0]
    status = status if status in (*STATUSES, "all", "alerts") else "open"
    tier_number = int(tier) if tier in ("1", "2", "3") else None
    error: DeskError | None = None
    alerts = status == "alerts"  # news about the rep's leads: a colleague, a pricing visit
    try:
        page = await ctx.desk.list(viewer, status="all" if alerts else status,
                                   kind="alert" if alerts else "escalation",
                                   owner=owner or None, tier=tier_number, limit=PAGE_SIZE,
                                   offset=max(offset, 0))
    except DeskError as err:
        error, page = err, None
    zone, now = ctx.desk.timezone(viewer), datetime.now(UTC)
    rows = [{"task": t, "url": task_url(t.id), "sla": task_sla(t.status, t.due_at, now),
             "overdue": t.status == "open" and t.due_at is not None and t.due_at < now,
             "due": _when(t.due_at, zone), "created": _when(t.created_at, zone)}
            for t in (page.tasks if page else [])]
    query = {"status": status, "tier": tier, "owner": owner if viewer.is_manager else ""}

    def link(**changes: Any) -> str:
        wanted = {k: v for k, v in {**query, **changes}.items() if v not in ("", None, 0)}
        return "/inbox" + (f"?{urlencode(wanted)}" if wanted else "")

    total = page.total if page else 0
    return _page(ctx, "list.html", error.status if error else 200, **_chrome(ctx, *session),
                 rows=rows, total=total, status=status, tier=tier, owner=query["owner"],
                 error=error.message if error else None,
                 tabs=[(s, link(status=s, offset=0)) for s in (*STATUSES, "all", "alerts")],
                 reps=_reps(ctx.playbook),
                 previous=link(offset=max(offset - PAGE_SIZE, 0)) if offset > 0 else None,
                 next=link(offset=offset + PAGE_SIZE) if offset + PAGE_SIZE < total else None,
                 shown=(offset + 1, offset + len(rows)))


@router.get("/tasks/{task_id:path}", response_class=HTMLResponse)
async def task_page(request: Request, task_id: str) -> Response:
    """The full handoff package, the forms to answer, and both timelines."""
    ctx, session = _ctx(request), await _session(request)
    if session is None:
        return _redirect("/inbox/login")
    flash = _read_flash(ctx, request)
    response = await _task_response(ctx, session, task_id, flash=flash)
    if flash is not None:
        response.delete_cookie(FLASH, path="/inbox", httponly=True, samesite="strict",
                               secure=_secure(ctx))
    return response


@router.post("/tasks/{task_id:path}/{action}")
async def answer(request: Request, task_id: str, action: str) -> Response:
    """Accept, reject or recycle from the task page; back to it with a confirmation."""
    ctx, session = _ctx(request), await _session(request)
    if session is None:
        return _redirect("/inbox/login")
    if action not in ACTIONS:
        return _page(ctx, "problem.html", 404, **_chrome(ctx, *session),
                     title="Not found", message="There is no such page.")
    try:
        form = await _form(request)
    except InvalidFeedback as err:
        return _page(ctx, "problem.html", 413, **_chrome(ctx, *session),
                     title="Form too large", message=err.message)
    if not _same(form.get("csrf", ""), csrf_token(ctx.secret, session[1])):
        return _page(ctx, "problem.html", 403, **_chrome(ctx, *session),
                     title="This form has expired",
                     message="Nothing was changed. Reload the task and answer again.")
    try:
        feedback = _feedback(task_id, action, form)
        result = await ctx.desk.act(session[0], task_id, feedback)
    except DeskError as err:
        return await _task_response(ctx, session, task_id, error=err, form=form)
    response = _redirect(task_url(task_id))
    _flash_cookie(ctx, response, outcome_message(result))
    return response


def _feedback(task_id: str, action: str, form: dict[str, str]) -> Feedback:
    note = form.get("note", "").strip()[:4000]
    until_text = form.get("until", "").strip()
    try:
        until = date.fromisoformat(until_text) if until_text else None
    except ValueError:
        raise InvalidFeedback(f"{until_text!r} is not a date (YYYY-MM-DD)",
                              field="until") from None
    if action == "accept":
        return Feedback(task_id=task_id, action="accept", note=note)
    if action == "reject":
        return Feedback(task_id=task_id, action="reject", note=note, until=until,
                        reason=reject_reason(form.get("reason")))
    return Feedback(task_id=task_id, action="recycle", note=note, until=until)


async def _task_response(ctx: ApiContext, session: tuple[Viewer, str], task_id: str, *,
                         flash: str | None = None, error: DeskError | None = None,
                         form: dict[str, str] | None = None) -> Response:
    viewer = session[0]
    try:
        detail = await ctx.desk.detail(viewer, task_id)
    except TaskNotFound:
        return _page(ctx, "problem.html", 404, **_chrome(ctx, *session), title="No such task",
                     message="This task does not exist, or it is not yours to see.")
    if isinstance(error, TaskNotFound):  # gone between the answer and this page
        error = None
    return _page(ctx, "task.html", error.status if error else 200, **_chrome(ctx, *session),
                 **_task_view(ctx, detail, ctx.desk.timezone(viewer)), flash=flash,
                 error=error.message if error else None,
                 error_field=error.field if error else None,
                 form=form or {})


def _task_view(ctx: ApiContext, detail: TaskDetail, zone: str) -> dict[str, Any]:
    task, lead = detail.task, detail.lead
    handoff = task.handoff or {}
    sales = ctx.playbook.sales
    rows: list[tuple[str, Any]] = [(label, handoff.get(key)) for key, label in _HANDOFF]
    recycle = handoff.get("recycle_path") or (sales.on_recycle.describe() if sales.on_recycle
                                              else "back to nurture where the lead left off")
    rows += [("Related contacts", detail.related), ("Recycle path", recycle)]
    scores = handoff.get("scores") or {}
    if scores:
        rows.append(("Scores", ", ".join(f"{k} {v:g}" for k, v in scores.items()
                                         if isinstance(v, int | float))))
    reasons = []
    for reason in RejectReason:
        then = sales.after_reject(reason)
        reasons.append({"value": reason.value, "label": reason.label,
                        "then": then.describe() if then else "back to nurture"})
    return {
        "task": task, "lead": lead, "url": task_url(task.id),
        "name": display_name(lead) if lead else task.lead_id,
        "handoff": [(k, v) for k, v in rows if v],
        "qualification": task.reason or handoff.get("qualification_reason", ""),
        "opener": task.opener or handoff.get("suggested_opener", ""),
        "sla": task_sla(task.status, task.due_at),
        "overdue": task.status == "open" and task.due_at is not None
        and task.due_at < datetime.now(UTC),
        "due": _when(task.due_at, zone), "created": _when(task.created_at, zone),
        "closed": _sentence(closed_message(task, zone)) if task.status != "open" else None,
        "task_timeline": [(_when(e.at, zone), e) for e in reversed(detail.task_timeline)],
        "lead_timeline": [(_when(e.at, zone), e)
                          for e in reversed(detail.lead_timeline.entries)],
        "timeline_source": detail.lead_timeline.source,
        "reasons": reasons, "actionable": task.status == "open" and task.kind == "escalation",
        "tomorrow": (datetime.now(UTC) + timedelta(days=1)).date().isoformat(),
    }


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


def _reps(playbook: PlaybookSpec) -> list[tuple[str, str]]:
    routing = playbook.sales.routing
    return [(rep.id, rep.name) for rep in routing.reps] if routing else []
