"""``?limit=`` and ``?cursor=`` for the catalog's list endpoints (keyset on a string key), the
bounds of the integer ids and version numbers that callers put in paths and queries, and the
text they may send: never the NUL character."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query

from tellonce_shared.pagination import MAX_INTEGER, decode_cursor, encode_cursor
from tellonce_shared.params import NUL, Text
from tellonce_shared.problems import BadRequest

__all__ = ["NUL", "Text"]  # and the paging helpers below; text rules are tellonce_shared's


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
    if not isinstance(after, str) or NUL in after:  # no key we issue holds a NUL
        raise BadRequest("The cursor is not valid.")
    return after


def next_cursor(keys: list[str], limit: int) -> str | None:
    """Callers fetch ``limit + 1`` rows; a cursor exists only when there was one more."""
    if len(keys) <= limit:
        return None
    return encode_cursor({"after": keys[limit - 1]})
