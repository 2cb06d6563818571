"""Time as the workers see it; tests swap in a clock they move by hand."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Protocol

from tellonce_submissions.times import aware

__all__ = ["Clock", "SystemClock", "aware", "aware_or_none"]


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


def aware_or_none(moment: datetime | None) -> datetime | None:
    return None if moment is None else aware(moment)
