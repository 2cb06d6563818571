"""The portal's own words, dates and numbers in English and Spanish."""

from __future__ import annotations

import re
from pathlib import Path

import tellonce_portal
from tellonce_portal.i18n import STATUS_LABELS, STRINGS, Translator

PACKAGE = Path(tellonce_portal.__file__).resolve().parent


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


def test_both_languages_have_the_same_placeholders_and_no_empty_text() -> None:
    for key, english in STRINGS["en"].items():
        spanish = STRINGS["es"][key]
        assert english.strip(), key
        assert spanish.strip(), key
        assert set(re.findall(r"{(\w+)}", english)) == set(re.findall(r"{(\w+)}", spanish)), key


def test_every_key_the_code_asks_for_exists() -> None:
    """An unknown key shows itself on the page, so a typo would leave a bare key in front of a
    resident: every literal ``t("key")`` in the templates and the Python has its words."""
    used: set[str] = set()
    for path in [*PACKAGE.rglob("*.html"), *PACKAGE.rglob("*.py")]:
        if path.name == "i18n.py":
            continue
        used |= set(re.findall(r"""\bt\(\s*["']([^"'{}]+)["']""", path.read_text()))
    assert used, "the scan found the calls"
    assert sorted(used - set(STRINGS["en"])) == []


def test_templates_hold_no_words_of_their_own_in_one_language() -> None:
    """Words live in i18n.py: no ``"Formulario" if locale == "es" else "Form"`` in a
    template."""
    inline = re.compile(
        r"""["'](?!(?:en|es)["'])[^"']+["']\s+if\s+"""
        r"""(?:es|locale\s*==\s*["']es["'])\s+else\s+["']"""
    )
    for path in PACKAGE.rglob("*.html"):
        found = inline.findall(path.read_text())
        assert not found, f"{path.name}: {found}"


def test_terms_from_closed_lists() -> None:
    es = Translator("es")
    assert es.term("version_state_", "draft") == "Borrador"
    assert es.term("priority_", "jobs-economy") == "Empleo y economía"
    assert es.term("age_", "90d+") == "más de 90 días"
    assert es.term("age_", "new-band") == "new-band"
    assert es.term("rag_", None) == ""
    assert es.number(0.5, places=2) == "0,50"
    assert Translator("en").number(1234567) == "1,234,567"
