"""The Segment-compatible ingestion routes: `/v1/track`, `identify`, `page`, `screen`,
`group`, `alias` and `batch`."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy.exc import SQLAlchemyError

from engine.api.context import ApiContext
from engine.api.intake import (
    MAX_BATCH_BYTES,
    MAX_CALL_BYTES,
    Refused,
    check_key,
    header_key,
    read_json,
    refused_from,
)
from engine.api.segment import read_calls
from engine.errors import PayloadError

router = APIRouter(prefix="/v1", tags=["ingestion"])

_CALL_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "userId": {"type": "string", "description": "The lead id."},
        "anonymousId": {"type": "string", "description": "A browser or device id."},
        "messageId": {"type": "string", "description": "Makes a retried call harmless."},
        "event": {"type": "string", "description": "track: e.g. 'Pricing Page Viewed'."},
        "name": {"type": "string", "description": "page/screen name."},
        "properties": {"type": "object"},
        "traits": {"type": "object", "description": "identify/group traits."},
        "groupId": {"type": "string"},
        "previousId": {"type": "string", "description": "alias: the id being merged."},
        "timestamp": {"type": "string", "format": "date-time"},
        "originalTimestamp": {"type": "string", "format": "date-time"},
        "sentAt": {"type": "string", "format": "date-time"},
        "context": {"type": "object"},
        "writeKey": {"type": "string"},
    },
}
_OK: dict[int | str, dict[str, Any]] = {200: {"description": "Accepted and persisted.",
             "content": {"application/json": {"example": {"success": True}}}},
       400: {"description": "Malformed; `field` names what is wrong."},
       401: {"description": "Missing or unknown write key."},
       413: {"description": "A call over 32 KB or a batch over 4 MB."},
       429: {"description": "Too many requests in flight; retry after `Retry-After`."},
       503: {"description": "Backlog or database trouble; retry after `Retry-After`."}}


def _doc(batch: bool) -> dict[str, Any]:
    schema = ({"type": "object", "properties": {"batch": {"type": "array",
                                                          "items": _CALL_SCHEMA},
                                                "context": {"type": "object"},
                                                "writeKey": {"type": "string"}}}
              if batch else _CALL_SCHEMA)
    return {"requestBody": {"required": True, "content": {"application/json": {
        "schema": schema}}}}


ACCEPT_SLACK = 2.0
"""Seconds a call may wait for a database thread and connection besides the lock wait."""


def _database_down() -> Refused:
    return Refused(503, "the database is unavailable; retry shortly", retry_after=2)


async def _ingest(request: Request, kind: str | None) -> dict[str, bool]:
    ctx: ApiContext = request.app.state.nurture
    settings = ctx.settings
    if ctx.inflight >= settings.ingest_max_inflight:
        raise Refused(429, "too many requests in flight", retry_after=1)
    ctx.inflight += 1
    try:
        key = header_key(request)
        if key is not None:
            check_key(key, settings.write_key_list)
        budget = settings.api_database_wait + ACCEPT_SLACK
        try:
            backlog = await asyncio.wait_for(ctx.backlog(), budget)
        except (SQLAlchemyError, TimeoutError):
            raise _database_down() from None
        if backlog >= settings.ingest_backlog_limit:
            raise Refused(503, "the delivery backlog is full; retry shortly", retry_after=5)
        try:
            body = await read_json(request, MAX_BATCH_BYTES if kind is None else MAX_CALL_BYTES)
        except Refused:
            if key is None:  # an unauthenticated caller learns nothing about the body
                raise Refused(401, "missing write key") from None
            raise
        if key is None:
            sent = body.get("writeKey") if isinstance(body, dict) else None
            check_key(sent if isinstance(sent, str) else None, settings.write_key_list)
        try:
            messages = read_calls(body, kind=kind, received_at=datetime.now(UTC),
                                  pages=ctx.playbook.pages)
        except PayloadError as err:
            raise refused_from(err) from None
        try:
            # The store's lock wait bounds one write; this bounds the whole call, also when
            # many calls queue for the database's threads and connections behind a held
            # lock. A write that lands after the 503 is harmless: the producer's retry
            # carries the same messageId, which the ledger keeps once.
            await asyncio.wait_for(ctx.accept(messages), budget)
        except (SQLAlchemyError, TimeoutError):
            raise _database_down() from None
        return {"success": True}
    finally:
        ctx.inflight -= 1


@router.post("/track", responses=_OK, openapi_extra=_doc(False),
             summary="Record what a person did")
async def track(request: Request) -> dict[str, bool]:
    """A behavioral event (`event` is normalised: "Pricing Page Viewed" → pricing_page_viewed)."""
    return await _ingest(request, "track")


@router.post("/identify", responses=_OK, openapi_extra=_doc(False),
             summary="Say who a person is (enrolls the lead)")
async def identify(request: Request) -> dict[str, bool]:
    """Traits fill the lead profile; an `anonymousId` ties earlier anonymous events to it."""
    return await _ingest(request, "identify")


@router.post("/page", responses=_OK, openapi_extra=_doc(False), summary="Record a page view")
async def page(request: Request) -> dict[str, bool]:
    """A page view, typed by the playbook's page rules (`/pricing*` → pricing_page_viewed)."""
    return await _ingest(request, "page")


@router.post("/screen", responses=_OK, openapi_extra=_doc(False),
             summary="Record an app screen view")
async def screen(request: Request) -> dict[str, bool]:
    """A mobile or desktop app screen view (`screen_viewed`)."""
    return await _ingest(request, "screen")


@router.post("/group", responses=_OK, openapi_extra=_doc(False),
             summary="Link a person to their account")
async def group(request: Request) -> dict[str, bool]:
    """Account traits (name, domain, industry, employees) join the lead's profile."""
    return await _ingest(request, "group")


@router.post("/alias", responses=_OK, openapi_extra=_doc(False),
             summary="Say two ids are the same person")
async def alias(request: Request) -> dict[str, bool]:
    """Events sent under `previousId` belong to `userId` from now on."""
    return await _ingest(request, "alias")


@router.post("/batch", responses=_OK, openapi_extra=_doc(True),
             summary="Many calls at once (up to 4 MB)")
async def batch(request: Request) -> dict[str, bool]:
    """Calls of any type; all are accepted or, if one is malformed, none."""
    return await _ingest(request, None)
