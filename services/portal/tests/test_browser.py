"""The portal's pages in Debian's Chromium with axe-core, the gateway stood in for at the
outbound boundary: fast accessibility feedback on every page kind without the whole hub (the
end-to-end journeys live in tests/browser/)."""

from __future__ import annotations

import os
import re
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from tellonce_portal.config import Settings
from tellonce_portal.main import create_app

from .fake_gateway import PASSWORD, FakeGateway

CHROMIUM = Path("/usr/bin/chromium")
AXE = Path(__file__).resolve().parents[3] / "tests" / "browser" / "vendor" / "axe.min.js"
AXE_SOURCE = AXE.read_text(encoding="utf-8") if AXE.exists() else ""
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22a", "wcag22aa"]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="Debian's chromium is not installed at /usr/bin/chromium"
    ),
]


def served_portal(fake: FakeGateway) -> Iterator[str]:
    """The portal on a free 127.0.0.1 port in a thread, its gateway ``fake``: its URL."""
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


def chromium_tab(portal_url: str) -> Iterator[Any]:
    """A tab of headless Debian Chromium on ``portal_url``, its console kept in CONSOLE."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"],
        )  # fmt: skip
        context = browser.new_context(base_url=portal_url, bypass_csp=False)
        tab = context.new_page()
        tab.on("console", lambda message: CONSOLE.append(message.text))
        yield tab
        context.close()
        browser.close()


def with_an_erased_delivery(fake: FakeGateway) -> FakeGateway:
    """Another resident's application delivered to DSS whose answers were erased under the
    retention rule, so the inbox shows its marker and its page the notice."""
    fake.delivered(
        "s-erased",
        "CT-2026-ERAS-ED01",
        erased_at="2026-11-01T03:00:00Z",
        owner="r-other",
        full_name="Bo Li",
    )
    return fake


def with_older_deliveries(fake: FakeGateway) -> FakeGateway:
    """Sixty deliveries to DSS before the others, so the inbox has a second page (its
    Previous and Next links are checked)."""
    for n in range(60):
        fake.delivered(f"s-old-{n}", f"CT-2026-OLDR-{n:04d}", owner="r-other")
    return fake


def with_more_kept_values(fake: FakeGateway) -> FakeGateway:
    """A restricted value (masked) and an address (an object) kept too, so their change
    pages are checked."""
    fake.profile_values.update({
        "person.ssn": "123456789",
        "address.home": {"street": "1 Main St", "city": "Hartford", "state": "CT",
                         "postalCode": "06103"},
    })  # fmt: skip
    return fake


@pytest.fixture(scope="module")
def portal_url() -> Iterator[str]:
    yield from served_portal(
        with_more_kept_values(with_an_erased_delivery(with_older_deliveries(FakeGateway())))
    )


@pytest.fixture(scope="module")
def page(portal_url: str) -> Iterator[Any]:
    yield from chromium_tab(portal_url)


CONSOLE: list[str] = []
"""What the page logged: a Content-Security-Policy refusal would show here."""
SCREENSHOTS = Path(__file__).resolve().parents[3] / "docs" / "screenshots"


def axe(page: Any, shot: str | None = None) -> None:
    """Zero axe-core violations on the page and nothing its Content-Security-Policy blocked;
    with TELLONCE_SCREENSHOTS=1, a screenshot."""
    blocked = [m for m in CONSOLE if "Content Security Policy" in m]
    assert blocked == [], blocked
    if shot and os.environ.get("TELLONCE_SCREENSHOTS"):
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"{shot}.png"), full_page=True)
    page.evaluate(AXE_SOURCE)  # evaluated by the debugger protocol: the page's CSP stays on
    violations = page.evaluate(
        "async (tags) => (await axe.run(document, {runOnly: {type: 'tag', values: tags}}))"
        ".violations.map(v => ({id: v.id, help: v.help, nodes: v.nodes.map(n => n.html)}))",
        AXE_TAGS,
    )
    assert violations == [], f"axe on {page.url}: {violations}"


def sign_in(page: Any, email: str) -> None:
    page.goto("/sign-in")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()


def test_every_page_of_a_resident_journey_passes_axe(page: Any) -> None:
    page.goto("/forms")
    axe(page, "catalog")
    page.goto("/sign-in")
    page.get_by_role("button", name="Sign in").click()
    assert page.locator("[data-error-summary]").evaluate("el => el === document.activeElement")
    axe(page)
    page.goto("/sign-up")
    axe(page)
    sign_in(page, "resident@demo.gov")
    page.goto("/forms/snap")
    axe(page, "start")
    page.get_by_role("button", name="Start now").click()
    page.wait_for_url(re.compile(r"/pages/1$"))
    axe(page, "prefilled")
    assert page.locator("#f-fullName-prefilled").is_visible()
    page.get_by_label("Social Security number").fill("12")
    page.get_by_role("button", name="Continue").click()
    page.locator("[data-error-summary]").wait_for()
    axe(page, "error")
    page.locator("[data-error-summary] a").first.click()
    assert page.evaluate("document.activeElement.id") == "f-ssn"
    page.get_by_label("Social Security number").fill("123456789")
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url(re.compile(r"/pages/2$"))
    page.get_by_role("button", name="Add an entry to “Household”").click()
    page.wait_for_load_state()
    page.get_by_label("Name", exact=True).fill("Ana")
    income = page.get_by_label("Monthly income")
    assert not income.is_visible(), "a question that does not apply yet is hidden"
    page.get_by_role("group", name="Do you have a job?").get_by_label("Yes").check()
    assert income.is_visible(), "answering Yes reveals it"
    income.fill("1200")
    axe(page, "household")
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url(re.compile(r"/check$"))
    axe(page, "check")
    page.get_by_role("button", name="Accept and send").click()
    page.wait_for_url(re.compile(r"/confirmation$"))
    axe(page, "confirmation")
    assert re.match(r"CT-2026-", page.locator("[data-reference]").inner_text())
    page.goto("/applications")
    axe(page, "applications")
    page.get_by_role("link", name="Food help (SNAP)").first.click()
    page.wait_for_load_state()
    axe(page, "timeline")
    page.goto("/profile")
    axe(page, "profile")
    page.get_by_role("link", name="Change Home address").click()
    page.wait_for_url(re.compile(r"/profile/values/address\.home$"))
    axe(page, "profile-change")
    page.get_by_label("Street").fill("")
    page.get_by_role("button", name="Save this answer").click()
    page.locator("[data-error-summary]").wait_for()
    assert page.locator("[data-error-summary]").evaluate("el => el === document.activeElement")
    axe(page)
    page.goto("/profile/values/person.ssn")
    assert page.get_by_label("Social Security number").input_value() == ""
    axe(page)
    page.goto("/profile")
    page.get_by_role("link", name="Erase everything you keep about me").click()
    page.wait_for_url(re.compile(r"/profile/erase$"))
    axe(page, "profile-erase")
    page.goto("/no-such-page")
    axe(page)
    page.goto("/language?to=es&next=/forms/snap")
    assert page.locator("html").get_attribute("lang") == "es"
    axe(page, "start-es")
    page.goto("/language?to=en&next=/")


def test_axe_finds_violations_when_there_are_some(page: Any) -> None:
    """The check above cannot pass vacuously: a page with an unlabelled input fails it."""
    page.goto("/forms")
    page.evaluate("document.querySelector('main').insertAdjacentHTML('beforeend', '<input>')")
    with pytest.raises(AssertionError, match="label"):
        axe(page)
    page.goto("/forms")
    page.evaluate(
        "document.querySelector('main').insertAdjacentHTML('beforeend', "
        '\'<img alt="" src="https://example.invalid/pixel.png">\')'
    )
    page.wait_for_timeout(200)
    with pytest.raises(AssertionError, match="Content Security Policy"):
        axe(page)
    CONSOLE.clear()


def test_staff_and_auditor_pages_pass_axe(page: Any) -> None:
    page.context.clear_cookies()
    sign_in(page, "staff@dss.demo.gov")
    page.wait_for_url(re.compile(r"/inbox$"))
    axe(page, "inbox")
    erased = page.get_by_role("link", name="CT-2026-ERAS-ED01")
    assert erased.get_attribute("aria-describedby")
    assert "Answers erased on 31 October 2026" in page.locator("[data-share-erased]").inner_text()
    erased.click()
    page.locator("[data-share-erased]").wait_for()
    axe(page)
    page.goto("/inbox")
    links = page.locator("table a")
    if links.count():
        links.first.click()
        page.wait_for_load_state()
        axe(page, "delivery")
        page.get_by_role("button", name="Send update").click()
        page.locator("[data-error-summary]").wait_for()
        axe(page)
    page.goto("/inbox")
    page.get_by_role("link", name=re.compile("^Next")).click()
    page.locator("a[rel=prev]").wait_for()
    axe(page, "inbox-page-2")
    page.goto("/inbox/systems")
    axe(page)
    page.get_by_label("Receiver address (URL)").fill("https://dss.example.gov/hook")
    page.get_by_role("button", name="Add endpoint").click()
    page.locator("[data-secret]").wait_for()
    axe(page, "systems")
    page.context.clear_cookies()
    sign_in(page, "auditor@demo.gov")
    page.wait_for_url(re.compile(r"/audit$"))
    axe(page, "audit")
    page.goto("/audit?cluster=c1")
    axe(page)
    page.goto("/audit?cluster=e-address.street")
    page.get_by_role("button", name="Confirm the cluster").click()
    page.locator("[data-left-out]").wait_for()
    axe(page)  # the fields a confirmation left out, listed
    page.goto("/audit?cluster=c-address.street3")
    page.get_by_role("button", name="Confirm the cluster").click()
    page.locator("#f-fields-error").wait_for()
    axe(page)  # none of the fields is the resident's own: told at the checkboxes
    page.context.clear_cookies()
    sign_in(page, "admin@demo.gov")
    page.wait_for_url(re.compile(r"/admin$"))
    axe(page, "admin")
    page.goto("/admin/forms/snap")
    axe(page)
