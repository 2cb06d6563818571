"""Dates in words, as residents read them, in the hub's two languages: "3 February 1985",
"3 de febrero de 1985" (the portal's pages and the receipts the submissions service renders
say dates the same way)."""

from __future__ import annotations

from datetime import date

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
