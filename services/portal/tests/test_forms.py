"""The form engine over the 24 real VA schemas: every question drawn with a label, posted data
parsed back into the same answers, errors placed on their fields."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from tellonce_portal.forms import pointers
from tellonce_portal.forms.model import Condition, Field
from tellonce_portal.forms.parse import ListAction, coerce_number, parse_fields
from tellonce_portal.forms.render import FieldState, error_summary, render_fields
from tellonce_portal.forms.schema import FormDefinition
from tellonce_portal.forms.summary import rows_for, visible_answers
from tellonce_portal.forms.validate import from_api, on_fields, validate
from tellonce_portal.i18n import Translator
from tellonce_portal.templating import environment

DATA = Path(__file__).parent / "data"
SCHEMAS = sorted(DATA.glob("*-schema.json"))
EXAMPLES = sorted(DATA.glob("*-example.json"))


def load(path: Path) -> Any:
    return json.loads(path.read_text())


class FormScraper(HTMLParser):
    """What a browser would post for a page, and the page's labels and ids."""

    def __init__(self) -> None:
        super().__init__()
        self.data: dict[str, list[str]] = {}
        self.ids: list[str] = []
        self.label_for: set[str] = set()
        self.inputs: list[dict[str, str]] = []
        self._select: str | None = None
        self._option: dict[str, str] | None = None
        self._textarea: str | None = None
        self._first_option: dict[str, str] = {}
        self._selected: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if "id" in a:
            self.ids.append(a["id"])
        if tag == "label" and "for" in a:
            self.label_for.add(a["for"])
        if tag == "input":
            self.inputs.append(a)
            kind = a.get("type", "text")
            if kind == "submit":
                return
            if kind in ("radio", "checkbox") and "checked" not in a:
                return
            self.data.setdefault(a["name"], []).append(a.get("value", ""))
        elif tag == "select":
            self.inputs.append(a)
            self._select = a["name"]
        elif tag == "option" and self._select is not None:
            if "selected" in a:
                self.data.setdefault(self._select, []).append(a.get("value", ""))
                self._selected.add(self._select)
        elif tag == "textarea":
            self.inputs.append(a)
            self._textarea = a["name"]
            self.data.setdefault(a["name"], []).append("")

    def handle_data(self, data: str) -> None:
        if self._textarea is not None:
            self.data[self._textarea][-1] += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None


def scrape(html: str) -> FormScraper:
    scraper = FormScraper()
    scraper.feed(html)
    return scraper


def draw(defn: FormDefinition, answers: dict[str, Any], **state: Any) -> tuple[list[Any], str]:
    fields = defn.fields(answers)
    html = render_fields(
        environment(), fields, FieldState.build(answers, fields=fields, **state), Translator("en")
    )
    return fields, str(html)


@pytest.mark.parametrize("path", SCHEMAS, ids=lambda p: p.name)
def test_every_corpus_question_has_a_label_and_a_unique_id(path: Path) -> None:
    defn = FormDefinition(load(path))
    pages = defn.pages({})
    assert pages, "a form has at least one page"
    for page in pages:
        fields = defn.page_fields(page, {})
        html = str(
            render_fields(
                environment(), fields, FieldState.build({}, fields=fields), Translator("en")
            )
        )
        page_html = scrape(html)
        assert len(page_html.ids) == len(set(page_html.ids)), "ids are unique on a page"
        for tag in page_html.inputs:
            if tag.get("type") in ("hidden", "submit"):
                continue
            if tag.get("type") in ("radio",) or (
                tag.get("type") == "checkbox" and tag.get("id", "").rsplit("-", 1)[-1].isdigit()
            ):
                assert tag["id"] in page_html.label_for
                continue
            assert tag["id"] in page_html.label_for, f"{tag['name']} has a label"
            assert tag["name"].startswith("/"), "field names are JSON pointers"


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_answers_survive_a_round_trip_through_the_html(path: Path) -> None:
    schema = load(DATA / path.name.replace("-example", "-schema"))
    answers = load(path)
    defn = FormDefinition(schema)
    fields, html = draw(defn, answers)
    posted = scrape(html).data
    result = parse_fields(fields, posted, {})
    assert result.errors == []
    # 21-0779's example carries a key its own schema lacks; compare what the form asks.
    expected: dict[str, Any] = {}
    for top in fields:
        for leaf in top.leaves():
            value = pointers.get(answers, leaf.pointer)
            if value is not None:
                pointers.set_value(expected, leaf.pointer, value)
    assert len(expected) >= len(answers) - 1
    assert pointers.prune(result.answers) == pointers.prune(expected)


