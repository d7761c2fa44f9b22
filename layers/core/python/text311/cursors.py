"""Paging cursors the console hands out: a DynamoDB LastEvaluatedKey with the city (and anything
else the page was asked with), as opaque URL-safe text. Each list checks what it gets back against
its own keys (text311.console_search, text311.console_requests)."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any


class BadCursor(ValueError):
    """A cursor that is not one this city's list returned."""


def pack(payload: dict[str, Any]) -> str:
    raw = json.dumps(payload, separators=(",", ":"), sort_keys=True)
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def unpack(cursor: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The payload a cursor carries and its ``key``, a dict, or BadCursor."""
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
        raise BadCursor("cursor: not a cursor this list returned") from exc
    key = data.get("key") if isinstance(data, dict) else None
    if not isinstance(key, dict):
        raise BadCursor("cursor: not a cursor this list returned")
    return data, key
