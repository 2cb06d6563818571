"""What the account already knows, filled in on a new draft (docs/portal.md, "What the account
already knows"): the name and email given at sign-up on the first form, with an empty profile;
the profile's value winning; nothing when the box is unticked or for staff; a value the
field's own schema refuses left out; the two-word rule for given and family names; the
"From your account" note in both languages; and the start page saying what the box fills in
on this form."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tellonce_portal.account_prefill import account_values
from tellonce_portal.api import PUBLISHED

from .fake_gateway import FakeGateway, portal_browser
from .test_pages import csrf_of, post, sign_in
from .test_resident_journey import start

SCHEMA: dict[str, Any] = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "type": "object",
    "required": ["fullName"],
    "properties": {
        "fullName": {"type": "string", "minLength": 1, "x-element": "person.fullName"},
        "givenName": {"type": "string", "maxLength": 50, "x-element": "person.givenName"},
        "familyName": {"type": "string", "maxLength": 50, "x-element": "person.familyName"},
        "contact": {"type": "object", "properties": {"email": {"$ref": "#/definitions/email"}}},
        "ssn": {"type": "string", "pattern": "^[0-9]{9}$", "x-element": "person.ssn"},
        "workEmail": {"type": "string", "format": "email"},
    },
    "definitions": {
        "email": {"type": "string", "format": "email", "maxLength": 40,
                  "x-element": "person.email"},
    },
}  # fmt: skip
UI: dict[str, Any] = {
    "pages": [
        {"id": "you", "title": {"en": "About you", "es": "Sobre usted"},
         "fields": ["/fullName", "/givenName", "/familyName", "/contact", "/ssn", "/workEmail"]},
    ],
    "fields": {
        "/fullName": {"label": {"en": "Full name", "es": "Nombre completo"}},
        "/givenName": {"label": {"en": "Given name", "es": "Nombre de pila"}},
        "/familyName": {"label": {"en": "Family name", "es": "Apellido"}},
        "/contact": {"label": {"en": "How to reach you", "es": "Cómo contactarle"}},
        "/contact/email": {"label": {"en": "Email address", "es": "Correo electrónico"}},
        "/ssn": {"label": {"en": "Social Security number", "es": "Número de Seguro Social"}},
        "/workEmail": {"label": {"en": "Work email", "es": "Correo del trabajo"}},
    },
}  # fmt: skip
RESIDENT = "resident@demo.gov"


@pytest.fixture
def fake() -> FakeGateway:
    PUBLISHED.items.pop(("snap", 1), None)  # another test's form under the fake's one slug
    gateway = FakeGateway(schema=SCHEMA, ui=UI)
    gateway.keep = False  # a new account: nothing kept
    gateway.profile_values.clear()
    return gateway


@pytest.fixture
async def browser(fake: FakeGateway) -> AsyncIterator[httpx.AsyncClient]:
    async with portal_browser(fake.transport()) as client:
        yield client


def note(html: str, html_id: str) -> str:
    """The text of a question's filled-in note (``<id>-prefilled``), empty when it has none."""
    found = re.search(rf'id="{html_id}-prefilled">([^<]*)<', html)
    return found.group(1) if found else ""


def patches(fake: FakeGateway) -> list[str]:
    return [p for m, p, _ in fake.calls if m == "PATCH" and p.startswith("/api/v1/drafts/")]


async def test_the_first_form_comes_with_the_account_name_and_email(
    browser: httpx.AsyncClient, fake: FakeGateway
) -> None:
    await sign_in(browser)
    draft_id = await start(browser, prefill=True)
    assert fake.drafts[draft_id]["answers"] == {
        "fullName": "Ana Diaz",
        "givenName": "Ana",
        "familyName": "Diaz",
        "contact": {"email": RESIDENT},
    }, "written into the draft: ordinary answers, through the drafts API"
    assert len(patches(fake)) == 1
    page = await browser.get(f"/drafts/{draft_id}/pages/1")
    for html_id in ("f-fullName", "f-givenName", "f-familyName", "f-contact-email"):
        assert note(page.text, html_id) == "From your account: check it is right", html_id
    assert 'aria-describedby="f-contact-email-prefilled"' in page.text
    assert note(page.text, "f-ssn") == "", "the account knows no SSN"
    assert note(page.text, "f-workEmail") == "", "not mapped to the email element"
    # The resident changes one: it is their answer now.
    saved = await post(
        browser,
        f"/drafts/{draft_id}/pages/1",
        {"/fullName": "Ana Diaz", "/givenName": "Anita", "/familyName": "Diaz",
         "/contact/email": RESIDENT, "/ssn": "123456789"},
    )  # fmt: skip
    assert saved.status_code == 303, saved.text[:300]
    assert fake.drafts[draft_id]["answers"]["givenName"] == "Anita"