def test_long_forms_are_split_into_sections_and_short_ones_are_one_page() -> None:
    long_form = FormDefinition(load(DATA / "40-10007-schema.json"))
    assert len(long_form.pages({})) > 5
    short = FormDefinition(load(DATA / "21-0966-schema.json"))
    assert len(short.pages({})) == 1


def test_types_are_coerced_per_the_schema_and_bad_numbers_are_kept_as_typed() -> None:
    schema = {
        "type": "object",
        "properties": {
            "children": {"type": "integer"},
            "income": {"type": "number"},
            "married": {"type": "boolean"},
            "agree": {"type": "boolean", "enum": [True]},
            "score": {"type": "integer", "enum": [1, 2, 3]},
            "tags": {"type": "array", "items": {"type": "string", "enum": ["a", "b", "c"]}},
            "aliases": {"type": "array", "items": {"type": "string"}},
            "note": {"type": "string"},
        },
    }
    defn = FormDefinition(schema)
    fields = defn.fields({})
    posted = {
        "/children": ["2"],
        "/income": ["1,250.50"],
        "/married": ["false"],
        "/agree": ["true"],
        "/score": ["3"],
        "/tags": ["a", "c"],
        "/aliases": ["Jo\n\n Joe \n"],
        "/note": ["   "],
    }
    result = parse_fields(fields, posted, {"note": "old"})
    assert result.errors == []
    assert result.answers == {
        "children": 2,
        "income": 1250.5,
        "married": False,
        "agree": True,
        "score": 3,
        "tags": ["a", "c"],
        "aliases": ["Jo", "Joe"],
    }
    bad = parse_fields(fields, {"/children": ["two"], "/score": ["9"]}, {"children": 1})
    assert [e.pointer for e in bad.errors] == ["/children", "/score"]
    assert bad.raw["/children"] == "two"
    assert bad.answers["children"] == 1, "a value that does not parse leaves the saved one"
    _, html = draw(defn, bad.answers, raw=bad.raw, errors=bad.errors)
    assert 'value="two"' in html, "the resident's answer is kept as typed"


HOUSEHOLD: dict[str, Any] = {
    "type": "object",
    "required": ["household"],
    "properties": {
        "household": {
            "type": "array",
            "maxItems": 3,
            "items": {
                "type": "object",
                "required": ["name"],
                "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
            },
        }
    },
}


def test_household_members_are_added_and_removed_without_javascript() -> None:
    defn = FormDefinition(HOUSEHOLD)
    answers: dict[str, Any] = {}
    fields = defn.fields(answers)
    _, html = draw(defn, answers)
    assert 'value="add:/household"' in html
    action = ListAction.parse("add:/household")
    assert action is not None
    assert action.apply(answers, fields)
    assert action.apply(answers, defn.fields(answers))
    fields = defn.fields(answers)
    result = parse_fields(
        fields,
        {"/household/0/name": ["Ana"], "/household/1/name": ["Ben"], "/household/1/age": ["7"]},
        answers,
    )
    assert result.answers == {"household": [{"name": "Ana"}, {"name": "Ben", "age": 7}]}
    _, html = draw(defn, result.answers)
    assert 'value="remove:/household/1"' in html
    remove = ListAction.parse("remove:/household/0")
    assert remove is not None
    assert remove.apply(result.answers, defn.fields(result.answers))
    assert result.answers == {"household": [{"name": "Ben", "age": 7}]}
    assert ListAction.parse("remove:/household") is None
    assert ListAction.parse("drop:/household/0") is None
    unknown = ListAction.parse("add:/nothing")
    assert unknown is not None
    assert not unknown.apply(result.answers, defn.fields(result.answers))


def test_validation_messages_sit_on_their_fields_and_link_from_the_summary() -> None:
    defn = FormDefinition(load(DATA / "21-0966-schema.json"))
    answers: dict[str, Any] = {}
    fields = defn.fields(answers)
    errors = on_fields(validate(defn.schema, answers, fields), fields)
    assert errors, "an empty form has errors"
    assert all(e.message[0].isupper() and "'" not in e.message for e in errors)
    _, html = draw(defn, answers, errors=errors)
    page = scrape(html)
    for href, _message in error_summary(errors, fields):
        assert href[1:] in page.ids, "every summary link lands on an element of the page"
    first = errors[0]
    assert f'id="{fields[0].html_id}' in html or first.pointer
    assert 'aria-describedby="' in html
    assert "-error" in html


