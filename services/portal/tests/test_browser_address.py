"""The address-by-country reveal in Chromium: picking a country shows that country's state
question, hides the others, and the page still passes axe."""

from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import uvicorn

from tellonce_portal.config import Settings
from tellonce_portal.main import create_app

from .fake_gateway import FakeGateway
from .test_address_by_country import SCHEMA, UI
from .test_browser import CHROMIUM, axe, sign_in

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
    app = create_app(Settings(gateway_url="http://gateway.test"), transport=fake.transport())
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, access_log=False)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        assert time.monotonic() < deadline, "the portal did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


@pytest.fixture(scope="module")
def page(portal_url: str) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"],
        )
        context = browser.new_context(base_url=portal_url)
        yield context.new_page()
        context.close()
        browser.close()


def test_choosing_a_country_reveals_its_state_question(page: Any, fake: FakeGateway) -> None:
    sign_in(page, "resident@demo.gov")
    page.goto("/forms/snap")
    page.get_by_role("button", name="Start now").click()
    page.wait_for_url(re.compile(r"/pages/1$"))
    us_state = page.locator("#f-homeAddress-state--2")
    canada_state = page.locator("#f-homeAddress-state--0")
    typed_state = page.locator("#f-homeAddress-state--3")
    assert not us_state.is_visible(), "no country yet: no state question"
    assert not typed_state.is_visible()
    page.get_by_label("Full name").fill("Ana Diaz")
    page.locator("#f-homeAddress-street").fill("1 Main St")
    page.locator("#f-homeAddress-city").fill("Hartford")
    country = page.get_by_label("Country")
    country.fill("USA")
    country.press("Tab")  # a typed answer applies on change
    assert us_state.is_visible()
    assert not canada_state.is_visible()
    assert not typed_state.is_visible()
    axe(page)
    country.fill("France")
    country.press("Tab")
    assert typed_state.is_visible(), "every other country types its region"
    assert not us_state.is_visible()
    country.fill("USA")
    country.press("Tab")
    us_state.select_option("CT")
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url(re.compile(r"/check$"))
    (draft,) = fake.drafts.values()
    assert draft["answers"]["homeAddress"]["state"] == "CT"
