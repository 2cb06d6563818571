"""Dates in words, the same in the portal and on receipts."""

from __future__ import annotations

from datetime import date

from tellonce_shared.words import day_in_words


def test_a_date_in_words_in_both_languages() -> None:
    assert day_in_words(date(1985, 2, 3), "en") == "3 February 1985"
    assert day_in_words(date(1985, 2, 3), "es") == "3 de febrero de 1985"
    assert day_in_words(date(2026, 12, 31), "en") == "31 December 2026"
    assert day_in_words(date(2026, 1, 1), "fr") == "1 January 2026"  # unknown: English


def test_which_questions_ask_for_a_date() -> None:
    from tellonce_shared.words import asks_for_a_date

    assert asks_for_a_date({"type": "string", "format": "date"})
    assert asks_for_a_date({"type": "string", "pattern": "^(\\d{4}|XXXX)-(0[1-9]|1[0-2])-"})
    assert not asks_for_a_date({"type": "string", "pattern": "^[0-9]{5}$"})
    assert not asks_for_a_date({"type": "string", "pattern": ""})
    assert not asks_for_a_date({"type": "string", "format": "date-time"})
