"""Opaque cursors for list endpoints (``?limit=`` and ``?cursor=`` / ``next_cursor``)."""

from __future__ import annotations

import base64
from typing import Any

import orjson

from tellonce_shared.problems import BadRequest


def encode_cursor(value: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(value)).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> dict[str, Any] | None:
    if not cursor:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        value = orjson.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, orjson.JSONDecodeError) as exc:
        raise BadRequest("The cursor is not valid.") from exc
    if not isinstance(value, dict):
        raise BadRequest("The cursor is not valid.")
    return value
