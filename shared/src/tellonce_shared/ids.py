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


def uuid7() -> str:
    """A new version 7 UUID in its usual text form (``xxxxxxxx-xxxx-7xxx-yxxx-...``)."""
    raw = bytearray((time.time_ns() // 1_000_000).to_bytes(6, "big") + os.urandom(10))
    raw[6] = 0x70 | (raw[6] & 0x0F)  # version 7
    raw[8] = 0x80 | (raw[8] & 0x3F)  # RFC 9562 variant
    text = raw.hex()
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"
