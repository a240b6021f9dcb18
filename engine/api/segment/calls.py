"""Reading Segment calls: each call, alone or in a batch, as one `Inbound` message for the
store (behavior as an event, traits as a profile patch, an alias as a link of two ids)."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from pydantic import ValidationError

from engine.api.segment.payload import SegmentCall
from engine.api.segment.traits import account_traits, profile_traits
from engine.dsl.pages import PageRule, page_event_type
from engine.errors import PayloadError
from engine.events import normalize_event_type
from engine.store import Inbound, InboundKind

MAX_EVENT_BYTES = 32 * 1024
CALL_TYPES = ("track", "identify", "page", "screen", "group", "alias")


def read_calls(body: Any, *, kind: str | None, received_at: datetime,
               pages: list[PageRule]) -> list[Inbound]:
    """Every call in a request body as store messages (`kind` None means a batch)."""
    if not isinstance(body, dict):
        raise PayloadError("", "the body must be a JSON object")
    if kind is not None:
        return [_read_one(body, kind, "", received_at, pages, {}, None)]
    batch = body.get("batch")
    if not isinstance(batch, list):
        raise PayloadError("batch", "must be a list of calls")
    context = body.get("context")
    shared_context: dict[str, Any] = context if isinstance(context, dict) else {}
    shared_sent = body.get("sentAt")
    messages = []
    for index, item in enumerate(batch):
        where = f"batch[{index}]"
        if not isinstance(item, dict):
            raise PayloadError(where, "each call must be a JSON object")
        size = len(json.dumps(item, separators=(",", ":"), ensure_ascii=False,
                              default=str).encode("utf-8", "surrogatepass"))
        if size > MAX_EVENT_BYTES:
            raise PayloadError(where, f"a call may be at most {MAX_EVENT_BYTES // 1024} KB")
        call_type = item.get("type")
        if call_type not in CALL_TYPES:
            raise PayloadError(f"{where}.type",
                               f"must be one of {', '.join(CALL_TYPES)} (got {call_type!r})")
        messages.append(_read_one(item, str(call_type), f"{where}.", received_at, pages,
                                  shared_context, shared_sent))
    return messages


def _read_one(raw: dict[str, Any], kind: str, prefix: str, received_at: datetime,
              pages: list[PageRule], shared_context: dict[str, Any],
              shared_sent: Any) -> Inbound:
    if shared_sent is not None and "sentAt" not in raw:
        raw = {**raw, "sentAt": shared_sent}
    try:
        call = SegmentCall.model_validate(raw)
    except ValidationError as err:
        first = err.errors()[0]
        field = ".".join(str(part) for part in first["loc"])
        raise PayloadError(prefix + field, first["msg"]) from None
    context = {**shared_context, **call.context}
    if kind == "alias":
        if call.previousId is None:
            raise PayloadError(prefix + "previousId", "alias needs the previous id")
        if call.userId is None:
            raise PayloadError(prefix + "userId", "alias needs the new userId")
        return Inbound(message_id=_message_id(call, kind, raw), kind=InboundKind.ALIAS,
                       lead_id=call.userId, anonymous_id=call.previousId,
                       payload={"call": kind, "previous_id": call.previousId})
    if call.userId is None and call.anonymousId is None:
        raise PayloadError(prefix + "userId", "every call needs a userId or an anonymousId")
    message_id = _message_id(call, kind, raw)
    base = {"message_id": message_id, "lead_id": call.userId, "anonymous_id": call.anonymousId}
    if kind == "identify":
        traits = profile_traits(call.traits, context, prefix + "traits",
                                prefix + "context.traits")
        return Inbound(**base, kind=InboundKind.PROFILE,
                       payload={"call": kind, "traits": traits})
    if kind == "group":
        if call.groupId is None:
            raise PayloadError(prefix + "groupId", "group needs the account's groupId")
        traits = account_traits(call.groupId, call.traits, prefix + "traits")
        return Inbound(**base, kind=InboundKind.PROFILE,
                       payload={"call": kind, "traits": traits})
    try:
        at = event_time(call, received_at)
    except OverflowError:
        raise PayloadError(prefix + "sentAt", "is too far from originalTimestamp to correct "
                                              "the sender's clock by") from None
    if kind == "track":
        if not call.event:
            raise PayloadError(prefix + "event", "track needs the event name, e.g. "
                                                 "'Pricing Page Viewed'")
        try:
            event_type = normalize_event_type(call.event)
        except ValueError as err:
            raise PayloadError(prefix + "event", str(err)) from None
        properties = dict(call.properties)
    else:  # page or screen
        properties, event_type = _page(call, context, kind, pages)
    return Inbound(**base, kind=InboundKind.EVENT, payload={
        "id": message_id, "type": event_type, "at": at.isoformat(), "properties": properties})


def event_time(call: SegmentCall, received_at: datetime) -> datetime:
    """When it happened, corrected for the sender's clock skew; never in the future."""
    if call.originalTimestamp is not None and call.sentAt is not None:
        at = call.originalTimestamp + (received_at - call.sentAt)
    else:
        at = call.timestamp or call.originalTimestamp or received_at
    return min(at, received_at)


def _page(call: SegmentCall, context: dict[str, Any], kind: str,
          pages: list[PageRule]) -> tuple[dict[str, Any], str]:
    props = dict(call.properties)
    found = context.get("page")
    page_context: dict[str, Any] = found if isinstance(found, dict) else {}
    url = props.get("url") or page_context.get("url")
    path = props.get("path") or page_context.get("path")
    if not isinstance(path, str) and isinstance(url, str):
        try:
            path = urlsplit(url).path
        except ValueError:  # not a URL (e.g. "http://[x"): the view stays untyped
            path = None
    if call.name and "name" not in props:
        props["name"] = call.name
    if kind == "screen":
        return props, "screen_viewed"
    if isinstance(path, str) and path:
        props["path"] = path
        if isinstance(url, str):
            props.setdefault("url", url)
        return props, page_event_type(path, pages)
    return props, page_event_type("/", [])


def _message_id(call: SegmentCall, kind: str, raw: dict[str, Any]) -> str:
    """The sender's messageId, else a hash of the call's content: a retried identical
    call is recognised (Segment's libraries always send a messageId)."""
    if call.messageId:
        return call.messageId
    digest = hashlib.sha256(json.dumps({"kind": kind, **raw}, sort_keys=True,
                                       default=str).encode()).hexdigest()
    return f"auto-{digest[:40]}"