async def test_the_profile_wins_over_the_account(
    browser: httpx.AsyncClient, fake: FakeGateway
) -> None:
    fake.keep = True
    fake.profile_values["person.fullName"] = "Ana María Diaz Ortega"
    await sign_in(browser)
    draft_id = await start(browser, prefill=True)
    answers = fake.drafts[draft_id]["answers"]
    assert answers["fullName"] == "Ana María Diaz Ortega", "the profile's, not the account's"
    assert answers["contact"] == {"email": RESIDENT}
    page = await browser.get(f"/drafts/{draft_id}/pages/1")
    assert note(page.text, "f-fullName") == "From your profile: check it is still right"
    assert note(page.text, "f-contact-email") == "From your account: check it is right"


async def test_an_unticked_box_fills_nothing(browser: httpx.AsyncClient, fake: FakeGateway) -> None:
    await sign_in(browser)
    draft_id = await start(browser)
    assert fake.drafts[draft_id]["answers"] == {}
    assert patches(fake) == []
    page = await browser.get(f"/drafts/{draft_id}/pages/1")
    assert "From your account" not in page.text


async def test_a_value_the_field_refuses_is_not_filled(
    browser: httpx.AsyncClient, fake: FakeGateway
) -> None:
    """The form's email question takes 40 characters at most: a longer account email is
    left for the resident to give, not written into a draft that could not be sent."""
    long_email = "a-rather-long-address-for-a-resident@example.org"
    fake.users[long_email] = {**fake.users[RESIDENT], "email": long_email}
    await sign_in(browser, long_email)
    start_page = await browser.get("/forms/snap")
    assert "Email address" not in start_page.text.split("data-prefill-account", 1)[1][:300]
    draft_id = await start(browser, prefill=True)
    answers = fake.drafts[draft_id]["answers"]
    assert "contact" not in answers
    assert answers["fullName"] == "Ana Diaz"


@pytest.mark.parametrize(
    ("full_name", "given", "family"),
    [
        ("Ana Diaz", "Ana", "Diaz"),
        ("  Ana   Diaz ", "Ana", "Diaz"),
        ("Ana", None, None),
        ("María de la Cruz", None, None),
        ("Ana María Diaz", None, None),
    ],
)
def test_given_and_family_names_only_from_two_words(
    full_name: str, given: str | None, family: str | None
) -> None:
    values = account_values("a@example.org", full_name)
    assert values.get("person.givenName") == given
    assert values.get("person.familyName") == family
    assert values["person.fullName"] == full_name.strip()
    assert account_values(None, None) == {}
    assert account_values(" ", "") == {}


async def test_a_name_of_more_words_fills_only_the_full_name(
    browser: httpx.AsyncClient, fake: FakeGateway
) -> None:
    fake.users[RESIDENT]["full_name"] = "María de la Cruz"
    await sign_in(browser)
    draft_id = await start(browser, prefill=True)
    answers = fake.drafts[draft_id]["answers"]
    assert answers["fullName"] == "María de la Cruz"
    assert "givenName" not in answers
    assert "familyName" not in answers


async def test_the_account_note_in_spanish(browser: httpx.AsyncClient, fake: FakeGateway) -> None:
    await sign_in(browser)
    await browser.get("/language", params={"to": "es"})
    start_page = await browser.get("/forms/snap")
    assert "De su cuenta: Nombre completo; Nombre de pila; Apellido" in start_page.text
    draft_id = await start(browser, prefill=True)
    page = await browser.get(f"/drafts/{draft_id}/pages/1")
    assert note(page.text, "f-contact-email") == "De su cuenta: compruebe que es correcto"
    assert "From your account" not in page.text


async def test_staff_get_no_box_and_no_account_values(
    browser: httpx.AsyncClient, fake: FakeGateway
) -> None:
    await sign_in(browser, "staff@dss.demo.gov")
    page = await browser.get("/forms/snap")
    assert 'name="prefill"' not in page.text
    asked = [p for _, p, _ in fake.calls]
    assert "/api/v1/profile" not in asked
    assert not [p for p in asked if p.endswith("/fields")]
    tried = await browser.post(
        "/forms/snap/start",
        data={"version": "1", "prefill": "yes", "csrf_token": csrf_of(page.text)},
        follow_redirects=False,
    )
    assert tried.status_code == 403, "only residents start forms"
    assert fake.drafts == {}
    assert patches(fake) == []


async def test_a_mapping_confirmed_in_the_audit_is_filled_too(
    browser: httpx.AsyncClient, fake: FakeGateway
) -> None:
    """The fields document's mappings count as the schema's do (the profile's prefill uses
    them): a work email an auditor mapped to ``person.email`` is filled."""
    fake.audit_mappings = {"/workEmail": "person.email"}
    await sign_in(browser)
    draft_id = await start(browser, prefill=True)
    assert fake.drafts[draft_id]["answers"]["workEmail"] == RESIDENT


