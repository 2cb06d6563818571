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


MAX_INTEGER = 2**31 - 1
"""The largest value of an ``Integer`` column. PostgreSQL binds a value compared with one as
``::INTEGER`` and fails past this ("integer out of range"); SQLite fails past 64 bits. Either
way a 500, so ids and positions past it are refused as bad input before any query."""

MAX_BIG_INTEGER = 2**63 - 1
"""The largest value of a ``BigInteger`` column (signed 64 bits) on either database."""


def cursor_position(value: object, *, maximum: int = MAX_INTEGER) -> int:
    """An integer position read back from a cursor, or 400 when it cannot be one we issued:
    not an integer (``true`` is not one), negative, or past what its column can hold (a
    hand-made cursor can carry up to 2**64 - 1)."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= maximum:
        raise BadRequest("The cursor is not valid.")
    return value
