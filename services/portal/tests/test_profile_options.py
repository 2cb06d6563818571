"""A kept choice by its label: the profile shows an enum element's value by the dictionary's
option label in the page's language (English when it has none in that language, the value
itself when it has no label at all, a masked value as masked), and the change page's radios
and select are labelled so, while the value posted and saved stays the raw one."""

from __future__ import annotations

import html
import re

import httpx

from .fake_gateway import FakeGateway
from .test_pages import browser, fake, post, sign_in

__all__ = ["browser", "fake"]  # the fixtures, shared with test_pages


def shown_values(page: str) -> dict[str, str]:
    """The profile's summary list: each row's key (the element's label) and value, as read."""
    rows = re.findall(
        r'<dt class="usa-summary-list__key">([^<]*)</dt>\s*'
        r'<dd class="usa-summary-list__value">([^<]*)</dd>',
        page,
    )
    return {html.unescape(key): html.unescape(value) for key, value in rows}


def radios(page: str) -> list[tuple[str, str, bool]]:
    """Each radio of the question ``/value``: its value, its label, and whether it is chosen."""
    found = re.findall(
        r'<input [^>]*type="radio"[^>]*name="/value" value="([^"]*)"( checked)?>\s*'
        r'<label class="usa-radio__label" for="[^"]+">([^<]*)</label>',
        page,
    )
    return [(html.unescape(v), html.unescape(label), bool(c)) for v, c, label in found]


def select_options(page: str) -> list[tuple[str, str, bool]]:
    """Each ``<option>`` of the question's select (the empty prompt left out)."""
    box = re.search(r'<select [^>]*name="/value"[^>]*>(.*?)</select>', page, re.S)
    assert box, "a select"
    found = re.findall(r'<option value="([^"]*)"( selected)?>([^<]*)</option>', box.group(1))
    return [(html.unescape(v), html.unescape(t), bool(s)) for v, s, t in found if v]


async def test_the_profile_shows_a_kept_choice_by_its_label(
    browser: httpx.AsyncClient, fake: FakeGateway
) -> None:
    fake.profile_values = {
        "person.fullName": "Ana Diaz",
        "household.heatingFuel": "natural_gas",
        "person.sex": "female",
        "household.size": 3,
    }
    await sign_in(browser)
    page = (await browser.get("/profile")).text
    assert shown_values(page) == {
        "Full name": "Ana Diaz",
        "Main heating fuel": "Natural gas",
        "Sex": "Female",
        "Number of people in the household": "3",
    }
    assert "natural_gas" not in page
    await browser.get("/language", params={"to": "es", "next": "/profile"})
    page = (await browser.get("/profile")).text
    assert shown_values(page) == {
        "Nombre completo": "Ana Diaz",
        "Combustible principal de calefacción": "Gas natural",
        "Sexo": "Femenino",
        "Número de personas en el hogar": "3",
    }


async def test_english_when_no_label_in_the_pages_language_the_value_when_none_at_all(
    browser: httpx.AsyncClient, fake: FakeGateway
) -> None:
    fuel = next(e for e in fake.elements if e["id"] == "household.heatingFuel")
    fuel["options"] = {"oil": {"en": "Heating oil"}, "wood": {"en": "Wood", "es": "Leña"}}
    fake.profile_values = {"household.heatingFuel": "oil"}
    await sign_in(browser)
    await browser.get("/language", params={"to": "es", "next": "/profile"})
    page = (await browser.get("/profile")).text
    assert shown_values(page)["Combustible principal de calefacción"] == "Heating oil"
    fake.profile_values = {"household.heatingFuel": "other"}  # a choice the dictionary leaves
    page = (await browser.get("/profile")).text
    assert shown_values(page)["Combustible principal de calefacción"] == "other"
    fake.profile_values = {"person.fullName": "wood"}  # the same text, not that element's
    page = (await browser.get("/profile")).text
    assert shown_values(page)["Nombre completo"] == "wood"


