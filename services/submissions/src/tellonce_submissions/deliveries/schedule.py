"""The retry schedule of the Standard Webhooks spec, with jitter and ``Retry-After``."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

RETRY_DELAYS: tuple[timedelta, ...] = (
    timedelta(seconds=5),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=5),
    timedelta(hours=10),
    timedelta(hours=14),
    timedelta(hours=20),
    timedelta(hours=24),
)
"""Waits after the 1st, 2nd... failed attempt (the 1st attempt is immediate); after the
10th attempt fails the delivery is dead (about three days and three hours in all)."""
MAX_ATTEMPTS = len(RETRY_DELAYS) + 1
JITTER = 0.1
"""Each wait is stretched or shrunk by up to 10 % so retries to one receiver spread out."""
MAX_RETRY_AFTER = timedelta(hours=24)


def next_delay(
    attempts_done: int,
    *,
    retry_after: timedelta | None = None,
    rng: random.Random | None = None,
) -> timedelta | None:
    """The wait before the next attempt after ``attempts_done`` failed ones; ``None`` when
    the schedule is exhausted. A ``Retry-After`` longer than the schedule wins (capped)."""
    if attempts_done >= MAX_ATTEMPTS:
        return None
    base = RETRY_DELAYS[attempts_done - 1]
    factor = 1 + (rng or random).uniform(-JITTER, JITTER)
    delay = base * factor
    if retry_after is not None:
        delay = max(delay, min(retry_after, MAX_RETRY_AFTER))
    return delay


def parse_retry_after(value: str | None, now: datetime) -> timedelta | None:
    """``Retry-After`` as seconds or as an HTTP date, at most :data:`MAX_RETRY_AFTER`;
    ``None`` if absent or unreadable. Never raises: the value is the receiver's, and a
    number too large for a ``timedelta`` (``99999999999999``), too long for ``int`` or a date
    out of range must not cost the worker its batch (it once did)."""
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        # Only as many digits as can matter: 24 h is 86,400 s, and int() refuses over 4,300.
        if len(value.lstrip("0")) > len(str(int(MAX_RETRY_AFTER.total_seconds()))):
            return MAX_RETRY_AFTER
        return min(timedelta(seconds=int(value)), MAX_RETRY_AFTER)
    try:
        when = parsedate_to_datetime(value)
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        wait = when - now
    except (TypeError, ValueError, OverflowError, IndexError):
        return None
    return min(max(wait, timedelta(0)), MAX_RETRY_AFTER)