def test_an_email_in_the_wrong_format_gets_a_govuk_message() -> None:
    schema = {"type": "object", "properties": {"email": {"type": "string", "format": "email"}}}
    defn = FormDefinition(schema)
    fields = defn.fields({})
    errors = validate(schema, {"email": "not-an-email"}, fields)
    assert [(e.pointer, e.message) for e in errors] == [
        ("/email", "Enter an email address in the correct format, like name@example.com")
    ]
    es = validate(schema, {"email": "x"}, fields, "es")
    assert es[0].message.startswith("Escriba un correo")


def test_api_errors_are_placed_on_fields_with_labels() -> None:
    defn = FormDefinition(HOUSEHOLD)
    answers = {"household": [{"age": 3}]}
    fields = defn.fields(answers)
    raw = [
        {"pointer": "/household/0", "message": "'name' is a required property"},
        {"pointer": "/household/0/age", "message": "3 is less than 5"},
        {"pointer": "/elsewhere", "message": "not on this page"},
    ]
    placed = on_fields(from_api(raw), fields)
    assert [(e.pointer, e.message) for e in placed] == [
        ("/household/0/name", "Enter name"),
        ("/household/0/age", "3 is less than 5"),
    ]


def test_conditions_from_the_ui_document_show_and_drop_questions() -> None:
    schema = {
        "type": "object",
        "properties": {
            "hasSpouse": {"type": "boolean"},
            "spouseName": {"type": "string"},
        },
    }
    ui = {
        "pages": [
            {"id": "you", "title": "You", "fields": ["/hasSpouse"]},
            {"id": "spouse", "title": "Your spouse", "fields": ["/spouseName"],
             "show_if": {"pointer": "/hasSpouse", "equals": True}},
        ],
        "fields": {"/spouseName": {"show_if": {"pointer": "/hasSpouse", "equals": True}}},
    }  # fmt: skip
    defn = FormDefinition(schema, ui)
    assert [p.id for p in defn.pages({"hasSpouse": False})] == ["you"]
    assert [p.id for p in defn.pages({"hasSpouse": True})] == ["you", "spouse"]
    fields = defn.fields({"hasSpouse": True})
    result = parse_fields(fields, {"/hasSpouse": ["false"], "/spouseName": ["Kim"]}, {})
    assert result.answers == {"hasSpouse": False}, "an answer to a hidden question is dropped"
    # On one page, the question is shown with a reveal that scripts may enhance.
    one_page = FormDefinition(schema, {"fields": ui["fields"]})
    _, html = draw(one_page, {})
    assert 'data-show-if="/hasSpouse"' in html


def test_spanish_labels_come_from_the_ui_document_with_english_fallback_marked() -> None:
    schema = {
        "type": "object",
        "properties": {
            "dateOfBirth": {"type": "string", "format": "date"},
            "city": {"type": "string"},
        },
    }
    ui = {
        "fields": {"/dateOfBirth": {"label": {"en": "Date of birth", "es": "Fecha de nacimiento"}}}
    }
    defn = FormDefinition(schema, ui, locale="es")
    fields = defn.fields({})
    html = str(
        render_fields(environment(), fields, FieldState.build({}, fields=fields), Translator("es"))
    )
    assert "Fecha de nacimiento" in html
    assert '<span lang="en">City</span>' in html
    assert "(opcional)" in html
    assert re.search(r'type="date"[^>]*autocomplete="bday"', html)


def test_prefilled_answers_are_marked_and_described() -> None:
    schema = {
        "type": "object",
        "properties": {"ssn": {"type": "string", "x-element": "person.ssn"}},
    }
    defn = FormDefinition(schema)
    _, html = draw(defn, {"ssn": "123456789"}, prefilled={"/ssn"})
    assert 'id="f-ssn-prefilled"' in html
    assert 'aria-describedby="f-ssn-prefilled"' in html
    assert 'value="123456789"' in html


