"""The country asked as a choice when one ``oneOf`` branch takes every other country (the VA
addresses: CAN, MEX, USA and "not CAN, MEX or USA"): the listed countries by name and
"Another country" with a text box; a typed name of a listed country ("united states") is
stored as its code and so selects that country's questions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tellonce_portal.forms import pointers
from tellonce_portal.forms.model import OTHER_CHOICE, Field, with_listed_choices
from tellonce_portal.forms.parse import parse_fields
from tellonce_portal.forms.render import FieldState, error_summary, render_fields
from tellonce_portal.forms.schema import FormDefinition
from tellonce_portal.forms.summary import rows_for
from tellonce_portal.i18n import Translator
from tellonce_portal.templating import environment

from .test_forms import DATA, SCHEMAS, load, scrape

ADDRESS = "/veteranAddress"
COUNTRY = "/veteranAddress/country"
OTHER = "/veteranAddress/country~other"
US_STATE = "/veteranAddress/state~v2"
OTHER_PROVINCE = "/veteranAddress/provinceCode~v3"


def address_fields(locale: str = "en", schema: str = "10-10EZ") -> list[Field]:
    defn = FormDefinition(load(DATA / f"{schema}-schema.json"), locale=locale)
    return [f for f in defn.fields({}) if f.pointer == ADDRESS]


def country_of(fields: list[Field], pointer: str = COUNTRY) -> Field:
    return next(f for top in fields for f in top.walk() if f.name == pointer)


def parsed_address(posted: dict[str, list[str]], locale: str = "en") -> dict[str, Any]:
    result = parse_fields(address_fields(locale), posted, {}, locale)
    assert result.errors == []
    address: dict[str, Any] = result.answers.get("veteranAddress", {})
    return address


def draw(fields: list[Field], state: FieldState, locale: str = "en") -> str:
    return str(render_fields(environment(), fields, state, Translator(locale)))


def branch_schema(listed: list[str], names: list[str] | None = None, key: str = "country") -> Any:
    """An address whose branches pin ``key`` to each of ``listed`` and one takes the rest."""
    branches: list[Any] = []
    for i, code in enumerate(listed):
        rule: dict[str, Any] = {"type": "string", "enum": [code]}
        if names:
            rule["enumNames"] = [names[i]]
        branches.append({"properties": {key: rule, "region": {"enum": [f"{code}-1"]}}})
    branches.append({"properties": {key: {"not": {"enum": listed}}, "region": {"type": "string"}}})
    address = {"type": "object", "oneOf": branches, "properties": {"city": {"type": "string"}}}
    return {"type": "object", "properties": {"address": address}}


# -- parsing: what is stored ----------------------------------------------------------------


def test_a_listed_choice_stores_its_code_and_reads_that_countrys_state() -> None:
    posted = {COUNTRY: ["USA"], OTHER: ["Canada"], US_STATE: ["CT"], OTHER_PROVINCE: ["x"]}
    assert parsed_address(posted) == {"country": "USA", "state": "CT"}, "the choice wins"


@pytest.mark.parametrize(
    ("typed", "code"),
    [("United States", "USA"), ("usa", "USA"), ("  united   STATES ", "USA"),
     ("unitedstates", "USA"), ("canada", "CAN"), ("MEX", "MEX"), ("Estados Unidos", "USA"),
     ("mexico", "MEX")],
)  # fmt: skip
def test_another_country_typed_as_a_listed_one_stores_the_listed_code(
    typed: str, code: str
) -> None:
    state = {"USA": "CT", "CAN": "ON", "MEX": "jalisco"}[code]
    states = (
        {US_STATE: [state]}
        if code == "USA"
        else {"/veteranAddress/state~v0": [state], "/veteranAddress/state~v1": [state]}
    )
    posted = {COUNTRY: [OTHER_CHOICE], OTHER: [typed], OTHER_PROVINCE: ["x"], **states}
    address = parsed_address(posted)
    assert address["country"] == code
    assert address["state"] == state, "the listed country's questions apply"
    assert "provinceCode" not in address, "not the other countries' ones"


def test_a_spanish_page_understands_accents_and_both_languages() -> None:
    assert parsed_address({COUNTRY: [OTHER_CHOICE], OTHER: ["México"]}, "es")["country"] == "MEX"
    assert parsed_address({COUNTRY: [OTHER_CHOICE], OTHER: ["Canadá"]}, "es")["country"] == "CAN"
    assert parsed_address({COUNTRY: [OTHER_CHOICE], OTHER: ["united states"]}, "es") == {
        "country": "USA"
    }


def test_a_genuinely_other_country_is_kept_as_typed_with_its_typed_province() -> None:
    posted = {COUNTRY: [OTHER_CHOICE], OTHER: ["France"], US_STATE: ["CT"],
              OTHER_PROVINCE: ["Bretagne"]}  # fmt: skip
    assert parsed_address(posted) == {"country": "France", "provinceCode": "Bretagne"}
    near_miss = parsed_address({COUNTRY: [OTHER_CHOICE], OTHER: ["United States of America"]})
    assert near_miss == {"country": "United States of America"}, "only codes and their names"


def test_without_javascript_a_name_typed_with_no_choice_counts_as_another_country() -> None:
    assert parsed_address({COUNTRY: [""], OTHER: ["Peru"]}) == {"country": "Peru"}
    assert parsed_address({COUNTRY: [""], OTHER: ["usa"]}) == {"country": "USA"}
    assert parsed_address({OTHER: ["Canada"]}) == {"country": "CAN"}
    assert parsed_address({COUNTRY: [""], OTHER: [""]}) == {}


@pytest.mark.parametrize(("locale", "message"), [("en", "Enter the country"),
                                                 ("es", "Escriba el país")])  # fmt: skip
def test_another_country_with_no_name_is_an_error_on_the_text_box(
    locale: str, message: str
) -> None:
    fields = address_fields(locale)
    earlier = {"veteranAddress": {"country": "France"}}
    result = parse_fields(fields, {COUNTRY: [OTHER_CHOICE], OTHER: ["  "]}, earlier, locale)
    assert [(e.pointer, e.message) for e in result.errors] == [(COUNTRY, message)]
    assert result.raw == {COUNTRY: OTHER_CHOICE, OTHER: ""}
    summary = error_summary(result.errors, fields, result.answers)
    assert summary == [("#f-veteranAddress-country-other", message)], "links to the text box"
    state = FieldState.build(result.answers, result.errors, result.raw, fields=fields)
    page = scrape(draw(fields, state, locale))
    assert page.data[COUNTRY] == [OTHER_CHOICE], "the choice is shown as made"
    assert page.data[OTHER] == [""], "not the earlier answer: the box was emptied"
    box = next(tag for tag in page.inputs if tag.get("name") == OTHER)
    assert box["aria-invalid"] == "true"
    assert "f-veteranAddress-country-error" in box["aria-describedby"].split()


# -- rendering --------------------------------------------------------------------------------


def test_the_country_is_radios_named_in_the_pages_language_and_another_country() -> None:
    fields = address_fields()
    html = draw(fields, FieldState.build({}, fields=fields))
    page = scrape(html)
    radios = [tag for tag in page.inputs if tag.get("name") == COUNTRY]
    assert [(r["type"], r["value"]) for r in radios] == [
        ("radio", "CAN"), ("radio", "MEX"), ("radio", "USA"), ("radio", OTHER_CHOICE)
    ]  # fmt: skip
    assert all(r["id"] in page.label_for for r in radios)
    for label in ("Canada", "Mexico", "United States", "Another country", "Country name"):
        assert f">{label}</label>" in html
    box = next(tag for tag in page.inputs if tag.get("name") == OTHER)
    assert box["id"] in page.label_for
    assert box["aria-describedby"] == "f-veteranAddress-country-other-hint"
    assert "If you chose another country" in html, "without JavaScript the box says when"
    reveal = html.split('id="f-veteranAddress-country-other-reveal"')[1].split(">")[0]
    assert 'data-show-if="/veteranAddress/country"' in reveal
    assert 'data-show-values="[&#34;~other&#34;]"' in reveal
    assert "write it exactly" not in html
    assert "If country is United States" in html
    assert '<legend class="usa-legend">Country' in html, "the choice is a fieldset"


def test_spanish_labels() -> None:
    fields = address_fields("es")
    html = draw(fields, FieldState.build({}, fields=fields), "es")
    for label in ("Canadá", "México", "Estados Unidos", "Otro país", "Nombre del país"):
        assert f">{label}</label>" in html
    assert "Si eligió otro país" in html


@pytest.mark.parametrize(
    ("saved", "chosen", "typed"),
    [("USA", "USA", ""), ("CAN", "CAN", ""), ("France", OTHER_CHOICE, "France"),
     ("United States", "USA", ""), (None, None, "")],
    ids=["code", "another-code", "other", "a-profile-name", "none"],
)  # fmt: skip
def test_a_saved_country_is_shown_chosen_again(
    saved: str | None, chosen: str | None, typed: str
) -> None:
    fields = address_fields()
    answers = {"veteranAddress": {"country": saved, "state": "CT"}} if saved else {}
    page = scrape(draw(fields, FieldState.build(answers, fields=fields)))
    assert page.data.get(COUNTRY) == ([chosen] if chosen else None)
    assert page.data[OTHER] == [typed]


def test_a_profile_country_is_chosen_and_marked_as_from_the_profile() -> None:
    fields = address_fields()
    answers = {"veteranAddress": {"country": "USA"}}
    state = FieldState.build(answers, prefilled={COUNTRY}, fields=fields)
    html = draw(fields, state)
    page = scrape(html)
    assert page.data[COUNTRY] == ["USA"]
    fieldset = html.split('<fieldset class="usa-fieldset" id="f-veteranAddress-country"')[1]
    assert 'aria-describedby="f-veteranAddress-country-prefilled"' in fieldset.split(">")[0]


def test_a_profile_naming_a_listed_country_shows_its_state_on_that_countrys_question() -> None:
    fields = address_fields()
    answers = {"veteranAddress": {"country": "United States", "state": "CT"}}
    page = scrape(draw(fields, FieldState.build(answers, fields=fields)))
    assert page.data[COUNTRY] == ["USA"]
    assert page.data[US_STATE] == ["CT"], "the state is on the US select, not the typed box"
    assert page.data[OTHER_PROVINCE] == [""]
    assert answers["veteranAddress"]["country"] == "United States", "the answers are not changed"
    posted = parse_fields(fields, page.data, answers).answers
    assert posted["veteranAddress"] == {"country": "USA", "state": "CT"}


def test_the_page_posts_back_what_it_shows() -> None:
    fields = address_fields()
    for saved in ("USA", "France"):
        answers = {"veteranAddress": {"country": saved}}
        posted = scrape(draw(fields, FieldState.build(answers, fields=fields))).data
        assert parse_fields(fields, posted, {}).answers == answers


def test_check_your_answers_shows_the_countrys_name() -> None:
    fields = address_fields()
    t = Translator("en")
    rows = rows_for(fields, {"veteranAddress": {"country": "USA", "state": "CT"}}, t)
    assert ("Veteran address: Country", "United States") in [(r.label, r.value) for r in rows]
    other = rows_for(fields, {"veteranAddress": {"country": "France"}}, t)
    assert [r.value for r in other if r.label.endswith("Country")] == ["France"]
    spanish = rows_for(address_fields("es"), {"veteranAddress": {"country": "MEX"}},
                       Translator("es"))  # fmt: skip
    assert "México" in [r.value for r in spanish]


def test_an_old_draft_naming_a_listed_country_is_summed_up_on_that_countrys_questions() -> None:
    """A draft saved before the country was a choice holds the name: check your answers shows
    its state (a US question) and not the other countries' province, as the page does."""
    defn = FormDefinition(load(DATA / "10-10EZ-schema.json"))
    answers = {"veteranAddress": {"country": "United States", "state": "CT", "provinceCode": "X"}}
    shown = defn.as_shown(answers)
    rows = [
        (r.label, r.value, r.html_id) for r in rows_for(address_fields(), shown, Translator("en"))
    ]
    assert rows == [
        ("Veteran address: Country", "United States", "f-veteranAddress-country"),
        ("Veteran address: State", "CT", "f-veteranAddress-state--2"),
    ]
    assert answers["veteranAddress"]["country"] == "United States", "the answers are not changed"
    assert defn.as_shown({"veteranAddress": {"country": "France"}}) == {
        "veteranAddress": {"country": "France"}
    }, "a name that is no listed country stays another country"


