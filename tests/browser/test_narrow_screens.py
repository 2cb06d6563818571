"""The resident's pages at 320 CSS px wide (WCAG 1.4.10 reflow: no sideways scrolling), in
Debian's Chromium against the seeded hub: the catalog's cards, the "who receives" table on
the start and check pages, My applications. On the way, numbers are typed the usual way
("123-45-6789", "(860) 555-0123"), under the hints the demo forms now carry."""

from __future__ import annotations

import re
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from hubkit.harness import Hub

if TYPE_CHECKING:
    from playwright.sync_api import Page

CHROMIUM = Path("/usr/bin/chromium")
PASSWORD = "a long enough passphrase for the narrow screen"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.e2e,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="Debian's chromium is not installed at /usr/bin/chromium"
    ),
]


def fits(page: Page, what: str) -> None:
    """Nothing on the page is wider than the window (320 px)."""
    width, window = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    wider = page.evaluate(
        "() => [...document.querySelectorAll('main *')]"
        ".filter(e => e.getBoundingClientRect().right > window.innerWidth + 0.5)"
        ".slice(0, 5).map(e => e.tagName + ': ' + (e.textContent || '').trim().slice(0, 40))"
    )
    assert window == 320
    assert width <= window, f"{what} scrolls sideways ({width} px): {wider}"


def test_the_residents_pages_reflow_at_320_px(demo_hub: Hub) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"],
        )
        try:
            context = browser.new_context(
                base_url=demo_hub.gateway_url, viewport={"width": 320, "height": 640}
            )
            page = context.new_page()
            page.goto("/sign-up")
            page.get_by_label("Full name").fill("Ana Diaz")
            page.get_by_label("Email address").fill(f"narrow-{uuid.uuid4().hex[:8]}@example.org")
            page.get_by_label("Password", exact=True).fill(PASSWORD)
            page.get_by_role("button", name="Create an account").click()
            page.wait_for_url(re.compile(r"/forms$"))
            fits(page, "the catalog")

            page.goto("/forms/dss-energy-assistance")
            receivers = page.get_by_role("table", name="Who will receive your answers")
            assert receivers.get_by_role("rowheader").count() >= 2, "still a table, read as one"
            fits(page, "the start page")
            page.get_by_role("button", name="Start now").click()
            page.wait_for_url(re.compile(r"/pages/1$"))
            fits(page, "the first page")
            ssn = page.get_by_label("Social Security number")
            assert ssn.get_attribute("aria-describedby") == "f-ssn-hint"
            assert page.locator("#f-ssn-hint").inner_text() == "Nine digits, no dashes."
            page.get_by_label("Full name").fill("Ana Diaz")
            page.get_by_label("Date of birth").fill("1990-04-02")
            ssn.fill("123-45-678")
            page.get_by_label("Phone number").fill("(860) 555-0123")
            page.get_by_role("button", name="Continue").click()
            summary = page.locator("[data-error-summary]")
            summary.wait_for()
            assert summary.get_by_role("link").all_inner_texts() == [
                "Social Security number must be 9 digits long"
            ]
            fits(page, "the first page with an error")
            page.get_by_label("Social Security number").fill("123-45-6789")
            page.get_by_role("button", name="Continue").click()
            page.wait_for_url(re.compile(r"/pages/2$"))
            page.get_by_label("Street address").fill("1 Main Street")
            page.get_by_label("City or town").fill("Hartford")
            page.get_by_label("State", exact=True).fill("CT")
            page.get_by_label("ZIP code").fill("06103")
            page.get_by_label("Main heating fuel").select_option(index=1)
            page.get_by_label("Utility account number").fill("EV-1234")
            page.get_by_role("group", name="Do you own your home?").get_by_label("No").check()
            page.get_by_role("button", name="Continue").click()
            page.wait_for_url(re.compile(r"/pages/3$"))
            page.get_by_label("Number of people in the household").fill("3")
            page.get_by_label("Total monthly household income (USD)").fill("2,100")
            page.get_by_role("button", name="Continue").click()
            page.wait_for_url(re.compile(r"/check$"))
            assert page.get_by_text("8605550123").first.is_visible(), "saved as digits"
            assert page.get_by_role("table", name="Who will receive your answers").is_visible()
            fits(page, "check your answers")
            page.get_by_role("button", name="Accept and send").click()
            page.wait_for_url(re.compile(r"/confirmation$"))
            fits(page, "the confirmation")

            page.goto("/applications")
            sent = page.get_by_role("table")
            assert sent.get_by_role("columnheader", name="Status").is_visible()
            assert sent.get_by_role("cell").last.is_visible(), "the status is not cut off"
            fits(page, "My applications")
            context.close()
        finally:
            browser.close()