def test_check_your_answers_rows_use_option_labels_and_the_locale() -> None:
    from tellonce_portal.forms.summary import sections, visible_answers

    schema = {
        "type": "object",
        "properties": {
            "state": {
                "type": "string",
                "enum": ["CT", "NY"],
                "enumNames": ["Connecticut", "New York"],
            },
            "married": {"type": "boolean"},
            "born": {"type": "string", "format": "date"},
            "household": HOUSEHOLD["properties"]["household"],
            "spouse": {"type": "string"},
        },
    }
    ui = {
        "pages": [
            {"id": "a", "title": {"en": "You", "es": "Usted"},
             "fields": ["/state", "/married", "/born", "/household"]},
            {"id": "b", "title": "Spouse", "fields": ["/spouse"],
             "show_if": {"pointer": "/married", "equals": True}},
        ]
    }  # fmt: skip
    answers = {
        "state": "CT",
        "married": False,
        "born": "1990-04-02",
        "household": [{"name": "Ana", "age": 7}],
        "spouse": "Kim",
    }
    defn = FormDefinition(schema, ui, locale="es")
    [only] = sections(defn, answers, Translator("es"))
    values = {row.label: row.value for row in only.rows}
    assert only.title == "Usted"
    assert values["State"] == "Connecticut"
    assert values["Married"] == "No"
    assert values["Born"] == "2 de abril de 1990"
    assert values["Household 1: Name"] == "Ana"
    assert visible_answers(defn, answers) == {
        "state": "CT",
        "married": False,
        "born": "1990-04-02",
        "household": [{"name": "Ana", "age": 7}],
    }, "the spouse page is skipped, so its answer is not sent"


def test_the_ui_document_titles_the_form_in_spanish() -> None:
    schema = {"type": "object", "title": "Schema title", "properties": {"a": {"type": "string"}}}
    ui = {"title": {"en": "Food help", "es": "Ayuda alimentaria"}}
    assert (
        FormDefinition(schema, ui, title="Catalog title", locale="es").title == "Ayuda alimentaria"
    )
    assert FormDefinition(schema, ui, title="Catalog title", locale="en").title == "Catalog title"
    assert FormDefinition(schema, None, locale="es").title == "Schema title"


def test_parse_errors_speak_the_page_language() -> None:
    schema = {"type": "object", "properties": {"children": {"type": "integer"}}}
    ui = {"fields": {"/children": {"label": {"en": "Children", "es": "Hijos"}}}}
    fields = FormDefinition(schema, ui, locale="es").fields({})
    result = parse_fields(fields, {"/children": ["dos"]}, {}, "es")
    assert [e.message for e in result.errors] == ["Hijos debe ser un número entero"]


ADDRESS_BY_COUNTRY = {
    "type": "object",
    "properties": {
        "address": {
            "type": "object",
            "title": "Address",
            "oneOf": [
                {
                    "properties": {
                        "country": {"type": "string", "enum": ["USA"]},
                        "state": {"type": "string", "enum": ["CT", "NY"]},
                        "postalCode": {"type": "string", "pattern": "^\\d{5}$"},
                    }
                },
                {
                    "properties": {
                        "country": {"type": "string", "enum": ["CAN"]},
                        "state": {"type": "string", "enum": ["ON", "QC"]},
                    }
                },
                {
                    "properties": {
                        "country": {"not": {"type": "string", "enum": ["USA", "CAN"]}},
                        "provinceCode": {"type": "string", "maxLength": 5},
                    }
                },
            ],
            "properties": {
                "country": {"type": "string", "title": "Country"},
                "state": {"type": "string", "title": "State"},
                "postalCode": {"type": "string", "title": "ZIP code"},
                "provinceCode": {"type": "string", "title": "Province"},
            },
        }
    },
}


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ({"country": "USA", "state": "XX"}, [("/address/state", "Select state from the list")]),
        ({"country": "CAN", "state": "CT"}, [("/address/state", "Select state from the list")]),
        (
            {"country": "USA", "state": "CT", "postalCode": "6101"},
            [("/address/postalCode", "ZIP code must be 5 digits long")],
        ),
        ({"country": "FRA", "provinceCode": "far too long"}, [("/address/provinceCode",
          "Province must be 5 characters or fewer")]),
        ({"country": "USA", "state": "CT", "postalCode": "06101"}, []),
    ],
)  # fmt: skip
def test_an_answer_that_fits_no_branch_is_told_what_to_fix_in_the_branch_it_chose(
    address: dict[str, str], expected: list[tuple[str, str]]
) -> None:
    defn = FormDefinition(ADDRESS_BY_COUNTRY)
    fields = defn.fields({})
    errors = validate(ADDRESS_BY_COUNTRY, {"address": address}, fields)
    assert [(e.pointer, e.message) for e in errors] == expected


