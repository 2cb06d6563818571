"""The resident's profile: changing one kept value on a page that asks the element's own
question (text, date, a list of choices, an address's parts), a masked value asked again from
empty, the API's refusals shown the GOV.UK way, removing one value, and erasing everything
only after a confirmation page."""

from __future__ import annotations

import html
import re

import httpx

from .fake_gateway import FakeGateway
from .test_pages import browser, csrf_of, fake, post, sign_in

__all__ = ["browser", "fake"]  # the fixtures, shared with test_pages

ADDRESS = {"street": "1 Main St", "city": "Hartford", "state": "CT", "postalCode": "06103"}


def input_tag(page: str, name: str) -> str:
    """The ``<input>`` whose name is ``name`` (one of them, for radios: the first)."""
    found = re.search(rf'<input [^>]*name="{re.escape(name)}"[^>]*>', page)
    assert found, f"an input named {name}"
    return found.group(0)


def value_of(tag: str) -> str:
    found = re.search(r'value="([^"]*)"', tag)
    assert found, tag
    return html.unescape(found.group(1))


def summary_links(page: str) -> list[tuple[str, str]]:
    box = re.search(r"<div class=\"usa-error-summary\".*?</div>", page, re.S)
    assert box, "an error summary"
    found = re.findall(r'<a href="([^"]+)">([^<]+)</a>', box.group(0))
    return [(href, html.unescape(message)) for href, message in found]


async def test_each_kept_value_has_a_change_link_naming_it(
    browser: httpx.AsyncClient, fake: FakeGateway
) -> None:
    fake.profile_values = {"person.fullName": "Ana Diaz", "person.birthDate": "1990-04-02"}
    await sign_in(browser)
    page = (await browser.get("/profile")).text
    links = re.findall(
        r'<dd class="usa-summary-list__actions"><a href="([^"]+)">Change'
        r'<span class="usa-sr-only"> ([^<]+)</span></a></dd>',
        page,
    )
    assert links == [  # by label
        ("/profile/values/person.birthDate", "Date of birth"),
        ("/profile/values/person.fullName", "Full name"),
    ]
    # Erasing everything is a link to a confirmation page, not a form that erases at once.
    assert 'href="/profile/erase"' in page
    assert 'action="/profile/erase"' not in page


async def test_change_a_text_value(browser: httpx.AsyncClient, fake: FakeGateway) -> None:
    await sign_in(browser)
    page = await browser.get("/profile/values/person.fullName")
    assert page.status_code == 200
    assert "<title>Change your answer: Full name - " in page.text
    assert "<h1>Change your answer: Full name</h1>" in page.text
    assert '<label class="usa-label" for="f-value">Full name</label>' in page.text
    assert value_of(input_tag(page.text, "/value")) == "Ana Diaz", "prefilled with the value"
    assert 'action="/profile/values/person.fullName"' in page.text
    saved = await browser.post(
        "/profile/values/person.fullName",
        data={"/value": "Ana María Díaz", "csrf_token": csrf_of(page.text)},
    )
    assert saved.status_code == 303
    assert saved.headers["location"] == "/profile"
    assert fake.corrections == [("person.fullName", "Ana María Díaz")]
    profile = (await browser.get("/profile")).text
    assert "Your answer for Full name has been saved." in profile
    assert "Ana María Díaz" in profile


async def test_change_a_date_value(browser: httpx.AsyncClient, fake: FakeGateway) -> None:
    fake.profile_values = {"person.birthDate": "1990-04-02"}
    await sign_in(browser)
    page = await browser.get("/profile/values/person.birthDate")
    tag = input_tag(page.text, "/value")
    assert 'type="date"' in tag, "a date element gets the date input"
    assert value_of(tag) == "1990-04-02"
    not_a_date = await post(browser, "/profile/values/person.birthDate", {"/value": "1990-02-30"})
    assert not_a_date.status_code == 422
    assert summary_links(not_a_date.text) == [("#f-value", "Date of birth must be a real date")]
    assert value_of(input_tag(not_a_date.text, "/value")) == "1990-02-30", "kept as typed"
    assert fake.corrections == [], "refused before the API"
    saved = await post(browser, "/profile/values/person.birthDate", {"/value": "1991-05-03"})
    assert saved.status_code == 303
    assert fake.corrections == [("person.birthDate", "1991-05-03")]


