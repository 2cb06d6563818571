"""``?limit=`` and ``?cursor=`` for the catalog's list endpoints (keyset on a string key)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query

from tellonce_shared.pagination import decode_cursor, encode_cursor
from tellonce_shared.problems import BadRequest

Limit = Annotated[int, Query(ge=1, le=500)]
Cursor = Annotated[str | None, Query(max_length=500)]


def after_key(cursor: str | None) -> str | None:
    value = decode_cursor(cursor)
    if value is None:
        return None
    after = value.get("after")
    if not isinstance(after, str):
        raise BadRequest("The cursor is not valid.")
    return after


def next_cursor(keys: list[str], limit: int) -> str | None:
    """Callers fetch ``limit + 1`` rows; a cursor exists only when there was one more."""
    if len(keys) <= limit:
        return None
    return encode_cursor({"after": keys[limit - 1]})