def test_branches_told_apart_only_by_what_is_given_say_which_to_give() -> None:
    schema = {
        "type": "object",
        "properties": {
            "contact": {
                "type": "object",
                "title": "Contact",
                "properties": {"phone": {"type": "string"}, "email": {"type": "string"}},
                "oneOf": [{"required": ["phone"]}, {"required": ["email"]}],
            }
        },
    }
    fields = FormDefinition(schema).fields({})
    neither = validate(schema, {"contact": {}}, fields)
    assert [(e.pointer, e.message) for e in neither] == [
        ("/contact", "Enter at least one of: phone, email")
    ]
    both = validate(schema, {"contact": {"phone": "1", "email": "a@b.c"}}, fields)
    assert [(e.pointer, e.message) for e in both] == [
        ("/contact", "Enter only one of: phone, email")
    ]
    es = validate(schema, {"contact": {"phone": "1", "email": "a@b.c"}}, fields, "es")
    assert es[0].message == "Escriba solo uno de: phone, email"


def test_a_va_address_with_a_state_of_another_country_is_told_on_the_state() -> None:
    defn = FormDefinition(load(DATA / "10-10EZ-schema.json"))
    address = {"street": "1 Main St", "city": "Hartford", "country": "USA", "state": "ON"}
    answers = {"veteranAddress": address}
    errors = validate(defn.schema, answers, defn.fields(answers))
    mine = [e for e in errors if e.pointer.startswith("/veteranAddress")]
    assert [e.pointer for e in mine] == ["/veteranAddress/state"]
    assert mine[0].message.endswith("from the list")
    address["state"] = "CT"
    assert not [e for e in validate(defn.schema, answers, defn.fields(answers))
                if e.pointer.startswith("/veteranAddress")]  # fmt: skip


def _address_schema(
    branches: list[Any], definitions: dict[str, Any] | None = None
) -> dict[str, Any]:
    return {
        "type": "object",
        "$defs": definitions or {},
        "properties": {
            "address": {
                "type": "object",
                "title": "Address",
                "oneOf": branches,
                "properties": {"country": {"type": "string"}, "state": {"type": "string"}},
            }
        },
    }


US_BRANCH = {"properties": {"country": {"const": "USA"}, "state": {"enum": ["CT", "NY"]}}}


@pytest.mark.parametrize(
    ("branches", "definitions", "address", "expected"),
    [
        # a branch that pins nothing is never the one chosen: the general message stays
        ([{"type": "string"}, US_BRANCH], None, {"country": "CAN", "state": "CA"}, "/address"),
        ([False, US_BRANCH], None, {"country": "CAN", "state": "CA"}, "/address"),
        # branches behind local references are read through them
        (
            [{"$ref": "#/$defs/us"}, {"$ref": "#/$defs/ca"}],
            {
                "us": US_BRANCH,
                "ca": {
                    "properties": {"country": {"const": "CAN"}, "state": {"enum": ["ON", "QC"]}}
                },
            },
            {"country": "USA", "state": "ON"},
            "/address/state",
        ),
    ],
)
def test_the_branch_chosen_must_pin_what_the_answers_match(
    branches: list[Any], definitions: dict[str, Any] | None, address: dict[str, str], expected: str
) -> None:
    schema = _address_schema(branches, definitions)
    fields = FormDefinition(schema).fields({})
    errors = validate(schema, {"address": address}, fields)
    assert [e.pointer for e in errors] == [expected]


# -- an address asked by country (oneOf branches told apart by a discriminator) -------------

VETERAN_ADDRESS = "/veteranAddress"


def _address_questions(defn: FormDefinition, answers: dict[str, Any]) -> list[Field]:
    group = defn.field_for(VETERAN_ADDRESS, answers)
    assert group is not None
    return group.children


def _by_name(fields: list[Field]) -> dict[str, Field]:
    return {f.name: f for top in fields for f in top.walk()}


def test_a_va_address_asks_the_country_once_and_the_state_of_each_country() -> None:
    defn = FormDefinition(load(DATA / "10-10EZ-schema.json"))
    questions = _address_questions(defn, {})
    asked = [(f.name, f.kind) for f in questions]
    assert [name for name, _ in asked].count("/veteranAddress/country") == 1
    country = next(f for f in questions if f.name == "/veteranAddress/country")
    assert country.condition is None
    assert country.required, "the object requires a country"
    assert country.kind == "radios"
    assert [(o.value, o.label) for o in country.options] == [
        ("CAN", "Canada"), ("MEX", "Mexico"), ("USA", "United States")
    ]  # fmt: skip
    assert country.other is not None
    assert country.other.label == "Another country"
    assert country.hint == "", "no 'write it exactly like that' hint: the values are choices"
    states = [f for f in questions if f.pointer == "/veteranAddress/state"]
    assert [f.kind for f in states] == ["select", "select", "select"]
    assert [f.condition.values for f in states if f.condition] == [("CAN",), ("MEX",), ("USA",)]
    us_state = states[2]
    assert {"CT", "NY"} <= {o.value for o in us_state.options}
    assert "ON" not in {o.value for o in us_state.options}
    assert us_state.hint == "If country is United States"
    assert len({f.name for f in states}) == len({f.html_id for f in states}) == 3
    province = next(f for f in questions if f.pointer == "/veteranAddress/provinceCode")
    assert province.condition is not None
    assert province.condition.negate
    assert province.hint == "If country is not Canada, Mexico or United States"
    street = next(f for f in questions if f.pointer == "/veteranAddress/street")
    assert street.condition is None, "a question the same in every branch is asked once"
    assert street.required