async def test_change_a_choice(browser: httpx.AsyncClient, fake: FakeGateway) -> None:
    fake.profile_values = {"person.sex": "male"}
    await sign_in(browser)
    page = (await browser.get("/profile/values/person.sex")).text
    radios = re.findall(r'<input [^>]*type="radio"[^>]*name="/value"[^>]*>', page)
    assert [value_of(r) for r in radios] == ["female", "male", "unspecified"]
    assert [" checked" in r for r in radios] == [False, True, False]
    saved = await post(browser, "/profile/values/person.sex", {"/value": "unspecified"})
    assert saved.status_code == 303
    assert fake.corrections == [("person.sex", "unspecified")]


async def test_change_an_object_value(browser: httpx.AsyncClient, fake: FakeGateway) -> None:
    """An address is asked as its parts, each prefilled; what is posted replaces it whole."""
    fake.profile_values = {"address.home": dict(ADDRESS)}
    await sign_in(browser)
    page = (await browser.get("/profile/values/address.home")).text
    assert re.search(r'<fieldset [^>]*id="f-value">\s*<legend[^>]*>Home address</legend>', page)
    assert value_of(input_tag(page, "/value/street")) == "1 Main St"
    assert value_of(input_tag(page, "/value/city")) == "Hartford"
    assert value_of(input_tag(page, "/value/postalCode")) == "06103"
    assert re.search(r'<input [^>]*name="/value/state" value="CT" checked>', page)
    missing = await post(
        browser,
        "/profile/values/address.home",
        {"/value/street": "", "/value/city": "New Haven", "/value/postalCode": "6511"},
    )
    assert missing.status_code == 422
    assert summary_links(missing.text) == [
        ("#f-value-street", "Enter street"),
        ("#f-value-postalCode", "Postal code must be 5 digits long"),
    ]
    assert 'id="f-value-street-error"' in missing.text
    assert value_of(input_tag(missing.text, "/value/city")) == "New Haven"
    assert value_of(input_tag(missing.text, "/value/postalCode")) == "6511"
    saved = await post(
        browser,
        "/profile/values/address.home",
        {"/value/street": "9 Elm St", "/value/city": "New Haven", "/value/state": "CT",
         "/value/postalCode": "06511"},
    )  # fmt: skip
    assert saved.status_code == 303
    assert fake.corrections == [
        ("address.home",
         {"street": "9 Elm St", "city": "New Haven", "state": "CT", "postalCode": "06511"})
    ]  # fmt: skip


async def test_a_masked_value_starts_empty_with_a_hint(
    browser: httpx.AsyncClient, fake: FakeGateway
) -> None:
    fake.profile_values = {"person.ssn": "123456789"}
    await sign_in(browser)
    profile = (await browser.get("/profile")).text
    assert "\u2022\u2022\u2022\u20226789" in profile, "the profile shows it masked"
    page = (await browser.get("/profile/values/person.ssn")).text
    tag = input_tag(page, "/value")
    assert value_of(tag) == "", "what the API shows of it is not the value"
    assert "6789" not in page
    hint = re.search(r'<div class="usa-hint" id="f-value-hint">([^<]*)</div>', page)
    assert hint, "a hint"
    assert "Your kept answer is hidden because it is sensitive" in hint.group(1)
    assert 'aria-describedby="f-value-hint"' in tag
    empty = await post(browser, "/profile/values/person.ssn", {"/value": ""})
    assert empty.status_code == 422
    assert summary_links(empty.text) == [("#f-value", "Enter Social Security number")]
    saved = await post(browser, "/profile/values/person.ssn", {"/value": "987654321"})
    assert saved.status_code == 303
    assert fake.corrections == [("person.ssn", "987654321")]


