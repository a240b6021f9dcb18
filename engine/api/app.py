"""The HTTP application: ingestion, lead state, email tracking, unsubscribe, and the sales
inbox with its JSON API."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy.exc import SQLAlchemyError
from swagger_ui_bundle import swagger_ui_path

from engine.api import inbox, ingest, leads, sales, tracking
from engine.api.context import ApiContext
from engine.api.intake import Refused
from engine.client import DeskError, DeskUnavailable, Relay
from engine.dsl.spec import PlaybookSpec
from engine.errors import ConfigError
from engine.mail import TemplateRenderer
from engine.settings import Settings
from engine.store import Store


def create_app(settings: Settings, *, store: Store, playbook: PlaybookSpec,
               relay: Relay | None) -> FastAPI:
    """The API; while it runs, the relay (if given) delivers accepted events to workflows."""
    settings.check_secret()
    if not settings.write_key_list:
        raise ConfigError("NURTURE_WRITE_KEYS is empty: set at least one write key "
                          "(comma-separated) for event producers to send with")

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        task = asyncio.create_task(relay.run()) if relay is not None else None
        try:
            yield
        finally:
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    app = FastAPI(title="nurture", version="1",
                  summary="Segment-compatible event ingestion for behavior-triggered nurture",
                  lifespan=lifespan, docs_url=None, redoc_url=None)
    # The docs page's scripts are served from the installed swagger-ui-bundle wheel, so
    # /docs works on a machine without internet access.
    app.mount("/docs-assets", StaticFiles(directory=str(swagger_ui_path)), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/openapi.json", title="nurture API",
            swagger_js_url="/docs-assets/swagger-ui-bundle.js",
            swagger_css_url="/docs-assets/swagger-ui.css",
            swagger_favicon_url="/docs-assets/favicon-32x32.png")
    app.state.nurture = ApiContext(settings=settings, store=store, playbook=playbook,
                                   relay=relay,
                                   renderer=TemplateRenderer(settings.templates_dir))
    app.include_router(ingest.router)
    app.include_router(leads.router)
    app.include_router(tracking.router)
    app.include_router(sales.router)
    app.include_router(inbox.router)

    @app.exception_handler(Refused)
    async def refused(_: Request, error: Refused) -> JSONResponse:
        body: dict[str, object] = {"success": False, "error": error.message}
        if error.field:
            body["field"] = error.field
        headers = {"Retry-After": str(error.retry_after)} if error.retry_after else {}
        if error.status == 401:
            headers["WWW-Authenticate"] = 'Basic realm="nurture"'
        return JSONResponse(body, status_code=error.status, headers=headers)

    @app.exception_handler(DeskError)
    async def desk_error(_: Request, error: DeskError) -> JSONResponse:
        body: dict[str, object] = {"success": False, "error": error.message}
        if error.field:
            body["field"] = error.field
        if error.allowed is not None:
            body["allowed"] = error.allowed
        headers: dict[str, str] = {}
        if error.status == 401:
            headers["WWW-Authenticate"] = 'Bearer realm="nurture sales"'
        if error.status == 503:
            headers["Retry-After"] = str(DeskUnavailable.retry_after)
        return JSONResponse(body, status_code=error.status, headers=headers)

    @app.exception_handler(SQLAlchemyError)
    async def database_down(_: Request, error: SQLAlchemyError) -> JSONResponse:
        return JSONResponse({"success": False, "error": "the database is unavailable; retry "
                                                        "shortly"},
                            status_code=503, headers={"Retry-After": "2"})

    @app.get("/health", tags=["operations"], summary="Liveness and delivery status")
    async def health() -> dict[str, object]:
        ctx: ApiContext = app.state.nurture
        return {"ok": True, "backlog": await ctx.backlog(),
                "temporal": bool(relay and await relay.reachable()),
                "emails_outcome_unknown": await ctx.unknown_sends()}

    return app
