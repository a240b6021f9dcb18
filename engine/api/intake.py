"""Reading an ingestion request: the write key (three ways), the body (gzip, size limits)."""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import math
import re
import zlib
from typing import Any

from fastapi import Request
from starlette.requests import ClientDisconnect

from engine.errors import PayloadError

MAX_CALL_BYTES = 32 * 1024
MAX_BATCH_BYTES = 4 * 1024 * 1024
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


class Refused(Exception):
    """The request is answered with `status` and `message`; nothing from it was kept."""

    def __init__(self, status: int, message: str, *, field: str | None = None,
                 retry_after: int | None = None) -> None:
        self.status, self.message, self.field, self.retry_after = (status, message, field,
                                                                    retry_after)
        super().__init__(message)


def header_key(request: Request) -> str | None:
    """The write key from HTTP Basic (key as user, empty password) or `X-Write-Key`."""
    key = request.headers.get("x-write-key")
    if key:
        return key.strip()
    authorization = request.headers.get("authorization", "")
    scheme, _, credentials = authorization.partition(" ")
    if scheme.lower() != "basic" or not credentials.strip():
        return None
    try:
        decoded = base64.b64decode(credentials.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise Refused(401, "the Authorization header is not valid HTTP Basic") from None
    return decoded.partition(":")[0].strip() or None


def check_key(key: str | None, accepted: list[str]) -> None:
    """Refuse a missing or unknown write key (compared in constant time)."""
    if not key:
        raise Refused(401, "missing write key: send it as the HTTP Basic user name, in an "
                           "X-Write-Key header, or as writeKey in the body")
    if not any(hmac.compare_digest(key.encode(), known.encode()) for known in accepted):
        raise Refused(401, "unknown write key")


async def read_json(request: Request, limit: int) -> Any:
    """The JSON body, gunzipped if need be; 413 past `limit` bytes, 400 if unreadable."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise Refused(413, f"the body is larger than {limit // 1024} KB")
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise Refused(413, f"the body is larger than {limit // 1024} KB")
            chunks.append(chunk)
    except ClientDisconnect:  # the sender hung up mid-body: nothing was kept, nothing to log
        raise Refused(400, "the client went away before the body ended") from None
    raw = b"".join(chunks)
    encoding = request.headers.get("content-encoding", "identity").strip().lower()
    if encoding == "gzip":
        raw = _gunzip(raw, limit)
    elif encoding not in ("", "identity"):
        raise Refused(400, f"Content-Encoding {encoding!r} is not supported; send gzip or "
                           "plain JSON")
    if not raw.strip():
        raise Refused(400, "the body is empty; send a JSON object")
    try:
        body = json.loads(raw, parse_constant=_not_json, parse_float=_finite)
    except (ValueError, RecursionError) as err:
        raise Refused(400, f"the body is not valid JSON: {err}") from None
    if _SURROGATE_ESCAPE.search(raw):
        try:  # a lone UTF-16 surrogate cannot be sent on to Temporal or stored as UTF-8
            json.dumps(body, ensure_ascii=False).encode("utf-8")
        except (UnicodeEncodeError, RecursionError):
            raise Refused(400, "the body holds a lone UTF-16 surrogate (\\ud800-\\udfff) "
                               "that is not a character") from None
    return body


def _not_json(name: str) -> Any:
    # Python reads NaN and Infinity, but they are not JSON and PostgreSQL refuses them.
    raise ValueError(f"{name} is not a JSON value")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"the number {text[:40]} is out of range")
    return value


def _gunzip(raw: bytes, limit: int) -> bytes:
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        body = inflater.decompress(raw, limit + 1)
    except zlib.error as err:
        raise Refused(400, f"the body is not valid gzip: {err}") from None
    if len(body) > limit or inflater.unconsumed_tail:
        raise Refused(413, f"the body is larger than {limit // 1024} KB once unzipped")
    if not inflater.eof:
        raise Refused(400, "the gzip body is truncated")
    return body


def refused_from(error: PayloadError) -> Refused:
    """A malformed payload as a 400 that names the field."""
    return Refused(400, str(error), field=error.field or None)