async def test_the_apis_422_is_shown_on_the_question(
    browser: httpx.AsyncClient, fake: FakeGateway
) -> None:
    """A value the portal let through but the submissions service refuses (its check of the
    element differs): the page again, the API's message in the summary and on the input,
    what was typed kept."""
    fake.api_schemas["person.fullName"] = {"type": "string", "maxLength": 5}
    await sign_in(browser)
    refused = await post(browser, "/profile/values/person.fullName", {"/value": "Ana María"})
    assert refused.status_code == 422
    assert "<title>Error: Change your answer: Full name - " in refused.text
    message = "'Ana María' is too long"
    assert summary_links(refused.text) == [("#f-value", message)]
    assert re.search(r'<p class="usa-error-message" id="f-value-error">', refused.text)
    tag = input_tag(refused.text, "/value")
    assert value_of(tag) == "Ana María"
    assert 'aria-invalid="true"' in tag
    assert fake.corrections == []
    assert fake.profile_values["person.fullName"] == "Ana Diaz"


async def test_a_value_that_does_not_parse_is_kept_as_typed(
    browser: httpx.AsyncClient, fake: FakeGateway
) -> None:
    fake.profile_values = {"household.size": 3}
    await sign_in(browser)
    page = (await browser.get("/profile/values/household.size")).text
    tag = input_tag(page, "/value")
    assert value_of(tag) == "3"
    assert 'inputmode="numeric"' in tag
    typed = await post(browser, "/profile/values/household.size", {"/value": "three"})
    assert typed.status_code == 422
    [(href, message)] = summary_links(typed.text)
    assert href == "#f-value"
    assert "whole number" in message
    assert value_of(input_tag(typed.text, "/value")) == "three"
    assert fake.corrections == []
    saved = await post(browser, "/profile/values/household.size", {"/value": "4"})
    assert saved.status_code == 303
    assert fake.corrections == [("household.size", 4)], "sent as a number"


async def test_without_consent_the_change_goes_back_to_the_profile_saying_so(
    browser: httpx.AsyncClient, fake: FakeGateway
) -> None:
    await sign_in(browser)
    page = await browser.get("/profile/values/person.fullName")
    fake.keep = False  # turned off in another tab meanwhile
    refused = await browser.post(
        "/profile/values/person.fullName",
        data={"/value": "Ana Diaz Ruiz", "csrf_token": csrf_of(page.text)},
    )
    assert refused.status_code == 303
    assert refused.headers["location"] == "/profile"
    profile = (await browser.get("/profile")).text
    warning = re.search(
        r'<div class="usa-alert usa-alert--warning" role="alert">(.*?)</div>', profile
    )
    assert warning, "a warning"
    assert "keeping your answers is turned off" in warning.group(1)
    assert "has been saved" not in profile
    assert fake.corrections == []


async def test_remove_one_value(browser: httpx.AsyncClient, fake: FakeGateway) -> None:
    fake.profile_values = {"person.fullName": "Ana Diaz", "person.birthDate": "1990-04-02"}
    await sign_in(browser)
    page = (await browser.get("/profile/values/person.birthDate")).text
    assert re.search(
        r'<form method="post" action="/profile/values/person.birthDate/remove">\s*'
        r'<input type="hidden" name="csrf_token" value="[^"]+">\s*'
        r'<button type="submit" class="[^"]*usa-button--secondary[^"]*">Remove this answer',
        page,
    ), "its own form, a secondary button"
    removed = await browser.post(
        "/profile/values/person.birthDate/remove", data={"csrf_token": csrf_of(page)}
    )
    assert removed.status_code == 303
    assert removed.headers["location"] == "/profile"
    assert fake.profile_values == {"person.fullName": "Ana Diaz"}
    profile = (await browser.get("/profile")).text
    assert "Your answer for Date of birth has been removed." in profile
    again = await browser.post(
        "/profile/values/person.birthDate/remove", data={"csrf_token": csrf_of(page)}
    )
    assert again.status_code == 303, "a second click: gone already, not an error"
    gone = await browser.get("/profile/values/person.birthDate")
    assert gone.status_code == 404