async def test_a_masked_choice_stays_masked(browser: httpx.AsyncClient, fake: FakeGateway) -> None:
    """What the API shows of a restricted value is not the value: never looked up as a
    choice, on the profile or on the change page (no radio chosen)."""
    fake.profile_values = {"person.citizenshipStatus": "permanent_resident"}
    await sign_in(browser)
    page = (await browser.get("/profile")).text
    assert shown_values(page) == {
        "Citizenship or immigration status": "\u2022\u2022\u2022\u2022dent"
    }
    assert "Lawful permanent resident" not in page
    change = (await browser.get("/profile/values/person.citizenshipStatus")).text
    assert radios(change) == [
        ("citizen", "U.S. citizen", False),
        ("permanent_resident", "Lawful permanent resident", False),
        ("other", "Other immigration status", False),
    ]


async def test_the_change_page_labels_its_radios(
    browser: httpx.AsyncClient, fake: FakeGateway
) -> None:
    fake.profile_values = {"person.sex": "male"}
    await sign_in(browser)
    page = (await browser.get("/profile/values/person.sex")).text
    assert radios(page) == [
        ("female", "Female", False),
        ("male", "Male", True),
        ("unspecified", "Unspecified", False),
    ]
    await browser.get("/language", params={"to": "es", "next": "/profile"})
    page = (await browser.get("/profile/values/person.sex")).text
    assert [label for _, label, _ in radios(page)] == ["Femenino", "Masculino", "No especificado"]
    saved = await post(browser, "/profile/values/person.sex", {"/value": "female"})
    assert saved.status_code == 303
    assert fake.corrections == [("person.sex", "female")], "the value, not its label"
    profile = (await browser.get("/profile")).text
    assert "Su respuesta para Sexo ha sido guardada." in profile
    assert shown_values(profile)["Sexo"] == "Femenino"


async def test_the_change_page_labels_its_select(
    browser: httpx.AsyncClient, fake: FakeGateway
) -> None:
    """Six choices make a select; a choice the dictionary does not label shows its value."""
    fake.profile_values = {"household.heatingFuel": "natural_gas"}
    await sign_in(browser)
    page = (await browser.get("/profile/values/household.heatingFuel")).text
    assert select_options(page) == [
        ("oil", "Heating oil", False),
        ("natural_gas", "Natural gas", True),
        ("electric", "Electricity", False),
        ("propane", "Propane", False),
        ("wood", "Wood", False),
        ("other", "other", False),
    ]
    refused = await post(browser, "/profile/values/household.heatingFuel", {"/value": "coal"})
    assert refused.status_code == 422
    assert fake.corrections == []
    saved = await post(browser, "/profile/values/household.heatingFuel", {"/value": "wood"})
    assert saved.status_code == 303
    assert fake.corrections == [("household.heatingFuel", "wood")]
    assert shown_values((await browser.get("/profile")).text)["Main heating fuel"] == "Wood"


async def test_odd_option_labels_from_the_dictionary_are_ignored(
    browser: httpx.AsyncClient, fake: FakeGateway
) -> None:
    """Option labels that are not ``{lang: text}`` (a plain string, an empty text, a list):
    the value itself, never an error page."""
    fuel = next(e for e in fake.elements if e["id"] == "household.heatingFuel")
    fuel["options"] = {"oil": "Heating oil", "wood": {"en": ""}, "propane": ["Propane"]}
    sex = next(e for e in fake.elements if e["id"] == "person.sex")
    sex["options"] = ["female"]
    fake.profile_values = {"household.heatingFuel": "oil", "person.sex": "male"}
    await sign_in(browser)
    page = await browser.get("/profile")
    assert page.status_code == 200
    assert shown_values(page.text) == {"Main heating fuel": "oil", "Sex": "male"}
    change = await browser.get("/profile/values/household.heatingFuel")
    assert change.status_code == 200
    assert [label for _, label, _ in select_options(change.text)] == [
        "oil",
        "natural_gas",
        "electric",
        "propane",
        "wood",
        "other",
    ]