def test_the_country_questions_are_revealed_by_the_country_answer_in_the_html() -> None:
    defn = FormDefinition(load(DATA / "10-10EZ-schema.json"))
    fields = [f for f in defn.fields({}) if f.pointer == VETERAN_ADDRESS]
    html = str(
        render_fields(environment(), fields, FieldState.build({}, fields=fields), Translator("en"))
    )
    page = scrape(html)
    assert len(page.ids) == len(set(page.ids))
    names = [tag["name"] for tag in page.inputs if tag.get("name", "").startswith(VETERAN_ADDRESS)]
    assert names.count("/veteranAddress/state~v2") == 1
    assert names.count("/veteranAddress/country") == 4, "three countries and another one"
    assert names.count("/veteranAddress/country~other") == 1
    assert 'data-show-if="/veteranAddress/country" data-show-values="[&#34;USA&#34;]">' in html
    others = 'data-show-values="[&#34;CAN&#34;, &#34;MEX&#34;, &#34;USA&#34;]" data-show-unless'
    assert others in html
    assert "If country is United States" in html, "without JavaScript each says whom it is for"


def test_only_the_chosen_countrys_answer_is_kept_when_parsed() -> None:
    defn = FormDefinition(load(DATA / "10-10EZ-schema.json"))
    fields = [f for f in defn.fields({}) if f.pointer == VETERAN_ADDRESS]
    posted = {
        "/veteranAddress/street": ["1 Main St"],
        "/veteranAddress/city": ["Hartford"],
        "/veteranAddress/country": ["USA"],
        "/veteranAddress/state~v0": ["ON"],
        "/veteranAddress/state~v2": ["CT"],
        "/veteranAddress/provinceCode~v3": ["Bavaria"],
    }
    us = parse_fields(fields, posted, {})
    assert us.errors == []
    assert us.answers["veteranAddress"] == {
        "street": "1 Main St", "city": "Hartford", "country": "USA", "state": "CT"
    }  # fmt: skip
    canada = parse_fields(fields, {**posted, "/veteranAddress/country": ["CAN"]}, {})
    assert canada.answers["veteranAddress"]["state"] == "ON"
    assert "provinceCode" not in canada.answers["veteranAddress"]
    germany = parse_fields(fields, {**posted, "/veteranAddress/country": ["DEU"]}, {})
    assert germany.answers["veteranAddress"]["provinceCode"] == "Bavaria"
    assert "state" not in germany.answers["veteranAddress"], "a hidden branch's value is dropped"
    earlier = {"veteranAddress": {"country": "USA", "state": "CT"}}
    blank = parse_fields(fields, {"/veteranAddress/country": [""]}, earlier)
    assert "state" not in blank.answers.get("veteranAddress", {}), "no country, no state"


def test_a_us_state_from_the_us_list_passes_and_a_wrong_one_is_told_on_its_select() -> None:
    defn = FormDefinition(load(DATA / "10-10EZ-schema.json"))
    posted = {
        "/veteranAddress/street": ["1 Main St"],
        "/veteranAddress/city": ["Hartford"],
        "/veteranAddress/country": ["USA"],
        "/veteranAddress/state~v2": ["CT"],
    }
    fields = [f for f in defn.fields({}) if f.pointer == VETERAN_ADDRESS]
    parsed = parse_fields(fields, posted, {})
    errors = validate(defn.schema, parsed.answers, defn.fields(parsed.answers))
    assert [e for e in errors if e.pointer.startswith(VETERAN_ADDRESS)] == []
    wrong = parse_fields(fields, {**posted, "/veteranAddress/state~v2": ["ON"]}, {})
    assert [(e.pointer, e.message) for e in wrong.errors] == [
        ("/veteranAddress/state", "Select state from the list")
    ]
    summary = error_summary(wrong.errors, fields, wrong.answers)
    assert summary == [("#f-veteranAddress-state--2", "Select state from the list")]
    state = FieldState.build(wrong.answers, wrong.errors, wrong.raw, fields=fields)
    html = str(render_fields(environment(), fields, state, Translator("en")))
    assert html.count("Select state from the list") == 1, "only the shown question says it"
    assert 'id="f-veteranAddress-state--2-error"' in html
    assert '<option value="ON" selected>' not in html.split('id="f-veteranAddress-state--0"')[1]