async def test_erase_asks_first_then_erases_values_and_consent(
    browser: httpx.AsyncClient, fake: FakeGateway
) -> None:
    await sign_in(browser)
    confirm = await browser.get("/profile/erase")
    assert confirm.status_code == 200
    text = confirm.text
    title = "Are you sure you want to erase everything we keep about you?"
    assert f"<title>{title} - " in text
    assert f"<h1>{title}</h1>" in text
    assert "every answer we keep to fill in your next forms" in text
    assert "keeping them is turned off" in text, "consent is withdrawn too"
    assert re.search(
        r'<strong class="usa-warning-text__text"><span class="usa-sr-only">Warning: </span>'
        r"You cannot undo this.</strong>",
        text,
    )
    assert "Applications you already sent are not affected" in text
    form = re.search(r'<form method="post" action="/profile/erase"[^>]*>(.*?)</form>', text, re.S)
    assert form, "the confirmation posts to /profile/erase"
    assert ">Yes, erase everything</button>" in form.group(1)
    assert '<a href="/profile">Cancel</a>' in form.group(1)
    assert fake.profile_values, "showing the page erases nothing"
    erased = await browser.post("/profile/erase", data={"csrf_token": csrf_of(text)})
    assert erased.status_code == 303
    assert erased.headers["location"] == "/profile"
    assert fake.profile_values == {}
    assert fake.keep is False
    profile = (await browser.get("/profile")).text
    assert "Your kept answers have been erased" in profile
    assert 'id="keep" name="keep" value="yes">' in profile, "the box is no longer ticked"


async def test_a_value_the_profile_does_not_hold_is_a_404(
    browser: httpx.AsyncClient, fake: FakeGateway
) -> None:
    await sign_in(browser)
    for path in ("/profile/values/person.birthDate", "/profile/values/no.suchThing"):
        page = await browser.get(path)
        assert page.status_code == 404, path
        assert "Page not found" in page.text
    token = csrf_of((await browser.get("/profile")).text)
    posted = await browser.post(
        "/profile/values/person.birthDate", data={"/value": "1990-01-01", "csrf_token": token}
    )
    assert posted.status_code == 404
    assert fake.corrections == []
    odd = await browser.get("/profile/values/%2E%2E")
    assert odd.status_code == 404


async def test_a_value_that_cannot_be_asked_can_still_be_removed(
    browser: httpx.AsyncClient, fake: FakeGateway
) -> None:
    """An element no longer in the dictionary, or a list of items: no question, only
    "Remove this answer"."""
    fake.profile_values = {"unknown.thing": "x", "household.members": [{"name": "Bo"}]}
    await sign_in(browser)
    for element in ("unknown.thing", "household.members"):
        page = await browser.get(f"/profile/values/{element}")
        assert page.status_code == 200
        assert "This answer cannot be changed here." in page.text
        assert 'name="/value' not in page.text
        assert f'action="/profile/values/{element}/remove"' in page.text
        posted = await browser.post(
            f"/profile/values/{element}", data={"csrf_token": csrf_of(page.text)}
        )
        assert posted.status_code == 303, "nothing to save: back to the page"
    assert fake.corrections == []


