"""``?limit=`` and ``?cursor=`` for the catalog's list endpoints (keyset on a string key), and
the bounds of the integer ids and version numbers that callers put in paths and queries."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query

from tellonce_shared.pagination import MAX_INTEGER, decode_cursor, encode_cursor
from tellonce_shared.problems import BadRequest

Limit = Annotated[int, Query(ge=1, le=500)]
Cursor = Annotated[str | None, Query(max_length=500)]

# An id or version number past an ``Integer`` column's range names nothing, and handed to the
# database it fails there (a 500): refused as bad input (422) before any query.
RowId = Annotated[int, Path(ge=1, le=MAX_INTEGER)]
VersionQuery = Annotated[int | None, Query(ge=1, le=MAX_INTEGER)]


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
