"""The inbox's routes: sign in and out, the task list, a task's page, and its answers.

Every page goes out with a Content-Security-Policy that allows no script, and every POST
that changes something needs the session's CSRF token.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlencode

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from engine.api.context import ApiContext
from engine.api.inbox.session import (
    chrome,
    clear_flash,
    csrf_matches,
    end_session,
    read_flash,
    set_flash,
    signed_in,
    start_session,
)
from engine.api.inbox.views import list_rows, read_feedback, reps, task_url, task_view
from engine.client import (
    DeskError,
    InvalidFeedback,
    TaskNotFound,
    Viewer,
    outcome_message,
)

router = APIRouter(prefix="/inbox", include_in_schema=False)

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
TABS = ("open", "accepted", "rejected", "recycled", "all", "alerts")
"""The list's tabs: escalations by status, and the rep's open alerts (`dismissed` lists
the alerts dismissed, from a link under them)."""


def _ctx(request: Request) -> ApiContext:
    return request.app.state.nurture  # type: ignore[no-any-return]


async def _visit(request: Request) -> tuple[ApiContext, tuple[Viewer, str] | None]:
    """The app's context, and who is signed in (with their sign-in token), if anyone."""
    ctx = _ctx(request)
    return ctx, await signed_in(ctx, request)


def _page(ctx: ApiContext, template: str, code: int = 200, **values: Any) -> HTMLResponse:
    html = ctx.renderer.environment.get_template(f"web/inbox/{template}").render(
        company=ctx.settings.sender_company, **values)
    return HTMLResponse(html, status_code=code, headers=HEADERS)


def _redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303, headers=HEADERS)


async def _form(request: Request) -> dict[str, str]:
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        raise InvalidFeedback("the form is too large")
    fields = parse_qs(body.decode("utf-8", errors="replace"), keep_blank_values=True)
    return {key: values[0] for key, values in fields.items()}


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
    ctx, session = await _visit(request)
    if session:
        return _redirect("/inbox")
    return _page(ctx, "login.html", error=None)


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
    start_session(ctx, response, token)
    return response


@router.post("/logout")
async def logout(request: Request) -> Response:
    """End the session (a signed-in logout needs the CSRF token too)."""
    ctx, session = await _visit(request)
    if session is not None and not csrf_matches(ctx, session[1], await _form(request)):
        return _page(ctx, "problem.html", 403, **chrome(ctx, *session),
                     title="This form has expired", message="Reload the page and try again.")
    response = _redirect("/inbox/login")
    end_session(ctx, response)
    return response


@router.get("", response_class=HTMLResponse)
async def inbox(request: Request, status: str = "open", tier: str = "", owner: str = "",
                offset: int = 0) -> Response:
    """The viewer's tasks, soonest due first, with status tabs (managers see everyone's)."""
    ctx, session = await _visit(request)
    if session is None:
        return _redirect("/inbox/login")
    viewer = session[0]
    status = status if status in (*TABS, "dismissed") else "open"
    tier_number = int(tier) if tier in ("1", "2", "3") else None
    error: DeskError | None = None
    # News about the rep's leads (a colleague, a pricing visit): open until dismissed.
    alerts = status in ("alerts", "dismissed")
    try:
        page = await ctx.desk.list(viewer, status={"alerts": "open"}.get(status, status),
                                   kind="alert" if alerts else "escalation",
                                   owner=owner or None, tier=tier_number, limit=PAGE_SIZE,
                                   offset=max(offset, 0))
    except DeskError as err:
        error, page = err, None
    zone, now = ctx.desk.timezone(viewer), datetime.now(UTC)
    rows = list_rows(page.tasks if page else [], zone, now)
    query = {"status": status, "tier": tier, "owner": owner if viewer.is_manager else ""}

    def link(**changes: Any) -> str:
        wanted = {k: v for k, v in {**query, **changes}.items() if v not in ("", None, 0)}
        return "/inbox" + (f"?{urlencode(wanted)}" if wanted else "")

    total = page.total if page else 0
    flash = read_flash(ctx, request)
    response = _page(ctx, "list.html", error.status if error else 200,
                     **chrome(ctx, *session), rows=rows, total=total, status=status, tier=tier,
                     owner=query["owner"], error=error.message if error else None, flash=flash,
                     tabs=[(s, link(status=s, offset=0)) for s in TABS],
                     dismissed=link(status="dismissed", offset=0),
                     reps=reps(ctx.playbook),
                     previous=link(offset=max(offset - PAGE_SIZE, 0)) if offset > 0 else None,
                     next=link(offset=offset + PAGE_SIZE) if offset + PAGE_SIZE < total
                     else None, shown=(offset + 1, offset + len(rows)))
    if flash is not None:
        clear_flash(ctx, response)
    return response