async def test_the_profile_posts_need_the_csrf_token(
    browser: httpx.AsyncClient, fake: FakeGateway
) -> None:
    fake.profile_values = {"person.fullName": "Ana Diaz"}
    await sign_in(browser)
    await browser.get("/profile/values/person.fullName")
    for action, data in [
        ("/profile/values/person.fullName", {"/value": "Mallory"}),
        ("/profile/values/person.fullName/remove", {}),
        ("/profile/erase", {}),
    ]:
        for token in ({}, {"csrf_token": "forged"}):
            refused = await browser.post(action, data={**data, **token})
            assert refused.status_code == 403, action
            assert "This page has expired" in refused.text
    assert fake.corrections == []
    assert fake.profile_values == {"person.fullName": "Ana Diaz"}
    assert fake.keep is True


async def test_the_profile_pages_in_spanish(browser: httpx.AsyncClient, fake: FakeGateway) -> None:
    fake.profile_values = {"person.birthDate": "1990-04-02", "person.ssn": "123456789"}
    await sign_in(browser)
    await browser.get("/language", params={"to": "es", "next": "/profile"})
    profile = (await browser.get("/profile")).text
    assert '<span class="usa-sr-only"> Fecha de nacimiento</span>' in profile
    page = (await browser.get("/profile/values/person.birthDate")).text
    assert "<title>Cambiar su respuesta: Fecha de nacimiento - " in page
    assert '<label class="usa-label" for="f-value">Fecha de nacimiento</label>' in page
    assert ">Guardar esta respuesta</button>" in page
    assert ">Quitar esta respuesta</button>" in page
    wrong = await post(browser, "/profile/values/person.birthDate", {"/value": "1990-02-30"})
    real_date = "Fecha de nacimiento debe ser una fecha real"
    assert summary_links(wrong.text) == [("#f-value", real_date)]
    ssn = (await browser.get("/profile/values/person.ssn")).text
    assert "Su respuesta guardada está oculta porque es confidencial." in ssn
    assert "Nine digits" not in ssn, "the dictionary's English description: English pages only"
    saved = await post(browser, "/profile/values/person.birthDate", {"/value": "1991-05-03"})
    assert saved.status_code == 303
    assert (
        "Su respuesta para Fecha de nacimiento ha sido guardada."
        in (await browser.get("/profile")).text
    )
    confirm = (await browser.get("/profile/erase")).text
    assert "¿Seguro que quiere borrar todo lo que guardamos sobre usted?" in confirm
    assert ">Sí, borrar todo</button>" in confirm
    assert '<a href="/profile">Cancelar</a>' in confirm
    assert '<span class="usa-sr-only">Aviso: </span>' in confirm


async def test_a_head_leaves_the_message_for_the_page_that_shows_it(
    browser: httpx.AsyncClient, fake: FakeGateway
) -> None:
    """A message is shown once, by the next page rendered; a HEAD renders the page but sends
    none of it, so the message stays in the session for the GET that shows it."""
    await sign_in(browser)
    saved = await post(browser, "/profile", {"keep": "yes"}, "/profile/consent")
    assert saved.status_code == 303
    head = await browser.head("/profile")
    assert head.status_code == 200
    assert head.content == b""
    assert "Your choice has been saved." in (await browser.get("/profile")).text
    assert "Your choice has been saved." not in (await browser.get("/profile")).text, "once"


async def test_kept_dates_and_numbers_read_as_the_forms_show_them_in_label_order(
    browser: httpx.AsyncClient, fake: FakeGateway
) -> None:
    """Acceptance review: the profile showed "1985-02-03" and raw numbers, in the elements'
    id order. A date in words, a number with separators, the rows by their labels."""
    fake.profile_values = {
        "person.fullName": "Ana Diaz",
        "person.birthDate": "1985-02-03",
        "household.size": 12000,
    }
    await sign_in(browser)
    page = await browser.get("/profile")
    assert "3 February 1985" in page.text
    assert "1985-02-03" not in page.text
    assert "12,000" in page.text
    keys = re.findall(r'<dt class="usa-summary-list__key">([^<]*)</dt>', page.text)
    assert keys == sorted(keys, key=str.casefold)
    assert set(keys) == {"Full name", "Date of birth", "Number of people in the household"}