def _sample(defn: FormDefinition, node: Any, depth: int = 0) -> Any:
    """An answer for every question of ``node``: the first listed value, "x", two items in
    each list."""
    norm, _ = defn.normalize(node)
    if depth > 8:
        return None
    if norm.get("enum"):
        return norm["enum"][0]
    kind = norm.get("type")
    if kind == "object":
        out = {name: _sample(defn, sub, depth + 1) for name, sub in
               (norm.get("properties") or {}).items()}  # fmt: skip
        return {name: value for name, value in out.items() if value is not None}
    if kind == "array":
        item = _sample(defn, norm.get("items") or {}, depth + 1)
        return [item, item] if item is not None else []
    return {"string": "x", "boolean": True, "integer": 1, "number": 1}.get(str(kind))


NAMES = ["United States", "  canada", "France", "MEX", "méxico"]
"""Two names of listed countries, a country not listed, a code already listed, a name with
an accent and lower case."""


@pytest.mark.parametrize("path", SCHEMAS, ids=lambda p: p.name)
def test_as_shown_reads_each_forms_countries_as_its_built_questions_do(path: Path) -> None:
    """``as_shown`` looks the choices up from a list made once per form (list items
    included) instead of the questions built for the answers: both read alike."""
    defn = FormDefinition(load(path))
    answers: dict[str, Any] = _sample(defn, defn.schema)
    choices = [f for top in defn.fields(answers) for f in top.walk() if f.other is not None]
    for i, choice in enumerate(choices):
        pointers.set_value(answers, choice.pointer, NAMES[i % len(NAMES)])
    expected = with_listed_choices(defn.fields(answers), answers)
    shown = FormDefinition(load(path)).as_shown(answers)
    assert shown == expected
    assert (shown is answers) == (shown == answers), "a copy only when something is read"
    if any(pointers.get(answers, c.pointer) in NAMES[:2] for c in choices):
        assert shown != answers, "a listed country's name is read as that country"
    assert defn.as_shown(shown) is shown, "answers so read need nothing more"
    in_lists = [c for c in choices if any(part.isdigit() for part in pointers.split(c.pointer))]
    if path.name == "5655-schema.json":
        assert len(in_lists) == 4, "two items of each of two lists"


