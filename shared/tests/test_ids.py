"""Version 7 ids: the standard's layout, time order, no repeats."""

from __future__ import annotations

import time
import uuid

from tellonce_shared.ids import uuid7


def test_layout_is_rfc_9562_version_7() -> None:
    before = time.time_ns() // 1_000_000
    parsed = uuid.UUID(uuid7())
    after = time.time_ns() // 1_000_000
    assert parsed.version == 7
    assert parsed.variant == uuid.RFC_4122
    assert before <= parsed.int >> 80 <= after  # the first 48 bits are the Unix time in ms
    assert str(parsed) == str(parsed).lower()


def test_ids_sort_by_time_and_never_repeat() -> None:
    earlier = [uuid7() for _ in range(500)]
    time.sleep(0.002)
    later = [uuid7() for _ in range(500)]
    assert max(earlier) < min(later)  # text order is time order, across milliseconds
    assert len(set(earlier + later)) == 1000
    # the 74 random bits do vary within one millisecond
    assert len({uuid.UUID(i).int & ((1 << 62) - 1) for i in earlier}) == 500
