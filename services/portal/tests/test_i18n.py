"""The portal's own words, dates and numbers in English and Spanish."""

from __future__ import annotations

from tellonce_portal.i18n import STATUS_LABELS, STRINGS, Translator


def test_both_languages_have_every_string() -> None:
    assert set(STRINGS["en"]) == set(STRINGS["es"])
    assert set(STATUS_LABELS["en"]) == set(STATUS_LABELS["es"])


def test_dates_and_numbers_follow_the_locale() -> None:
    en, es = Translator("en"), Translator("es")
    assert en.date("1990-04-02") == "2 April 1990"
    assert es.date("2026-11-25T11:00:00Z") == "25 de noviembre de 2026"
    assert en.number(12000) == "12,000"
    assert es.number(12000) == "12.000"
    assert es.number(3400.5) == "3.400,5"
    assert en.date("not a date") == "not a date"
    assert en.datetime("2026-11-25T11:05:00+00:00") == "25 November 2026 at 11:05 UTC"
    assert es.datetime("2026-11-25T13:05:00+02:00") == "25 de noviembre de 2026 a las 11:05 UTC"
    assert en.datetime("2026-11-26T01:00:00+05:00") == "25 November 2026 at 20:00 UTC"


def test_unknown_locale_falls_back_to_english_and_unknown_keys_show_themselves() -> None:
    t = Translator("fr")
    assert t.locale == "en"
    assert t("continue") == "Continue"
    assert t("no-such-key") == "no-such-key"
    assert Translator("es")("minutes", n=20) == "Unos 20 minutos"
    assert Translator("es").status("needs_info") == "Necesita más información"
