"""Reporting periods: ``2026`` (a year), ``2026-Q2`` (a quarter), ``2026-05`` (a month) or
``last-90d`` (the N days up to now). Half-open ``[start, end)`` in UTC."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from tellonce_shared.problems import ValidationFailed

DEFAULT_PERIOD = "last-90d"
# ASCII digits only: ``\d`` would also take full-width or Arabic-Indic digits (which int()
# reads), and the label goes into the CSV export's Content-Disposition header (latin-1).
_YEAR = re.compile(r"([0-9]{4})")
_QUARTER = re.compile(r"([0-9]{4})-Q([1-4])")
_MONTH = re.compile(r"([0-9]{4})-(0[1-9]|1[0-2])")
_LAST = re.compile(r"last-([1-9][0-9]{0,3})d")


@dataclass(frozen=True)
class Period:
    label: str
    start: datetime
    end: datetime

    @property
    def days(self) -> float:
        return (self.end - self.start).total_seconds() / 86400


def _month(year: int, month: int) -> datetime:
    return datetime(year + (month - 1) // 12, (month - 1) % 12 + 1, 1, tzinfo=UTC)


def parse_period(text: str | None, now: datetime) -> Period:
    label = (text or DEFAULT_PERIOD).strip()
    if m := _LAST.fullmatch(label):
        return Period(f"last-{int(m.group(1))}d", now - timedelta(days=int(m.group(1))), now)
    year: int | None = None
    if m := _YEAR.fullmatch(label):
        year, first, months = int(m.group(1)), 1, 12
    elif m := _QUARTER.fullmatch(label):
        year, first, months = int(m.group(1)), 3 * int(m.group(2)) - 2, 3
    elif m := _MONTH.fullmatch(label):
        year, first, months = int(m.group(1)), int(m.group(2)), 1
    if year is None or not 1970 <= year <= 9998:
        raise ValidationFailed(
            "The period is not one of YYYY, YYYY-Qn, YYYY-MM or last-Nd.",
            errors=[{"pointer": "/query/period", "message": f"unknown period {label[:40]!r}"}],
        )
    return Period(label, _month(year, first), _month(year, first + months))
