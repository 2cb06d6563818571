"""Dates as residents read them, in the hub's two languages: "3 February 1985", "3 de
febrero de 1985"; and which questions ask for one (the portal's pages and the receipts the
submissions service renders say dates the same way)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date
from typing import Any

DATE_PATTERN = re.compile(r"^\^\(\\d\{4\}\|XXXX\)-")
"""A date written as a pattern (the VA's ``^(\\d{4}|XXXX)-...``, with ``XXXX`` for an unknown
year)."""


def asks_for_a_date(schema: Mapping[str, Any]) -> bool:
    """Whether a question's schema asks for a date: ``format: date``, or the VA's pattern."""
    pattern = schema.get("pattern")
    return schema.get("format") == "date" or (
        isinstance(pattern, str) and DATE_PATTERN.match(pattern) is not None
    )


MONTHS: dict[str, tuple[str, ...]] = {
    "en": (
        "January", "February", "March", "April", "May", "June", "July", "August",
        "September", "October", "November", "December",
    ),
    "es": (
        "enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto",
        "septiembre", "octubre", "noviembre", "diciembre",
    ),
}  # fmt: skip


def day_in_words(day: date, locale: str) -> str:
    """A calendar date in words in ``locale`` ("en" or "es"; any other reads as "en")."""
    if locale == "es":
        return f"{day.day} de {MONTHS['es'][day.month - 1]} de {day.year}"
    return f"{day.day} {MONTHS['en'][day.month - 1]} {day.year}"
