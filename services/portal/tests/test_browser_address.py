"""The address-by-country reveal in Chromium: choosing a country shows that country's state
question, hides the others, "Another country" shows its text box (a listed country's name
typed there chooses it), and the page still passes axe."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from .fake_gateway import FakeGateway
from .test_address_by_country import SCHEMA, UI
from .test_browser import CHROMIUM, axe, chromium_tab, served_portal, sign_in

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="Debian's chromium is not installed at /usr/bin/chromium"
    ),
]


@pytest.fixture(scope="module")
def fake() -> FakeGateway:
    return FakeGateway(schema=SCHEMA, ui=UI)


@pytest.fixture(scope="module")
def portal_url(fake: FakeGateway) -> Iterator[str]:
    yield from served_portal(fake)


@pytest.fixture(scope="module")
def page(portal_url: str) -> Iterator[Any]:
    yield from chromium_tab(portal_url)


def test_choosing_a_country_reveals_its_state_question(page: Any, fake: FakeGateway) -> None:
    sign_in(page, "resident@demo.gov")
    page.goto("/forms/snap")
    page.get_by_role("button", name="Start now").click()
    page.wait_for_url(re.compile(r"/pages/1$"))
    us_state = page.locator("#f-homeAddress-state--2")
    canada_state = page.locator("#f-homeAddress-state--0")
    typed_state = page.locator("#f-homeAddress-state--3")
    country_name = page.get_by_label("Country name")
    assert not us_state.is_visible(), "no country yet: no state question"
    assert not typed_state.is_visible()
    assert not country_name.is_visible(), "the other country's box waits for its choice"
    page.get_by_label("Full name").fill("Ana Diaz")
    page.locator("#f-homeAddress-street").fill("1 Main St")
    page.locator("#f-homeAddress-city").fill("Hartford")
    page.get_by_label("United States").check()
    assert us_state.is_visible()
    assert not canada_state.is_visible()
    assert not typed_state.is_visible()
    assert not country_name.is_visible()
    axe(page, "address-usa")
    page.get_by_label("Another country").check()
    assert country_name.is_visible()
    assert not us_state.is_visible()
    country_name.fill("France")
    country_name.press("Tab")
    assert typed_state.is_visible(), "every other country types its region"
    axe(page, "address-other-country")
    country_name.fill("united states")
    country_name.press("Tab")  # a listed country's name chooses it
    assert page.get_by_label("United States").is_checked()
    assert us_state.is_visible()
    assert not typed_state.is_visible()
    us_state.select_option("CT")
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url(re.compile(r"/check$"))
    (draft,) = fake.drafts.values()
    assert draft["answers"]["homeAddress"]["country"] == "USA"
    assert draft["answers"]["homeAddress"]["state"] == "CT"
