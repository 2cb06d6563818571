"""Row ids that sort by creation time: UUID version 7 (RFC 9562).

A random (version 4) id sends every insert to a random page of the primary key and of every
index that leads with the id, so a large table keeps its whole index hot and, after each
checkpoint, writes a full page image to the WAL for every page it touches. A version 7 id
starts with the Unix time in milliseconds: new rows go to the right-hand pages, which are in
memory already. The other 74 bits are random, so ids stay unguessable; what they give away
is the creation time to the millisecond, which is no secret for the rows that use them
(a submission's time is on its receipt)."""

from __future__ import annotations

import os
import time

_TIME_SHIFT = 80
_RANDOM_MASK = (1 << 80) - 1
_VERSION_MASK = ~(0xF << 76)
_VERSION_7 = 0x7 << 76
_VARIANT_MASK = ~(0x3 << 62)
_VARIANT_RFC = 0x2 << 62


def uuid7() -> str:
    """A new version 7 UUID in its usual text form (``xxxxxxxx-xxxx-7xxx-yxxx-...``)."""
    millis = time.time_ns() // 1_000_000
    value = (millis << _TIME_SHIFT) | (int.from_bytes(os.urandom(10), "big") & _RANDOM_MASK)
    value = (value & _VERSION_MASK) | _VERSION_7
    value = (value & _VARIANT_MASK) | _VARIANT_RFC
    text = f"{value:032x}"
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"
