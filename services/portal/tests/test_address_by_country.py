"""A real VA address (22-1990's ``definitions/address``: ``oneOf`` branches keyed by
``country``) filled through the portal's pages without JavaScript: the resident answers the
state question of the country they chose, and only that answer is kept."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Awaitable
from pathlib import Path
from typing import Any

import httpx
import pytest

from tellonce_portal.forms.schema import FormDefinition

from .fake_gateway import FakeGateway, portal_browser
from .test_pages import csrf_of, post, sign_in

VA_ADDRESS = json.loads((Path(__file__).parent / "data" / "22-1990-schema.json").read_text())[
    "definitions"
]["address"]
SCHEMA: dict[str, Any] = {
    "$schema": "http://json-schema.org/draft-04/schema#",
    "type": "object",
    "definitions": {"address": VA_ADDRESS},
    "required": ["fullName", "homeAddress"],
    "properties": {
        "fullName": {"type": "string", "minLength": 1},
        "homeAddress": {"$ref": "#/definitions/address"},
    },
}
UI: dict[str, Any] = {
    "pages": [{"id": "you", "title": "About you", "fields": ["/fullName", "/homeAddress"]}],
    "fields": {"/homeAddress": {"label": "Home address"}},
}
STREET = {"/fullName": "Ana Diaz", "/homeAddress/street": "1 Main St",
          "/homeAddress/city": "Hartford"}  # fmt: skip


@pytest.fixture
def fake() -> FakeGateway:
    return FakeGateway(schema=SCHEMA, ui=UI)


@pytest.fixture
async def browser(fake: FakeGateway) -> AsyncIterator[httpx.AsyncClient]:
    async with portal_browser(fake.transport()) as client:
        yield client


async def start(browser: httpx.AsyncClient) -> tuple[str, str]:
    await sign_in(browser)
    started = await post(browser, "/forms/snap", {"version": "1"}, "/forms/snap/start")
    assert started.status_code == 303
    first_page = started.headers["location"]
    return first_page, first_page.split("/")[2]


async def test_each_country_has_its_own_state_question_on_the_page(
    browser: httpx.AsyncClient,
) -> None:
    first_page, _ = await start(browser)
    page = await browser.get(first_page)
    assert page.status_code == 200
    html = page.text
    assert html.count('name="/homeAddress/country"') == 4, "Canada, Mexico, the US, another"
    assert (
        '<select class="usa-select" id="f-homeAddress-state--2" name="/homeAddress/state~v2"'
        in html
    )
    assert (
        '<option value="CT">' in html.split('id="f-homeAddress-state--2"')[1].split("</select>")[0]
    )
    assert 'name="/homeAddress/state~v3" type="text"' in html, "other countries type their state"
    assert "If country is United States" in html
    assert 'data-show-if="/homeAddress/country"' in html


async def test_a_us_resident_picks_a_state_and_other_branches_answers_are_dropped(
    browser: httpx.AsyncClient, fake: FakeGateway
) -> None:
    first_page, draft_id = await start(browser)
    posted = {**STREET, "/homeAddress/country": "USA", "/homeAddress/state~v2": "CT",
              "/homeAddress/state~v0": "ON", "/homeAddress/state~v3": "Somewhere",
              "/homeAddress/postalCode~v0": "06101", "/homeAddress/postalCode~v3": "X"}  # fmt: skip
    saved = await post(browser, first_page, posted)
    assert saved.status_code == 303, "a valid US state passes: no 'Select state from the list'"
    assert saved.headers["location"] == f"/drafts/{draft_id}/check"
    assert fake.drafts[draft_id]["answers"]["homeAddress"] == {
        "street": "1 Main St", "city": "Hartford", "country": "USA", "state": "CT",
        "postalCode": "06101",
    }  # fmt: skip
    check = await browser.get(f"/drafts/{draft_id}/check")
    assert "Somewhere" not in check.text
    token = csrf_of(check.text)
    key = check.text.split('name="key" value="')[1].split('"')[0]
    sent = await browser.post(
        f"/drafts/{draft_id}/submit", data={"csrf_token": token, "key": key, "form": "snap"}
    )
    assert sent.status_code == 303
    (submission,) = fake.submissions.values()
    assert submission["answers"]["homeAddress"]["state"] == "CT"


async def test_a_canadian_resident_gets_the_province_list_and_others_type_it(
    browser: httpx.AsyncClient, fake: FakeGateway
) -> None:
    first_page, draft_id = await start(browser)
    both = {**STREET, "/homeAddress/state~v0": "ON", "/homeAddress/state~v2": "CT",
            "/homeAddress/state~v3": "Île-de-France"}  # fmt: skip
    canada = await post(browser, first_page, {**both, "/homeAddress/country": "CAN"})
    assert canada.status_code == 303
    assert fake.drafts[draft_id]["answers"]["homeAddress"]["state"] == "ON"
    france = await post(browser, first_page, {**both, "/homeAddress/country": "FRA"})
    assert france.status_code == 303
    assert fake.drafts[draft_id]["answers"]["homeAddress"]["state"] == "Île-de-France"
    again = await browser.get(first_page)
    us_select = again.text.split('id="f-homeAddress-state--2"')[1].split("</select>")[0]
    assert " selected" not in us_select, "the hidden branch's question does not show the answer"
    assert 'value="Île-de-France"' in again.text


async def test_a_state_from_another_countrys_list_is_told_on_the_shown_question(
    browser: httpx.AsyncClient, fake: FakeGateway
) -> None:
    first_page, draft_id = await start(browser)
    bad = await post(
        browser, first_page,
        {**STREET, "/homeAddress/country": "USA", "/homeAddress/state~v2": "ON"},
    )  # fmt: skip
    assert bad.status_code == 422
    assert 'href="#f-homeAddress-state--2"' in bad.text, "the summary links to the US select"
    assert bad.text.count('class="usa-error-message"') == 1
    assert 'id="f-homeAddress-state--2-error"' in bad.text
    assert "Select state from the list" in bad.text
    assert "state" not in fake.drafts[draft_id]["answers"].get("homeAddress", {})


async def test_a_previous_countrys_state_is_not_kept_when_the_new_one_does_not_parse(
    browser: httpx.AsyncClient, fake: FakeGateway
) -> None:
    first_page, draft_id = await start(browser)
    us = await post(browser, first_page, {**STREET, "/homeAddress/country": "USA",
                                          "/homeAddress/state~v2": "CT"})  # fmt: skip
    assert us.status_code == 303
    assert fake.drafts[draft_id]["answers"]["homeAddress"]["state"] == "CT"
    mexico = await post(browser, first_page, {**STREET, "/homeAddress/country": "MEX",
                                              "/homeAddress/state~v1": "not-a-state",
                                              "_action": "save"})  # fmt: skip
    assert mexico.status_code == 303
    address = fake.drafts[draft_id]["answers"]["homeAddress"]
    assert address["country"] == "MEX"
    assert "state" not in address, "Connecticut is no Mexican state"


async def test_the_state_question_says_which_country_in_spanish(
    browser: httpx.AsyncClient,
) -> None:
    first_page, _ = await start(browser)
    await browser.get("/language?to=es&next=/")
    page = await browser.get(first_page)
    assert "Si country es Estados Unidos" in page.text
    assert "Si country no es Canadá, México o Estados Unidos" in page.text


async def test_a_saved_wrong_state_is_shown_on_the_chosen_countrys_question(
    browser: httpx.AsyncClient, fake: FakeGateway
) -> None:
    first_page, draft_id = await start(browser)
    fake.drafts[draft_id]["answers"] = {
        "fullName": "Ana Diaz", "homeAddress": {"country": "USA", "state": "ON"}
    }  # fmt: skip
    page = await browser.get(f"{first_page}?check=1")
    assert page.status_code == 200
    assert 'href="#f-homeAddress-state--2"' in page.text
    assert 'id="f-homeAddress-state--2-error"' in page.text
    assert page.text.count('class="usa-error-message"') == 1
    assert "Select state from the list" in page.text


# -- the country as a choice: the listed countries by name, and "Another country" ----------

COUNTRY_OTHER = "/homeAddress/country~other"


def chosen_country(html: str) -> list[str]:
    """The values of the country radios the page shows checked."""
    radios = re.findall(r'<input [^>]*name="/homeAddress/country" [^>]*>', html)
    return [v for tag in radios if " checked" in tag for v in re.findall(r'value="([^"]*)"', tag)]


async def test_united_states_typed_as_another_country_is_stored_as_usa_with_its_state(
    browser: httpx.AsyncClient, fake: FakeGateway
) -> None:
    first_page, draft_id = await start(browser)
    page = await browser.get(first_page)
    label = '<label class="usa-radio__label" for="f-homeAddress-country-2">United States'
    assert label in page.text
    posted = {**STREET, "/homeAddress/country": "~other", COUNTRY_OTHER: "United States",
              "/homeAddress/state~v2": "CT", "/homeAddress/state~v3": "Connecticut"}  # fmt: skip
    saved = await post(browser, first_page, posted)
    assert saved.status_code == 303
    address = fake.drafts[draft_id]["answers"]["homeAddress"]
    assert (address["country"], address["state"]) == ("USA", "CT")
    again = await browser.get(first_page)
    assert chosen_country(again.text) == ["USA"], "shown as the United States choice"
    assert f'name="{COUNTRY_OTHER}" type="text" value=""' in again.text
    us_select = again.text.split('id="f-homeAddress-state--2"')[1].split("</select>")[0]
    assert '<option value="CT" selected>' in us_select
    check = await browser.get(f"/drafts/{draft_id}/check")
    assert "United States" in check.text
    assert ">USA<" not in check.text, "check your answers names the country, not its code"


async def test_usa_typed_alone_gives_the_us_state_select_on_the_next_visit(
    browser: httpx.AsyncClient, fake: FakeGateway
) -> None:
    first_page, draft_id = await start(browser)
    saved = await post(browser, first_page, {**STREET, "/homeAddress/country": "~other",
                                             COUNTRY_OTHER: " usa "})  # fmt: skip
    assert saved.status_code == 303
    assert fake.drafts[draft_id]["answers"]["homeAddress"]["country"] == "USA"
    again = await browser.get(first_page)
    assert chosen_country(again.text) == ["USA"]
    assert 'data-show-values="[&#34;USA&#34;]">' in again.text
    assert '<select class="usa-select" id="f-homeAddress-state--2"' in again.text


async def test_another_country_with_no_name_asks_for_it_and_keeps_the_choice(
    browser: httpx.AsyncClient, fake: FakeGateway
) -> None:
    first_page, draft_id = await start(browser)
    bad = await post(browser, first_page, {**STREET, "/homeAddress/country": "~other",
                                           COUNTRY_OTHER: ""})  # fmt: skip
    assert bad.status_code == 422
    assert 'href="#f-homeAddress-country-other">Enter the country' in bad.text
    assert chosen_country(bad.text) == ["~other"]
    assert "country" not in fake.drafts[draft_id]["answers"].get("homeAddress", {})
    await browser.get("/language?to=es&next=/")
    spanish = await post(browser, first_page, {**STREET, "/homeAddress/country": "~other"})
    assert spanish.status_code == 422
    assert "Escriba el país" in spanish.text
    assert "Otro país" in spanish.text


async def test_the_other_choice_marker_typed_as_the_country_is_no_country(
    browser: httpx.AsyncClient, fake: FakeGateway
) -> None:
    first_page, draft_id = await start(browser)
    marker = {**STREET, "/homeAddress/country": "~other", COUNTRY_OTHER: "~other"}
    bad = await post(browser, first_page, marker)
    assert bad.status_code == 422
    assert 'href="#f-homeAddress-country-other">Enter the country' in bad.text
    assert "country" not in fake.drafts[draft_id]["answers"].get("homeAddress", {})
    saved = await post(browser, first_page, {**marker, "_action": "save"})
    assert saved.status_code == 303
    assert "country" not in fake.drafts[draft_id]["answers"].get("homeAddress", {})


async def test_a_genuinely_other_country_is_kept_and_shown_typed(
    browser: httpx.AsyncClient, fake: FakeGateway
) -> None:
    first_page, draft_id = await start(browser)
    saved = await post(browser, first_page, {**STREET, "/homeAddress/country": "~other",
                                             COUNTRY_OTHER: "Portugal",
                                             "/homeAddress/state~v3": "Lisboa"})  # fmt: skip
    assert saved.status_code == 303
    address = fake.drafts[draft_id]["answers"]["homeAddress"]
    assert (address["country"], address["state"]) == ("Portugal", "Lisboa")
    again = await browser.get(first_page)
    assert chosen_country(again.text) == ["~other"]
    assert f'name="{COUNTRY_OTHER}" type="text" value="Portugal"' in again.text


@pytest.mark.parametrize("profile_country", ["USA", "United States"])
async def test_a_country_from_the_profile_chooses_its_radio(
    browser: httpx.AsyncClient, fake: FakeGateway, profile_country: str
) -> None:
    fake.profile_answers = {"/homeAddress/country": profile_country}
    await sign_in(browser)
    started = await post(browser, "/forms/snap", {"prefill": "yes", "version": "1"},
                         "/forms/snap/start")  # fmt: skip
    assert started.status_code == 303
    page = await browser.get(started.headers["location"])
    assert chosen_country(page.text) == ["USA"]
    assert 'id="f-homeAddress-country-prefilled"' in page.text, "marked as from the profile"
    assert f'name="{COUNTRY_OTHER}" type="text" value=""' in page.text


async def test_a_state_typed_for_other_countries_is_asked_again_from_the_us_list(
    browser: httpx.AsyncClient, fake: FakeGateway
) -> None:
    first_page, draft_id = await start(browser)
    posted = {**STREET, "/homeAddress/country": "~other", COUNTRY_OTHER: "usa",
              "/homeAddress/state~v3": "Connecticut"}  # fmt: skip
    again = await post(browser, first_page, posted)
    assert again.status_code == 422, "not saved silently without its state"
    assert 'href="#f-homeAddress-state--2">Select state from the list' in again.text
    assert chosen_country(again.text) == ["USA"]
    assert fake.drafts[draft_id]["answers"]["homeAddress"]["country"] == "USA"
    assert "state" not in fake.drafts[draft_id]["answers"]["homeAddress"]


# -- a draft saved before the country was a choice, holding a country's name ---------------

OLD_ADDRESS = {"street": "1 Main St", "city": "Hartford", "country": "United States",
               "state": "CT", "postalCode": "06101"}  # fmt: skip


async def test_an_old_draft_naming_a_listed_country_is_shown_and_summed_up_as_that_country(
    browser: httpx.AsyncClient, fake: FakeGateway
) -> None:
    first_page, draft_id = await start(browser)
    fake.drafts[draft_id]["answers"] = {"fullName": "Ana Diaz", "homeAddress": dict(OLD_ADDRESS)}
    page = await browser.get(first_page)
    assert chosen_country(page.text) == ["USA"]
    assert f'name="{COUNTRY_OTHER}" type="text" value=""' in page.text
    us_select = page.text.split('id="f-homeAddress-state--2"')[1].split("</select>")[0]
    assert '<option value="CT" selected>' in us_select
    check = await browser.get(f"/drafts/{draft_id}/check")
    assert f'/drafts/{draft_id}/pages/1?return=check#f-homeAddress-state--2">' in check.text
    assert f'/drafts/{draft_id}/pages/1?return=check#f-homeAddress-postalCode--0">' in check.text
    assert "--3" not in check.text, "no row on the other countries' questions"
    assert fake.drafts[draft_id]["answers"]["homeAddress"] == OLD_ADDRESS, "nothing stored"
    key = check.text.split('name="key" value="')[1].split('"')[0]
    sent = await browser.post(
        f"/drafts/{draft_id}/submit",
        data={"csrf_token": csrf_of(check.text), "key": key, "form": "snap"},
    )
    assert sent.status_code == 303
    (submission,) = fake.submissions.values()
    assert submission["answers"]["homeAddress"] == {**OLD_ADDRESS, "country": "USA"}, (
        "what check your answers showed is what is sent"
    )


async def test_an_old_drafts_state_that_is_no_us_state_is_asked_from_the_us_list(
    browser: httpx.AsyncClient, fake: FakeGateway
) -> None:
    first_page, draft_id = await start(browser)
    typed = {**OLD_ADDRESS, "state": "Connecticut"}
    fake.drafts[draft_id]["answers"] = {"fullName": "Ana Diaz", "homeAddress": typed}
    page = await browser.get(f"{first_page}?check=1")
    assert 'href="#f-homeAddress-state--2">Select state from the list' in page.text
    assert chosen_country(page.text) == ["USA"]
    assert fake.drafts[draft_id]["answers"]["homeAddress"] == typed


US_ONLY_UI: dict[str, Any] = {
    "pages": [
        {"id": "you", "title": "About you", "fields": ["/fullName", "/homeAddress"]},
        {"id": "tax", "title": "Your US tax number", "fields": ["/taxNumber"],
         "show_if": {"pointer": "/homeAddress/country", "equals": "USA"}},
    ],
    "fields": {"/homeAddress": {"label": "Home address"}},
}  # fmt: skip


async def test_an_old_draft_gets_the_pages_of_the_country_it_names() -> None:
    tax_number = {"type": "string", "pattern": "^[0-9]{9}$"}
    schema = {**SCHEMA, "properties": {**SCHEMA["properties"], "taxNumber": tax_number}}
    fake = FakeGateway(schema=schema, ui=US_ONLY_UI)
    async with portal_browser(fake.transport()) as browser:
        _, draft_id = await start(browser)
        answers = {"fullName": "Ana Diaz", "homeAddress": dict(OLD_ADDRESS)}
        fake.drafts[draft_id]["answers"] = answers
        tax_page = f"/drafts/{draft_id}/pages/2"
        page = await browser.get(tax_page)
        assert page.status_code == 200
        assert "Your US tax number" in page.text
        wrong = await post(browser, tax_page, {"/taxNumber": "12"})
        assert wrong.status_code == 422, "the same page again, with its error"
        assert "Your US tax number" in wrong.text
        assert fake.drafts[draft_id]["answers"] == {
            "fullName": "Ana Diaz", "homeAddress": {**OLD_ADDRESS, "country": "USA"},
            "taxNumber": "12",
        }, "saving any page stores the country as the pages showed it"  # fmt: skip
        fake.drafts[draft_id]["answers"] = {**answers, "taxNumber": "12"}  # the name again
        check = await browser.get(f"/drafts/{draft_id}/check")
        key = check.text.split('name="key" value="')[1].split('"')[0]
        refused = await browser.post(
            f"/drafts/{draft_id}/submit",
            data={"csrf_token": csrf_of(check.text), "key": key, "form": "snap"},
        )
        assert refused.status_code == 422
        assert f'href="{tax_page}?check=1&amp;return=check#f-taxNumber"' in refused.text, (
            "linked to its page"
        )
        saved = await post(browser, tax_page, {"/taxNumber": "123456789"})
        assert saved.status_code == 303
        assert saved.headers["location"] == f"/drafts/{draft_id}/check"
        assert fake.drafts[draft_id]["answers"]["homeAddress"] == {**OLD_ADDRESS, "country": "USA"}


def _with(**extra: Any) -> dict[str, Any]:
    """``SCHEMA`` with more free-text questions (``extra``: name -> schema)."""
    return {**SCHEMA, "properties": {**SCHEMA["properties"], **extra}}


MORE_PAGE = {"id": "more", "title": "More about you", "fields": ["/nickname"]}
LAST_PAGE = {"id": "last", "title": "Last bits", "fields": ["/motto"]}


async def test_continue_after_the_page_shown_only_for_the_country_an_old_draft_names() -> None:
    """you / tax (USA only) / more: Continue on tax goes to "more" (read with the stored name,
    tax would be the last page and "more" skipped)."""
    ui = {**US_ONLY_UI, "pages": [*US_ONLY_UI["pages"], MORE_PAGE]}
    schema = _with(taxNumber={"type": "string", "pattern": "^[0-9]{9}$"},
                   nickname={"type": "string"})  # fmt: skip
    fake = FakeGateway(schema=schema, ui=ui)
    async with portal_browser(fake.transport()) as browser:
        _, draft_id = await start(browser)
        fake.drafts[draft_id]["answers"] = {"fullName": "Ana Diaz",
                                            "homeAddress": dict(OLD_ADDRESS)}  # fmt: skip
        assert "Your US tax number" in (await browser.get(f"/drafts/{draft_id}/pages/2")).text
        assert "More about you" in (await browser.get(f"/drafts/{draft_id}/pages/3")).text
        saved = await post(browser, f"/drafts/{draft_id}/pages/2", {"/taxNumber": "123456789"})
        assert saved.status_code == 303
        assert saved.headers["location"] == f"/drafts/{draft_id}/pages/3", "more is not skipped"
        stored = fake.drafts[draft_id]["answers"]
        assert stored["homeAddress"] == {**OLD_ADDRESS, "country": "USA"}
        assert stored["taxNumber"] == "123456789"


async def test_continue_on_the_page_after_it_moves_on_instead_of_looping() -> None:
    """you / tax (USA only) / more / last: Continue on "more" (page 3) goes to "last" (page
    4); read with the stored name, "more" is page 2, so it went to page 3, itself, again and
    again."""
    ui = {**US_ONLY_UI, "pages": [*US_ONLY_UI["pages"], MORE_PAGE, LAST_PAGE]}
    schema = _with(taxNumber={"type": "string"}, nickname={"type": "string"},
                   motto={"type": "string"})  # fmt: skip
    fake = FakeGateway(schema=schema, ui=ui)
    async with portal_browser(fake.transport()) as browser:
        _, draft_id = await start(browser)
        fake.drafts[draft_id]["answers"] = {"fullName": "Ana Diaz",
                                            "homeAddress": dict(OLD_ADDRESS)}  # fmt: skip
        more = f"/drafts/{draft_id}/pages/3"
        assert "More about you" in (await browser.get(more)).text
        saved = await post(browser, more, {"/nickname": "Ana"})
        assert saved.status_code == 303
        assert saved.headers["location"] == f"/drafts/{draft_id}/pages/4"
        last = await browser.get(saved.headers["location"])
        assert "Last bits" in last.text
        assert 'href="/drafts/' + draft_id + '/pages/3"' in last.text, "Back is 'more'"
        done = await post(browser, saved.headers["location"], {"/motto": "Onward"})
        assert done.headers["location"] == f"/drafts/{draft_id}/check"
        assert fake.drafts[draft_id]["answers"] == {
            "fullName": "Ana Diaz", "homeAddress": {**OLD_ADDRESS, "country": "USA"},
            "nickname": "Ana", "motto": "Onward",
        }  # fmt: skip


async def test_each_request_reads_the_draft_as_shown_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """``as_shown`` runs on the event loop for every page of a draft: once per request, its
    result handed on (to ``render_page``, ``render_check``, the error links)."""
    calls = 0
    real = FormDefinition.as_shown

    def counting(self: FormDefinition, answers: dict[str, Any]) -> dict[str, Any]:
        nonlocal calls
        calls += 1
        return real(self, answers)

    monkeypatch.setattr(FormDefinition, "as_shown", counting)
    schema = _with(taxNumber={"type": "string", "pattern": "^[0-9]{9}$"})
    fake = FakeGateway(schema=schema, ui=US_ONLY_UI)
    async with portal_browser(fake.transport()) as browser:
        _, draft_id = await start(browser)
        fake.drafts[draft_id]["answers"] = {"fullName": "Ana Diaz", "taxNumber": "12",
                                            "homeAddress": dict(OLD_ADDRESS)}  # fmt: skip
        tax_page = f"/drafts/{draft_id}/pages/2"

        async def once(expected: int, sent: Awaitable[httpx.Response]) -> httpx.Response:
            nonlocal calls
            calls = 0
            response = await sent
            assert response.status_code == expected
            assert calls == 1, f"{response.request.method} {response.request.url.path}"
            return response

        await once(200, browser.get(tax_page))
        await once(200, browser.get(f"{tax_page}?check=1"))
        check = await once(200, browser.get(f"/drafts/{draft_id}/check"))
        form = {"csrf_token": csrf_of(check.text), "form": "snap",
                "key": check.text.split('name="key" value="')[1].split('"')[0]}  # fmt: skip
        refused = await once(422, browser.post(f"/drafts/{draft_id}/submit", data=form))
        assert f'href="{tax_page}?check=1&amp;return=check#f-taxNumber"' in refused.text
        token = form["csrf_token"]
        await once(422, browser.post(tax_page, data={"/taxNumber": "12", "csrf_token": token}))
        valid = {"/taxNumber": "123456789", "csrf_token": token}
        assert (await once(303, browser.post(tax_page, data=valid))).headers["location"] == (
            f"/drafts/{draft_id}/check"
        )
        check = await once(200, browser.get(f"/drafts/{draft_id}/check"))
        form["key"] = check.text.split('name="key" value="')[1].split('"')[0]
        await once(303, browser.post(f"/drafts/{draft_id}/submit", data=form))


async def test_check_your_answers_builds_each_page_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """Building the questions is most of the check page's cost on a large form: its summary
    and its idempotency key (the visible answers) share one build of each visible page."""
    built: list[str] = []
    real = FormDefinition.page_fields

    def counting(self: FormDefinition, page: Any, answers: dict[str, Any]) -> Any:
        built.append(page.id)
        return real(self, page, answers)

    schema = _with(taxNumber={"type": "string", "pattern": "^[0-9]{9}$"})
    fake = FakeGateway(schema=schema, ui=US_ONLY_UI)
    async with portal_browser(fake.transport()) as browser:
        _, draft_id = await start(browser)
        fake.drafts[draft_id]["answers"] = {"fullName": "Ana Diaz", "taxNumber": "123456789",
                                            "homeAddress": dict(OLD_ADDRESS)}  # fmt: skip
        monkeypatch.setattr(FormDefinition, "page_fields", counting)
        check = await browser.get(f"/drafts/{draft_id}/check")
    assert check.status_code == 200
    assert "123456789" in check.text
    assert built, "the check page builds its pages"
    assert len(built) == len(set(built)), f"a page built twice: {built}"
