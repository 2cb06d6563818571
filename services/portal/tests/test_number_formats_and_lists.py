"""Numbers typed the usual way, format errors that say what is wanted, hints from the UI
document, and lists whose buttons name what they add (review of the resident's journey,
findings 3 and 4)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tellonce_portal.forms.model import digits_only
from tellonce_portal.forms.parse import parse_fields
from tellonce_portal.forms.render import FieldState, render_fields
from tellonce_portal.forms.schema import FormDefinition
from tellonce_portal.forms.validate import validate
from tellonce_portal.i18n import Translator
from tellonce_portal.templating import environment

from .fake_gateway import FakeGateway, portal_browser
from .test_pages import post, sign_in

SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "properties": {
        "ssn": {"type": "string", "pattern": "^[0-9]{9}$", "x-element": "person.ssn",
                "description": "Nine digits, no dashes."},
        "phone": {"type": "string", "pattern": "^\\d{10}$"},
        "account": {"type": "string", "pattern": "^[0-9]{4,17}$"},
        "pin": {"type": "string", "pattern": "^[0-9]{4,}$"},
        "digits": {"type": "string", "pattern": "^\\d+$"},
        "zip": {"type": "string", "pattern": "^[0-9]{5}(-[0-9]{4})?$",
                "description": "Five digits, or ZIP+4 with a dash."},
        "vaFile": {"type": "string", "pattern": "^[cC]{0,1}[0-9]{8,9}$"},
        "code": {"type": "string", "pattern": "^[A-Z]{3}-[0-9]{3}$"},
        "note": {"type": "string", "maxLength": 200},
        "email": {"type": "string", "format": "email"},
    },
}  # fmt: skip
UI: dict[str, Any] = {
    "fields": {
        "/ssn": {"label": {"en": "Social Security number", "es": "Número de Seguro Social"},
                 "help": {"en": "Nine digits, no dashes.", "es": "Nueve dígitos, sin guiones."}},
        "/phone": {"label": {"en": "Phone number", "es": "Número de teléfono"}},
        "/account": {"label": {"en": "Bank account number", "es": "Número de cuenta"}},
        "/zip": {"label": {"en": "ZIP code", "es": "Código postal"}},
    }
}  # fmt: skip


def parsed(posted: dict[str, str], locale: str = "en") -> tuple[dict[str, Any], list[Any]]:
    """Answers and errors of posting ``posted`` on the whole form, as the page does."""
    defn = FormDefinition(SCHEMA, UI, locale=locale)
    fields = defn.fields({})
    result = parse_fields(fields, {k: [v] for k, v in posted.items()}, {}, locale)
    errors = result.errors + validate(SCHEMA, result.answers, fields, locale)
    return result.answers, [(e.pointer, e.message) for e in errors]


@pytest.mark.parametrize(
    ("pattern", "digits"),
    [
        ("^[0-9]{9}$", (9, 9)),
        ("^\\d{10}$", (10, 10)),
        ("^[0-9]{4,17}$", (4, 17)),
        ("^\\d{3}[0-9]{2}\\d{4}$", (9, 9)),
        ("^\\d+$", (1, None)),
        ("^[0-9]{4,}$", (4, None)),
        ("^[0-9]{5}(-[0-9]{4})?$", None),
        ("^[cC]{0,1}[0-9]{8,9}$", None),
        ("[0-9]{9}", None),
        ("^[0-9]{9}", None),
        ("^$", None),
        ("^[0-9]{9,3}$", None),
        ("^[A-Z]{2}$", None),
    ],
)
def test_which_patterns_take_only_digits(pattern: str, digits: tuple[int, int] | None) -> None:
    assert digits_only(pattern) == digits


@pytest.mark.parametrize(
    ("pointer", "typed", "saved"),
    [
        ("ssn", "123-45-6789", "123456789"),
        ("ssn", " 123 45 6789 ", "123456789"),
        ("ssn", "123.45.6789", "123456789"),
        ("ssn", "123\u201145\u20136789", "123456789"),
        ("phone", "(860) 555-0100", "8605550100"),
        ("phone", "860.555.0100", "8605550100"),
        ("phone", "[860] 555 0100", "8605550100"),
        ("account", "0001-2345-6789", "000123456789"),
        ("ssn", "123456789", "123456789"),
    ],
)
def test_a_number_typed_the_usual_way_is_saved_as_digits(
    pointer: str, typed: str, saved: str
) -> None:
    answers, errors = parsed({f"/{pointer}": typed})
    assert answers == {pointer: saved}
    assert errors == []


@pytest.mark.parametrize(
    ("pointer", "typed", "message"),
    [
        # what is left is not the number asked for: kept as typed, and the error says why
        ("ssn", "123-45-678", "Social Security number must be 9 digits long"),
        ("ssn", "123-45-678O", "Social Security number must be 9 digits long"),
        ("phone", "+1 (860) 555-0100", "Phone number must be 10 digits long"),
        ("account", "12-3", "Bank account number must be between 4 and 17 digits long"),
        ("pin", "12", "Pin must be 4 digits long or longer"),
        ("digits", "12a", "Digits must contain only digits"),
        # a number of varying length: a dot is a decimal point, a leading dash a minus sign;
        # taking them out would make another valid number (self-review, 2026-11-26)
        ("account", "1234.56", "Bank account number must be between 4 and 17 digits long"),
        ("digits", "-5", "Digits must contain only digits"),
        ("digits", "12.5", "Digits must contain only digits"),
        # a pattern that takes more than digits is never rewritten
        ("zip", "06103 1234", "Enter ZIP code in the correct format: five digits, or ZIP+4 "
         "with a dash"),
        ("vaFile", "123-45-678", "Enter va file in the correct format"),
        ("code", "ABC 123", "Enter code in the correct format"),
    ],
)  # fmt: skip
def test_a_wrong_number_is_kept_as_typed_and_told_what_format_is_wanted(
    pointer: str, typed: str, message: str
) -> None:
    answers, errors = parsed({f"/{pointer}": typed})
    assert answers == {pointer: typed}
    assert errors == [(f"/{pointer}", message)]


@pytest.mark.parametrize("pointer", ["note", "email"])
def test_a_question_without_a_digits_pattern_keeps_dashes(pointer: str) -> None:
    answers, _ = parsed({f"/{pointer}": "123-45-6789"})
    assert answers == {pointer: "123-45-6789"}


def test_format_errors_in_spanish_say_what_is_wanted() -> None:
    _, errors = parsed({"/ssn": "123-45", "/account": "1", "/zip": "6103"}, "es")
    assert errors == [
        ("/account", "Número de cuenta debe tener entre 4 y 17 dígitos"),
        ("/ssn", "Número de Seguro Social debe tener 9 dígitos"),
        ("/zip", "Escriba código postal en el formato correcto: five digits, or ZIP+4 with a dash"),
    ]


def _draw(schema: dict[str, Any], ui: Any, answers: dict[str, Any], locale: str = "en") -> str:
    defn = FormDefinition(schema, ui, locale=locale)
    fields = defn.fields(answers)
    state = FieldState.build(answers, fields=fields)
    return str(render_fields(environment(), fields, state, Translator(locale)))


def _input(html: str, name: str) -> str:
    match = re.search(rf'<input [^>]*name="{re.escape(name)}"[^>]*>', html)
    assert match, name
    return match.group(0)


@pytest.mark.parametrize(
    ("locale", "hint"), [("en", "Nine digits, no dashes."), ("es", "Nueve dígitos, sin guiones.")]
)
def test_the_hint_is_shown_and_tied_to_its_input(locale: str, hint: str) -> None:
    html = _draw(SCHEMA, UI, {}, locale)
    assert f'<div class="usa-hint" id="f-ssn-hint">{hint}</div>' in html
    ssn = _input(html, "/ssn")
    assert 'aria-describedby="f-ssn-hint"' in ssn
    assert 'inputmode="numeric"' in ssn, "a phone keypad for a number of digits"
    assert 'spellcheck="false"' in ssn
    phone = _input(html, "/phone")
    assert 'inputmode="numeric"' not in phone
    assert 'type="tel"' in phone
    assert 'inputmode="numeric"' not in _input(html, "/zip")
    assert 'inputmode="numeric"' not in _input(html, "/note")


def _people(items: dict[str, Any], ui_list: dict[str, Any] | None = None) -> tuple[Any, Any]:
    schema = {
        "type": "object",
        "properties": {
            "people": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {"name": {"type": "string", "maxLength": 100}},
                    **items,
                },
            }
        },
    }
    label = {"en": "People who live with you", "es": "Personas que viven con usted"}
    ui = {"fields": {"/people": {"label": label, **(ui_list or {})}}}
    return schema, ui


def _buttons(html: str) -> list[str]:
    return re.findall(r"<button [^>]*>([^<]*)</button>", html)


def _legends(html: str) -> list[str]:
    return re.findall(r'<legend class="usa-legend usa-legend--item">([^<]*)</legend>', html)


def test_a_list_without_a_name_for_its_items_names_the_list_as_it_is() -> None:
    schema, ui = _people({})
    html = _draw(schema, ui, {})
    assert _buttons(html) == ["Add an entry to \u201cPeople who live with you\u201d"]
    assert "Nothing added yet." in html
    assert "a people" not in html
    two = _draw(schema, ui, {"people": [{}, {}]})
    assert _legends(two) == ["Entry 1", "Entry 2"]
    assert _buttons(two) == [
        "Remove entry 1 from \u201cPeople who live with you\u201d",
        "Remove entry 2 from \u201cPeople who live with you\u201d",
        "Add another entry to \u201cPeople who live with you\u201d",
    ]
    spanish = _draw(schema, ui, {"people": [{}]}, "es")
    assert _buttons(spanish) == [
        "Quitar la entrada 1 de \u00abPersonas que viven con usted\u00bb",
        "Agregar otra entrada a \u00abPersonas que viven con usted\u00bb",
    ]
    assert _legends(spanish) == ["Entrada 1"]
    assert _buttons(_draw(schema, ui, {}, "es")) == [
        "Agregar una entrada a \u00abPersonas que viven con usted\u00bb"
    ]


def test_a_list_whose_items_have_a_title_adds_one_of_them() -> None:
    schema, ui = _people({"title": "Household member"})
    assert _buttons(_draw(schema, ui, {})) == ["Add a household member"]
    one = _draw(schema, ui, {"people": [{}]})
    assert _legends(one) == ["Household member 1"]
    assert _buttons(one) == ["Remove household member 1", "Add another household member"]
    adults, _ = _people({"title": "Adult"})
    assert _buttons(_draw(adults, ui, {})) == ["Add an adult"]


def test_the_ui_documents_item_label_names_the_items_in_each_language() -> None:
    label = {"en": "person", "es": "persona"}
    schema, ui = _people({"title": "Person"}, {"item_label": label})
    assert _buttons(_draw(schema, ui, {})) == ["Add a person"]
    one = _draw(schema, ui, {"people": [{}]})
    assert _legends(one) == ["Person 1"]
    assert _buttons(one) == ["Remove person 1", "Add another person"]
    spanish = _draw(schema, ui, {"people": [{}]}, "es")
    assert _legends(spanish) == ["Persona 1"]
    assert _buttons(spanish) == [
        "Quitar persona 1",
        "Agregar persona adicional",
    ]  # "otro/otra" would need the gender
    named, ui_named = _people({}, {"item_label": {"en": "VA file"}})
    assert _legends(_draw(named, ui_named, {"people": [{}]})) == ["VA file 1"], "capitals kept"


async def test_the_page_saves_an_ssn_typed_with_dashes_as_digits() -> None:
    """Through the portal: "123-45-6789" on the first page is saved as 123456789; a number
    one digit short comes back with the digits it wants."""
    fake = FakeGateway()
    async with portal_browser(fake.transport()) as browser:
        await sign_in(browser)
        started = await post(
            browser, "/forms/snap", {"prefill": "yes", "version": "1"}, "/forms/snap/start"
        )
        first_page = started.headers["location"]
        draft_id = first_page.split("/")[2]
        short = await post(browser, first_page, {"/fullName": "Ana Diaz", "/ssn": "123-45-678"})
        assert short.status_code == 422
        assert "Social Security number must be 9 digits long" in short.text
        assert 'value="123-45-678"' in short.text, "kept as typed"
        done = await post(browser, first_page, {"/fullName": "Ana Diaz", "/ssn": "123-45-6789"})
        assert done.status_code == 303, done.text
        assert fake.drafts[draft_id]["answers"]["ssn"] == "123456789"