async def test_the_start_page_says_what_the_box_fills_on_this_form(
    browser: httpx.AsyncClient, fake: FakeGateway
) -> None:
    fake.keep = True
    fake.profile_values.update({"person.fullName": "Ana Diaz", "person.ssn": "123456789"})
    await sign_in(browser)
    page = await browser.get("/forms/snap")
    box = re.search(r'<input[^>]*id="prefill"[^>]*>', page.text)
    assert box
    assert "checked" in box.group(0)
    assert "prefill-what" in box.group(0), "the list describes the box"
    assert (
        "From your account: Given name; Family name; How to reach you: Email address." in page.text
    )
    assert "From the answers kept in your profile: Full name; Social Security number." in (
        page.text
    )
    assert "data-prefill-profile-none" not in page.text


async def test_the_start_page_when_the_profile_keeps_nothing_this_form_asks(
    browser: httpx.AsyncClient, fake: FakeGateway
) -> None:
    """Kept values none of which this form asks: the account's are still offered, and the
    page says why nothing comes from the profile; with no account values either, no box."""
    fake.keep = True
    fake.profile_values["person.birthDate"] = "1990-04-02"
    await sign_in(browser)
    page = await browser.get("/forms/snap")
    assert 'name="prefill"' in page.text
    assert "None of the answers kept in your profile is asked on this form." in page.text

    PUBLISHED.items.pop(("snap", 1), None)
    fake.schema, fake.ui = (
        {"type": "object", "properties": {"ssn": SCHEMA["properties"]["ssn"]}},
        {},
    )
    page = await browser.get("/forms/snap")
    assert 'name="prefill"' not in page.text, "no box that would do nothing"
    assert "Nothing can be filled in for you on this form" in page.text


async def test_keeping_off_still_offers_the_account(
    browser: httpx.AsyncClient, fake: FakeGateway
) -> None:
    await sign_in(browser)
    page = await browser.get("/forms/snap")
    assert 'name="prefill"' in page.text
    assert "data-prefill-none" not in page.text
    assert "Answers from earlier forms are not filled in: keeping your answers is turned off" in (
        page.text
    )


# -- only questions the resident is shown (review finding, 2026-11-27) -------------------------

EMAIL_IN_HIDDEN_GROUP: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "properties": {
        "wantsEmail": {"type": "boolean"},
        "contact": {
            "type": "object",
            "properties": {
                "email": {"type": "string", "format": "email", "x-element": "person.email"}
            },
        },
    },
}
HIDDEN_GROUP_UI = {
    "pages": [{"id": "p", "title": "P", "fields": ["/wantsEmail", "/contact"]}],
    "fields": {"/contact": {"show_if": {"pointer": "/wantsEmail", "equals": True}}},
}
EMAIL_IN_A_BRANCH: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "properties": {
        "contact": {
            "type": "object",
            "oneOf": [
                {
                    "properties": {"method": {"const": "phone"}, "phone": {"type": "string"}},
                    "required": ["method", "phone"],
                    "additionalProperties": False,
                },
                {
                    "properties": {
                        "method": {"const": "email"},
                        "email": {
                            "type": "string",
                            "format": "email",
                            "x-element": "person.email",
                        },
                    },
                    "required": ["method", "email"],
                    "additionalProperties": False,
                },
            ],
        }
    },
}
BRANCH_UI = {"pages": [{"id": "p", "title": "P", "fields": ["/contact"]}]}


@pytest.mark.parametrize(
    ("schema", "ui"),
    [(EMAIL_IN_HIDDEN_GROUP, HIDDEN_GROUP_UI), (EMAIL_IN_A_BRANCH, BRANCH_UI)],
    ids=["group-hidden-by-show_if", "oneOf-branch-not-chosen"],
)
async def test_a_question_the_resident_is_not_shown_is_not_filled(
    schema: dict[str, Any], ui: dict[str, Any]
) -> None:
    """An answer in a group whose condition is not met, or in a branch not chosen, would
    reach the agencies (or make the draft unsendable) without the resident having seen it."""
    PUBLISHED.items.pop(("snap", 1), None)
    fake = FakeGateway(schema=schema, ui=ui)
    fake.keep = False
    fake.profile_values.clear()
    async with portal_browser(fake.transport()) as browser:
        await sign_in(browser)
        started = await post(
            browser, "/forms/snap", {"version": "1", "prefill": "yes"}, "/forms/snap/start"
        )
        draft_id = started.headers["location"].split("/")[2]
        assert "contact" not in fake.drafts[draft_id]["answers"]
