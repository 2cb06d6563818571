"""Where focus lands in Chromium, without the page's script: after "Add" and "Remove" in a
list (on the item added, or the list), and on the audit's ticked-fields question from its
error summary link."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from .fake_gateway import PASSWORD, FakeGateway
from .test_browser import CHROMIUM, served_portal

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="Debian's chromium is not installed at /usr/bin/chromium"
    ),
]


@pytest.fixture(scope="module")
def portal_url() -> Iterator[str]:
    yield from served_portal(FakeGateway())


@pytest.fixture
def page(portal_url: str) -> Iterator[Any]:
    """A tab with JavaScript off: the focus must not depend on the page's script."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM), args=["--headless", "--no-sandbox", "--disable-gpu"]
        )
        context = browser.new_context(base_url=portal_url, java_script_enabled=False)
        yield context.new_page()
        context.close()
        browser.close()


def sign_in(page: Any, email: str) -> None:
    page.goto("/sign-in")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()


def focused(page: Any) -> str:
    return str(page.evaluate("document.activeElement.id || document.activeElement.tagName"))


def test_focus_follows_add_and_remove(page: Any) -> None:
    sign_in(page, "resident@demo.gov")
    page.goto("/forms/snap")
    page.get_by_role("button", name="Start now").click()
    page.wait_for_url(re.compile(r"/pages/1$"))
    page.goto(page.url.replace("/pages/1", "/pages/2"))
    page.locator("button[value='add:/household']").click()
    page.wait_for_url(re.compile(r"#f-household-0$"))
    assert focused(page) == "f-household-0", "on the item added, read by its legend"
    page.locator("button[value='add:/household']").click()
    page.wait_for_url(re.compile(r"#f-household-1$"))
    assert focused(page) == "f-household-1"
    page.keyboard.press("Tab")
    assert focused(page) == "f-household-1-name", "Tab goes on into the new item"
    page.locator("button[value='remove:/household/1']").click()
    page.wait_for_url(re.compile(r"#f-household$"))
    assert focused(page) == "f-household", "on the list after a removal"


def test_the_ticked_fields_error_link_reaches_the_fields(page: Any) -> None:
    sign_in(page, "auditor@demo.gov")
    page.goto("/audit?cluster=c1")
    page.get_by_role("button", name="Reject the ticked fields").click()
    page.wait_for_load_state()
    page.locator(".usa-error-summary a[href='#f-fields']").click()
    assert focused(page) == "f-fields"
    assert "Select the fields to reject" in page.locator("#f-fields").inner_text()


def test_enter_in_a_box_of_the_cluster_form_posts_nothing(page: Any) -> None:
    """The split's name box and the confirmation's element box share one form (both use the
    ticked fields): its default button is disabled, so Enter neither splits nor confirms."""
    sign_in(page, "auditor@demo.gov")
    page.goto("/audit?cluster=e-address.street")
    posted: list[str] = []
    page.on(
        "request", lambda request: posted.append(request.url) if request.method == "POST" else None
    )
    page.locator("input[name=field]").first.check()
    for box in ("#f-element", "#f-label"):
        page.locator(box).press("Enter")
    page.wait_for_timeout(300)
    assert posted == []
    page.get_by_role("button", name="Confirm the ticked fields").click()
    page.wait_for_url(re.compile(r"/audit\?cluster=e-address\.street#cluster$"))
    assert "Mapped 1 fields; left out 0." in page.locator("main").inner_text()
