"""Every time the API answers is an aware instant in UTC, on PostgreSQL and on SQLite alike
(acceptance review): SQLite hands ``DateTime(timezone=True)`` columns back naive, so a field
built from one printed ``2026-11-27T04:17:36.094946`` where PostgreSQL printed ``...Z``.
The response schemas type their times ``UTCDateTime``, so whatever a service builds them
from (an ORM row, a raw row, a replayed body) is made aware at the boundary."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator


def aware(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes; they were written in UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def utc(moment: datetime) -> datetime:
    """``moment`` in UTC: a naive time was written in UTC (SQLite drops the zone, ``aware``);
    an aware one is converted (a session in another time zone)."""
    return aware(moment).astimezone(UTC)


UTCDateTime = Annotated[datetime, AfterValidator(utc)]
"""A time the API answers: always aware UTC, serialized with ``Z``."""