def test_answers_that_need_no_reading_are_returned_without_building_a_question(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Every request of a draft reads its answers through ``as_shown``: for answers that
    hold no listed country's name (every new draft) it returns them as they are, without
    building the form's questions for them; the choices it looks up are found once per
    definition, building only the parts that may hold one."""
    built = 0
    real_build = FormDefinition._build

    def counting(self: FormDefinition, *args: Any, **kwargs: Any) -> Any:
        nonlocal built
        built += 1
        return real_build(self, *args, **kwargs)

    defn = FormDefinition(load(DATA / "5655-schema.json"))
    answers: dict[str, Any] = _sample(defn, defn.schema)
    answers["personalData"]["address"] = {"country": "USA", "city": "x"}
    answers["personalData"]["employmentHistory"][1]["employerAddress"] = {"country": "Peru"}
    monkeypatch.setattr(FormDefinition, "_build", counting)
    defn.fields(answers)
    whole_form = built
    monkeypatch.setattr(FormDefinition, "fields", lambda *_: pytest.fail("fields built"))
    defn = FormDefinition(defn.schema)
    defn.pages(answers)  # as every request does: the page split builds the form's sections
    built = 0
    assert defn.as_shown(answers) is answers
    assert 0 < built < whole_form / 4, "the first time, an item of the lists with addresses"
    built = 0
    assert defn.as_shown(answers) is answers
    assert defn.as_shown({}) == {}
    assert built == 0, "nothing built again for the same form"
    no_choice = FormDefinition(load(DATA / "21-686C-schema.json"))
    sample = _sample(no_choice, no_choice.schema)
    built = 0
    assert no_choice.as_shown(sample) is sample
    assert built == 0, "a form whose schema says no 'not' has no such choice: nothing built"


# -- which discriminators -----------------------------------------------------------------


def test_the_schemas_enum_names_win_and_unknown_codes_show_as_codes() -> None:
    named = FormDefinition(branch_schema(["USA", "ZZZ"], ["The States", "Zedland"]))
    country = country_of(named.fields({}), "/address/country")
    assert [o.label for o in country.options] == ["The States", "Zedland"]
    assert country.other is not None
    assert country.other.listed("the states") == "USA"
    unnamed = FormDefinition(branch_schema(["USA", "ZZZ"]))
    options = country_of(unnamed.fields({}), "/address/country").options
    assert [o.label for o in options] == ["United States", "ZZZ"]


def test_a_discriminator_that_is_no_country_offers_something_else() -> None:
    defn = FormDefinition(branch_schema(["paper", "online"], key="channel"))
    channel = country_of(defn.fields({}), "/address/channel")
    assert channel.other is not None
    assert (channel.other.label, channel.other.text_label) == ("Something else", "Your answer")
    fields = defn.fields({})
    result = parse_fields(fields, {"/address/channel": [OTHER_CHOICE]}, {})
    assert [e.message for e in result.errors] == ["Enter your answer for channel"]
    typed = parse_fields(fields, {"/address/channel": [OTHER_CHOICE],
                                  "/address/channel~other": ["Online"]}, {})  # fmt: skip
    assert typed.answers == {"address": {"channel": "online"}}


def test_more_than_ten_listed_countries_keep_the_typed_box() -> None:
    codes = ["USA", "CAN", "MEX", "FRA", "DEU", "ESP", "ITA", "GBR", "IRL", "POL", "UKR"]
    country = country_of(FormDefinition(branch_schema(codes)).fields({}), "/address/country")
    assert country.kind == "text"
    assert country.other is None
    assert "write it exactly like that" in country.hint
    ten = country_of(FormDefinition(branch_schema(codes[:10])).fields({}), "/address/country")
    assert ten.kind == "select", "above five choices a select, with 'Another country' in it"
    assert ten.other is not None


def test_a_select_offers_another_country_and_its_box() -> None:
    codes = ["USA", "CAN", "MEX", "FRA", "DEU", "ESP"]
    fields = FormDefinition(branch_schema(codes)).fields({})
    answers = {"address": {"country": "Peru"}}
    html = draw(fields, FieldState.build(answers, fields=fields))
    page = scrape(html)
    assert page.data["/address/country"] == [OTHER_CHOICE]
    assert page.data["/address/country~other"] == ["Peru"]
    assert '<option value="~other" selected>Another country</option>' in html
    posted = {"/address/country": [OTHER_CHOICE], "/address/country~other": ["spain"]}
    assert parse_fields(fields, posted, {}).answers == {"address": {"country": "ESP"}}


def test_discriminators_without_an_every_other_branch_are_asked_as_before() -> None:
    closed = branch_schema(["USA", "CAN"])
    branches = closed["properties"]["address"]["oneOf"]
    branches.pop()  # no branch takes every other country: the listed ones are all there is
    country = country_of(FormDefinition(closed).fields({}), "/address/country")
    assert country.other is None
    assert [(o.value, o.label) for o in country.options] == [("USA", "USA"), ("CAN", "CAN")]
    html = draw([country], FieldState.build({}, fields=[country]))
    assert "~other" not in html


def test_a_state_typed_for_another_country_is_asked_again_when_the_country_is_listed() -> None:
    # Without JavaScript every state question shows: "usa" typed as another country and the
    # state typed in the other countries' box would lose the state without a word.
    fields = address_fields("en", "22-1990")
    typed_state = "/veteranAddress/state~v3"
    posted = {COUNTRY: [OTHER_CHOICE], OTHER: ["usa"], typed_state: ["Connecticut"]}
    result = parse_fields(fields, posted, {})
    assert result.answers["veteranAddress"] == {"country": "USA"}
    assert [(e.pointer, e.message) for e in result.errors] == [
        ("/veteranAddress/state", "Select state from the list")
    ]
    assert error_summary(result.errors, fields, result.answers) == [
        ("#f-veteranAddress-state--2", "Select state from the list")
    ]
    fine = parse_fields(fields, {**posted, US_STATE: ["CT"]}, {})
    assert fine.errors == []
    assert fine.answers["veteranAddress"] == {"country": "USA", "state": "CT"}
    chosen = parse_fields(fields, {**posted, COUNTRY: ["USA"], OTHER: [""]}, {})
    assert chosen.errors == [], "a country chosen from the list: the other box is ignored"
    nothing_typed = parse_fields(fields, {COUNTRY: [OTHER_CHOICE], OTHER: ["usa"]}, {})
    assert nothing_typed.errors == []
