"""`nurture event send`: one behavioral event to the API, the way a producer sends it."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import httpx

from engine.errors import ConfigError, NurtureError
from engine.settings import Settings


def parse_props(pairs: list[str]) -> dict[str, Any]:
    """`key=value` pairs as event properties; values that read as JSON (numbers, true,
    null, lists) keep their type, anything else is text."""
    properties: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--prop {pair!r} must look like key=value, e.g. plan=growth")
        try:
            properties[key.strip()] = json.loads(value)
        except ValueError:
            properties[key.strip()] = value
    return properties


def write_key_for(settings: Settings, given: str | None, data_dir: Path) -> str:
    """The write key: given, else NURTURE_WRITE_KEYS' first, else the one `nurture dev` kept."""
    if given:
        return given
    if settings.write_key_list:
        return settings.write_key_list[0]
    kept = data_dir / "write_key"
    if kept.is_file() and kept.read_text().strip():
        return kept.read_text().strip()
    raise ConfigError("no write key: pass --write-key, set NURTURE_WRITE_KEYS, or run "
                      f"`nurture dev` (which keeps one in {kept})")


def send_event(api: str, write_key: str, lead_id: str, event: str,
               properties: dict[str, Any]) -> str:
    """POST one track call; the messageId it was sent with."""
    message_id = f"cli-{uuid.uuid4()}"
    body = {"userId": lead_id, "event": event, "properties": properties,
            "messageId": message_id}
    try:
        response = httpx.post(f"{api.rstrip('/')}/v1/track", json=body, auth=(write_key, ""),
                              timeout=10)
    except httpx.HTTPError as err:
        raise NurtureError(f"cannot reach the API at {api} ({err}); is `nurture api` or "
                           "`nurture dev` running? (--api sets the address)") from None
    if response.status_code == 401:
        raise NurtureError("the API refused the write key; use --write-key or "
                           "NURTURE_WRITE_KEYS with a key the API accepts")
    if response.status_code != 200:
        try:
            detail = response.json().get("error", response.text)
        except ValueError:
            detail = response.text
        raise NurtureError(f"the API answered {response.status_code}: {detail}")
    return message_id