def test_check_your_answers_shows_the_chosen_countrys_question_once() -> None:
    defn = FormDefinition(load(DATA / "10-10EZ-schema.json"))
    answers = {"veteranAddress": {"street": "1 Main St", "country": "CAN", "state": "ON"}}
    fields = [f for f in defn.fields(answers) if f.pointer == VETERAN_ADDRESS]
    rows = [(r.label, r.value, r.html_id) for r in rows_for(fields, answers, Translator("en"))]
    state_rows = [r for r in rows if r[0].endswith("State")]
    assert state_rows == [("Veteran address: State", "ON", "f-veteranAddress-state--0")]
    stale = {"veteranAddress": {**answers["veteranAddress"], "provinceCode": "x"}}
    kept = visible_answers(defn, stale)
    assert kept["veteranAddress"] == answers["veteranAddress"]


def test_api_errors_on_an_answer_asked_per_country_use_the_chosen_question() -> None:
    defn = FormDefinition(load(DATA / "10-10EZ-schema.json"))
    answers = {"veteranAddress": {"country": "USA"}}
    fields = [f for f in defn.fields(answers) if f.pointer == VETERAN_ADDRESS]
    placed = on_fields(from_api([{"pointer": "/veteranAddress",
                                  "message": "'state' is a required property"}]), fields,
                       "en", answers)  # fmt: skip
    assert [(e.pointer, e.message) for e in placed] == [("/veteranAddress/state", "Select state")]


def test_the_which_country_hint_is_in_spanish_on_a_spanish_page() -> None:
    defn = FormDefinition(load(DATA / "10-10EZ-schema.json"), locale="es")
    questions = _address_questions(defn, {})
    us_state = next(f for f in questions if f.name == "/veteranAddress/state~v2")
    assert us_state.hint == "Si country es Estados Unidos"
    province = next(f for f in questions if f.pointer == "/veteranAddress/provinceCode")
    assert province.hint == "Si country no es Canadá, México o Estados Unidos"


@pytest.mark.parametrize(
    "schema",
    [
        # 21-686C: two branches pin addressType to INTERNATIONAL, so it tells nothing apart
        load(DATA / "21-686C-schema.json"),
        # a branch whose country is open (any string) overlaps the USA one
        _address_schema([{"properties": {"country": {"type": "string"}}}, US_BRANCH]),
        # "not USA" is not every value but CAN's: CAN would select two branches
        _address_schema([
            US_BRANCH,
            {"properties": {"country": {"const": "CAN"}, "state": {"enum": ["ON"]}}},
            {"properties": {"country": {"not": {"enum": ["USA"]}}}},
        ]),
    ],
    ids=["21-686C", "open-branch", "overlapping-not"],
)  # fmt: skip
def test_branches_without_a_clean_discriminator_keep_the_merged_questions(
    schema: dict[str, Any],
) -> None:
    defn = FormDefinition(schema)
    fields = [f for f in defn.fields({}) if f.pointer in ("/address", VETERAN_ADDRESS)]
    assert fields
    assert not [f for top in fields for f in top.walk() if f.variant]
    names = [f.name for top in fields for f in top.walk()]
    assert len(names) == len(set(names))


def test_const_pinned_branches_offer_the_union_of_their_values_in_schema_order() -> None:
    schema = _address_schema([
        {"properties": {"country": {"const": "USA"}, "state": {"enum": ["CT", "NY"]}},
         "required": ["state"]},
        {"properties": {"country": {"const": "CAN"}, "state": {"enum": ["ON", "QC"]}}},
    ])  # fmt: skip
    questions = _address_questions_of(FormDefinition(schema), "/address")
    country = _by_name(questions)["/address/country"]
    assert [o.value for o in country.options] == ["USA", "CAN"]
    assert country.kind == "radios"
    states = [f for f in questions if f.pointer == "/address/state"]
    assert [(f.kind, f.required) for f in states] == [("radios", True), ("radios", False)]
    assert states[0].hint == "If country is USA"