@router.get("/tasks/{task_id:path}", response_class=HTMLResponse)
async def task_page(request: Request, task_id: str) -> Response:
    """The full handoff package, the forms to answer, and both timelines."""
    ctx, session = await _visit(request)
    if session is None:
        return _redirect("/inbox/login")
    flash = read_flash(ctx, request)
    response = await _task_response(ctx, session, task_id, flash=flash)
    if flash is not None:
        clear_flash(ctx, response)
    return response


@router.post("/tasks/{task_id:path}/{action}")
async def answer(request: Request, task_id: str, action: str) -> Response:
    """Accept, reject or recycle from the task page, or dismiss an alert; back to the page
    the form was on, with a confirmation."""
    ctx, session = await _visit(request)
    if session is None:
        return _redirect("/inbox/login")
    if action == "dismiss":
        return await _dismiss(request, ctx, session, task_id)
    if action not in ACTIONS:
        return _page(ctx, "problem.html", 404, **chrome(ctx, *session),
                     title="Not found", message="There is no such page.")
    form = await _checked_form(request, ctx, session, "Reload the task and answer again.")
    if isinstance(form, Response):
        return form
    try:
        feedback = read_feedback(task_id, action, form)
        result = await ctx.desk.act(session[0], task_id, feedback)
    except DeskError as err:
        return await _task_response(ctx, session, task_id, error=err, form=form)
    response = _redirect(task_url(task_id))
    set_flash(ctx, response, outcome_message(result))
    return response


async def _dismiss(request: Request, ctx: ApiContext, session: tuple[Viewer, str],
                   task_id: str) -> Response:
    """Dismiss one of the viewer's alerts (the CSRF token required, like every answer)."""
    form = await _checked_form(request, ctx, session, "Reload the page and dismiss it again.")
    if isinstance(form, Response):
        return form
    try:
        await ctx.desk.dismiss(session[0], task_id)
    except TaskNotFound:
        return _page(ctx, "problem.html", 404, **chrome(ctx, *session), title="No such alert",
                     message="This alert does not exist, or it is not yours to see.")
    except DeskError as err:
        return _page(ctx, "problem.html", err.status, **chrome(ctx, *session),
                     title="Not dismissed", message=_sentence(err.message))
    # Back where the button was: the alerts list, or the alert's own page.
    response = _redirect(task_url(task_id) if form.get("back") == "task"
                         else "/inbox?status=alerts")
    set_flash(ctx, response, "Alert dismissed: it is off your list of alerts.")
    return response


async def _checked_form(request: Request, ctx: ApiContext, session: tuple[Viewer, str],
                        again: str) -> dict[str, str] | Response:
    """The posted form, bounded and carrying the session's CSRF token; or the problem page
    to answer with (`again` says how to retry an expired form)."""
    try:
        form = await _form(request)
    except InvalidFeedback as err:
        return _page(ctx, "problem.html", 413, **chrome(ctx, *session),
                     title="Form too large", message=err.message)
    if not csrf_matches(ctx, session[1], form):
        return _page(ctx, "problem.html", 403, **chrome(ctx, *session),
                     title="This form has expired", message=f"Nothing was changed. {again}")
    return form


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


async def _task_response(ctx: ApiContext, session: tuple[Viewer, str], task_id: str, *,
                         flash: str | None = None, error: DeskError | None = None,
                         form: dict[str, str] | None = None) -> Response:
    viewer = session[0]
    try:
        detail = await ctx.desk.detail(viewer, task_id)
    except TaskNotFound:
        return _page(ctx, "problem.html", 404, **chrome(ctx, *session), title="No such task",
                     message="This task does not exist, or it is not yours to see.")
    if isinstance(error, TaskNotFound):  # gone between the answer and this page
        error = None
    return _page(ctx, "task.html", error.status if error else 200, **chrome(ctx, *session),
                 **task_view(ctx.playbook, detail, ctx.desk.timezone(viewer)), flash=flash,
                 error=error.message if error else None,
                 error_field=error.field if error else None,
                 form=form or {})

