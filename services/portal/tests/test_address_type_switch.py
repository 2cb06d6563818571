"""The real 21-686C through the portal's pages: an address whose type (``addressType``) two
branches share (``INTERNATIONAL``), so its questions stay merged, and the current marriage
whose "Spouse has no SSN" switches between the SSN and the reason for none."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tellonce_portal.forms.schema import FormDefinition

from .fake_gateway import FakeGateway, portal_browser
from .test_address_by_country import start
from .test_pages import post

SCHEMA: dict[str, Any] = json.loads(
    (Path(__file__).parent / "data" / "21-686C-schema.json").read_text()
)
UI: dict[str, Any] = {
    "pages": [
        {"id": "address", "title": "Your address", "fields": ["/veteranAddress"]},
        {"id": "marriage", "title": "Current marriage", "fields": ["/currentMarriage"]},
    ]
}
ADDRESS = "/veteranAddress"
MILITARY = {f"{ADDRESS}/addressType": "MILITARY", f"{ADDRESS}/street": "Unit 1",
            f"{ADDRESS}/city": "APO", f"{ADDRESS}/countryDropdown": "USA",
            f"{ADDRESS}/postOffice": "APO", f"{ADDRESS}/postalType": "AE",
            f"{ADDRESS}/postalCode": "09001"}  # fmt: skip
DOMESTIC = {f"{ADDRESS}/addressType": "DOMESTIC", f"{ADDRESS}/street": "1 Main St",
            f"{ADDRESS}/city": "Hartford", f"{ADDRESS}/countryDropdown": "USA",
            f"{ADDRESS}/state": "CT", f"{ADDRESS}/postalCode": "06103"}  # fmt: skip
SPOUSE = "/currentMarriage/spouseAddress"
SPOUSE_ADDRESS = {f"{SPOUSE}/addressType": "DOMESTIC", f"{SPOUSE}/street": "1 Main St",
                  f"{SPOUSE}/city": "Hartford", f"{SPOUSE}/countryDropdown": "USA",
                  f"{SPOUSE}/state": "CT", f"{SPOUSE}/postalCode": "06103"}  # fmt: skip


@pytest.fixture
def fake() -> FakeGateway:
    return FakeGateway(schema=SCHEMA, ui=UI)


@pytest.fixture
async def browser(fake: FakeGateway) -> AsyncIterator[httpx.AsyncClient]:
    async with portal_browser(fake.transport()) as client:
        yield client


def test_the_686c_address_type_is_no_clean_discriminator() -> None:
    """The premise: the address's questions are merged, post office shown beside state."""
    group = FormDefinition(SCHEMA, UI).field_for(ADDRESS, {})
    assert group is not None
    names = [f.name for f in group.children]
    assert f"{ADDRESS}/postOffice" in names
    assert f"{ADDRESS}/state" in names
    assert not [f for f in group.children if f.variant]


async def test_switching_military_to_domestic_drops_the_military_answers(
    browser: httpx.AsyncClient, fake: FakeGateway
) -> None:
    first_page, draft_id = await start(browser)
    military = await post(browser, first_page, MILITARY)
    assert military.status_code == 303, "a military address passes"
    assert fake.drafts[draft_id]["answers"]["veteranAddress"]["postOffice"] == "APO"
    # The post office and postal type radios cannot be unticked: they are posted again.
    posted = {**DOMESTIC, f"{ADDRESS}/postOffice": "APO", f"{ADDRESS}/postalType": "AE"}
    domestic = await post(browser, first_page, posted)
    assert domestic.status_code == 303, "not stuck on 'This answer is not part of the form'"
    assert domestic.headers["location"] == f"/drafts/{draft_id}/pages/2"
    assert fake.drafts[draft_id]["answers"]["veteranAddress"] == {
        "addressType": "DOMESTIC", "street": "1 Main St", "city": "Hartford",
        "countryDropdown": "USA", "state": "CT", "postalCode": "06103",
    }  # fmt: skip
    # and back: the domestic state goes, the military answers are asked again
    again = await post(browser, first_page, {**MILITARY, f"{ADDRESS}/state": "CT"})
    assert again.status_code == 303
    assert "state" not in fake.drafts[draft_id]["answers"]["veteranAddress"]


async def test_a_saved_answer_of_another_address_type_is_told_on_its_question(
    browser: httpx.AsyncClient, fake: FakeGateway
) -> None:
    first_page, draft_id = await start(browser)
    fake.drafts[draft_id]["answers"] = {
        "veteranAddress": {"addressType": "DOMESTIC", "street": "1 Main St", "city": "Hartford",
                           "countryDropdown": "USA", "state": "CT", "postalCode": "06103",
                           "postOffice": "APO"}
    }  # fmt: skip
    page = await browser.get(f"{first_page}?check=1")
    assert page.status_code == 200
    assert "This answer is not part of the form" not in page.text
    assert 'id="f-veteranAddress-postOffice-error"' in page.text
    assert "Post office is not asked for this address type" in page.text
    assert 'id="f-veteranAddress-error"' not in page.text, "not on the whole address"
    assert page.text.count('class="usa-error-message"') == 1


async def test_an_unanswered_address_type_is_asked_for_on_its_question(
    browser: httpx.AsyncClient, fake: FakeGateway
) -> None:
    first_page, _ = await start(browser)
    posted = {k: v for k, v in DOMESTIC.items() if not k.endswith("/addressType")}
    page = await post(browser, first_page, posted)
    assert page.status_code == 422
    assert 'id="f-veteranAddress-addressType-error"' in page.text
    assert "Select address type" in page.text
    assert "do not fit together" not in page.text


async def test_an_unanswered_spouse_has_no_ssn_is_asked_for_on_its_question(
    browser: httpx.AsyncClient, fake: FakeGateway
) -> None:
    _, draft_id = await start(browser)
    marriage = f"/drafts/{draft_id}/pages/2"
    page = await browser.get(marriage)
    legend = page.text.split('id="f-currentMarriage-spouseHasNoSsn"')[1].split("</legend>")[0]
    assert "Spouse has no ssn" in legend
    assert "optional" not in legend, "the question that switches what is asked"
    left = await post(browser, marriage, SPOUSE_ADDRESS)
    assert left.status_code == 422
    assert "do not fit together" not in left.text
    assert 'id="f-currentMarriage-spouseHasNoSsn-error"' in left.text
    assert "Select spouse has no ssn" in left.text
    assert 'href="#f-currentMarriage-spouseHasNoSsn-0"' in left.text, "the summary links to it"
    given = await post(
        browser,
        marriage,
        {**SPOUSE_ADDRESS, "/currentMarriage/spouseHasNoSsn": "false",
         "/currentMarriage/spouseSocialSecurityNumber~v1": "123456789"},
    )  # fmt: skip
    assert given.status_code == 303
    answers = fake.drafts[draft_id]["answers"]["currentMarriage"]
    assert answers["spouseSocialSecurityNumber"] == "123456789"