def _address_questions_of(defn: FormDefinition, pointer: str) -> list[Field]:
    group = defn.field_for(pointer, {})
    assert group is not None
    return group.children


def test_a_yes_no_discriminator_reveals_its_questions_after_it() -> None:
    # 21-686C's current marriage: spouseHasNoSsn true asks the reason, false the SSN.
    defn = FormDefinition(load(DATA / "21-686C-schema.json"))
    questions = _address_questions_of(defn, "/currentMarriage")
    order = [f.name for f in questions]
    key = order.index("/currentMarriage/spouseHasNoSsn")
    assert key < order.index("/currentMarriage/spouseSocialSecurityNumber~v0")
    reason = _by_name(questions)["/currentMarriage/spouseHasNoSsnReason~v0"]
    assert reason.required
    assert reason.hint == "If spouse has no ssn is Yes"
    ssn = _by_name(questions)["/currentMarriage/spouseSocialSecurityNumber~v1"]
    assert ssn.required
    assert ssn.condition is not None
    assert ssn.condition.values == (False,)


def test_branches_asking_an_answer_the_same_way_share_one_question() -> None:
    # 22-1990: CAN, MEX and USA all allow a 10-character postal code, other countries 51.
    defn = FormDefinition(load(DATA / "22-1990-schema.json"))
    questions = _address_questions_of(defn, "/veteranAddress")
    postal = [f for f in questions if f.pointer == "/veteranAddress/postalCode"]
    assert [(f.name, f.max_length) for f in postal] == [
        ("/veteranAddress/postalCode~v0", 10), ("/veteranAddress/postalCode~v3", 51)
    ]  # fmt: skip
    assert postal[0].condition == Condition("/veteranAddress/country", ("CAN", "MEX", "USA"))
    assert postal[1].condition == Condition(
        "/veteranAddress/country", ("CAN", "MEX", "USA"), negate=True
    )
    posted = {"/veteranAddress/country": ["MEX"], "/veteranAddress/postalCode~v0": ["01000"],
              "/veteranAddress/postalCode~v3": ["ignored"]}  # fmt: skip
    fields = [f for f in defn.fields({}) if f.pointer == "/veteranAddress"]
    parsed = parse_fields(fields, posted, {})
    assert parsed.answers["veteranAddress"] == {"country": "MEX", "postalCode": "01000"}


def test_an_omitted_discriminator_keeps_the_merged_questions() -> None:
    schema = load(DATA / "10-10EZ-schema.json")
    defn = FormDefinition(schema, {"omit": ["/veteranAddress/country"]})
    questions = _address_questions(defn, {})
    assert [f.name for f in questions if f.pointer == "/veteranAddress/state"] == [
        "/veteranAddress/state"
    ]


@pytest.mark.parametrize("text", ["1e400", "9" * 400, "-1e999", "inf", "nan"])
def test_a_number_no_json_number_holds_is_not_a_number(text: str) -> None:
    """Such a number went through the checks (``inf`` meets ``minimum: 0``) and then failed
    to become JSON: a 500 on saving the page."""
    assert coerce_number(text, integer=False) is None
    assert coerce_number(text, integer=True) is None


def test_ordinary_numbers_still_read() -> None:
    assert coerce_number("1,234.50", integer=False) == 1234.5
    assert coerce_number("$1,200", integer=True) == 1200
    assert coerce_number("1e3", integer=False) == 1000.0


@pytest.mark.parametrize("fan", [2, 3, 8])
def test_a_schema_that_refers_back_to_itself_is_drawn(fan: int) -> None:
    """A field whose schema reaches itself again through ``anyOf`` branches, and an object
    holding itself (both valid, and accepted by the registry): the pages are drawn (before,
    the branches recursed until Python's limit: a 500 on every page of the form)."""
    loop = {"anyOf": [{"$ref": "#/$defs/ssn"} for _ in range(fan)] + [{"type": "string"}]}
    tree = {
        "type": "object",
        "properties": {"name": {"type": "string"}, "child": {"$ref": "#/$defs/tree"}},
    }
    schema = {
        "$defs": {"ssn": loop, "tree": tree},
        "type": "object",
        "properties": {
            "ssn": {"$ref": "#/$defs/ssn"},
            "name": {"type": "string"},
            "tree": {"$ref": "#/$defs/tree"},
        },
    }
    defn = FormDefinition(schema, title="Loops")
    assert defn.pages({})
    fields = {f.pointer: f for f in defn.fields({})}
    assert set(fields) == {"/ssn", "/name", "/tree"}
    assert fields["/ssn"].kind == "text"
