"""Change from check your answers: the page carries a return marker, Continue and Back go back
to check your answers, unless the change opened a later page that must be answered first."""

from __future__ import annotations

import html as html_lib
import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from .fake_gateway import SCHEMA, UI, FakeGateway, portal_browser
from .test_pages import csrf_of, post, sign_in

# The fake's form with the income asked on a page of its own, shown only to those with a job.
JOB_UI: dict[str, Any] = {
    **UI,
    "pages": [
        {"id": "you", "title": {"en": "About you"}, "fields": ["/fullName", "/ssn", "/hasJob"]},
        {"id": "job", "title": {"en": "Your job"}, "fields": ["/monthlyIncome"],
         "show_if": {"pointer": "/hasJob", "equals": True}},
        {"id": "household", "title": {"en": "Your household"}, "fields": ["/household"]},
    ],
    "fields": {**UI["fields"], "/monthlyIncome": {"label": {"en": "Monthly income"}}},
}  # fmt: skip


@pytest.fixture
def fake() -> FakeGateway:
    return FakeGateway(schema=SCHEMA, ui=JOB_UI)


@pytest.fixture
async def browser(fake: FakeGateway) -> AsyncIterator[httpx.AsyncClient]:
    async with portal_browser(fake.transport()) as client:
        yield client


def hidden_inputs(page: str) -> dict[str, str]:
    """The hidden inputs of the page's question form, as a browser would send them."""
    form = page.split('class="usa-form usa-form--large"', 1)[1].split("</form>", 1)[0]
    return {
        name: html_lib.unescape(value)
        for name, value in re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form)
    }


async def continue_on(
    client: httpx.AsyncClient, url: str, answers: dict[str, str]
) -> httpx.Response:
    """Open ``url`` (as a link would, query included) and press Continue with ``answers``."""
    page = await client.get(url)
    assert page.status_code == 200
    action = re.search(
        r'<form method="post" action="([^"]+)" novalidate class="usa-form', page.text
    )
    assert action
    data = {**hidden_inputs(page.text), **answers, "_action": "continue"}
    return await client.post(action.group(1), data=data)


def change_link(check: str, anchor: str) -> str:
    found = re.search(r'href="([^"]*#' + anchor + ')"', check)
    assert found, f"a Change link to {anchor}"
    return html_lib.unescape(found.group(1))


YOU = {"/fullName": "Ana Diaz", "/ssn": "123456789", "/hasJob": "false"}


async def filled_to_check(browser: httpx.AsyncClient) -> str:
    await sign_in(browser)
    started = await post(browser, "/forms/snap", {"version": "1"}, "/forms/snap/start")
    draft_id = started.headers["location"].split("/")[2]
    first = await continue_on(browser, f"/drafts/{draft_id}/pages/1", YOU)
    assert first.headers["location"] == f"/drafts/{draft_id}/pages/2", "no job: no job page"
    await post(browser, f"/drafts/{draft_id}/pages/2", {"_action": "add:/household"})
    last = await continue_on(browser, f"/drafts/{draft_id}/pages/2", {"/household/0/name": "Ana"})
    assert last.headers["location"] == f"/drafts/{draft_id}/check"
    return draft_id


async def test_change_goes_back_to_check_your_answers(
    browser: httpx.AsyncClient, fake: FakeGateway
) -> None:
    draft_id = await filled_to_check(browser)
    check = await browser.get(f"/drafts/{draft_id}/check")
    link = change_link(check.text, "f-fullName")
    assert link == f"/drafts/{draft_id}/pages/1?return=check#f-fullName"
    page = await browser.get(link)
    assert hidden_inputs(page.text).get("_return") == "check"
    assert f'<a class="usa-link usa-link--back" href="/drafts/{draft_id}/check">' in page.text
    changed = await continue_on(browser, link, {**YOU, "/fullName": "Ana María Díaz"})
    assert changed.status_code == 303
    assert changed.headers["location"] == f"/drafts/{draft_id}/check"
    assert fake.drafts[draft_id]["answers"]["fullName"] == "Ana María Díaz"
    # Without the marker (the page reached by Continue), the next page follows as before.
    plain = await continue_on(browser, f"/drafts/{draft_id}/pages/1", YOU)
    assert plain.headers["location"] == f"/drafts/{draft_id}/pages/2"


async def test_an_error_on_a_changed_page_keeps_the_return_marker(
    browser: httpx.AsyncClient,
) -> None:
    draft_id = await filled_to_check(browser)
    link = f"/drafts/{draft_id}/pages/1?return=check"
    wrong = await continue_on(browser, link, {**YOU, "/ssn": "12"})
    assert wrong.status_code == 422
    assert hidden_inputs(wrong.text).get("_return") == "check", "still on its way back"
    assert f'href="/drafts/{draft_id}/check"' in wrong.text
    fixed = await browser.post(
        f"/drafts/{draft_id}/pages/1",
        data={**hidden_inputs(wrong.text), **YOU, "_action": "continue"},
    )
    assert fixed.headers["location"] == f"/drafts/{draft_id}/check"


async def test_adding_an_item_on_a_changed_page_keeps_the_return_marker(
    browser: httpx.AsyncClient,
) -> None:
    draft_id = await filled_to_check(browser)
    page = await browser.get(f"/drafts/{draft_id}/pages/2?return=check")
    added = await browser.post(
        f"/drafts/{draft_id}/pages/2",
        data={**hidden_inputs(page.text), "_action": "add:/household"},
    )
    assert added.headers["location"] == (f"/drafts/{draft_id}/pages/2?return=check#f-household-1")


async def test_a_change_that_opens_a_page_asks_it_first_then_returns(
    browser: httpx.AsyncClient, fake: FakeGateway
) -> None:
    draft_id = await filled_to_check(browser)
    check = await browser.get(f"/drafts/{draft_id}/check")
    link = change_link(check.text, "f-hasJob")
    job = await continue_on(browser, link, {**YOU, "/hasJob": "true"})
    assert job.headers["location"] == f"/drafts/{draft_id}/pages/2?return=check", (
        "the job page the change opened comes first"
    )
    page = await browser.get(job.headers["location"])
    assert "Your job" in page.text
    done = await continue_on(browser, job.headers["location"], {"/monthlyIncome": "900"})
    assert done.headers["location"] == f"/drafts/{draft_id}/check"
    assert fake.drafts[draft_id]["answers"]["monthlyIncome"] == 900
    # A change that opens nothing (back to no job) returns at once.
    back = await continue_on(browser, link, {**YOU, "/hasJob": "false"})
    assert back.headers["location"] == f"/drafts/{draft_id}/check"


async def test_error_links_on_check_your_answers_carry_the_return_marker(
    browser: httpx.AsyncClient,
) -> None:
    await sign_in(browser)
    started = await post(browser, "/forms/snap", {"version": "1"}, "/forms/snap/start")
    draft_id = started.headers["location"].split("/")[2]
    check = await browser.get(f"/drafts/{draft_id}/check")
    refused = await browser.post(
        f"/drafts/{draft_id}/submit", data={"csrf_token": csrf_of(check.text), "form": "snap"}
    )
    assert refused.status_code == 422
    link = change_link(refused.text, "f-fullName")
    assert link == f"/drafts/{draft_id}/pages/1?check=1&return=check#f-fullName"
    page = await browser.get(link)
    assert "Enter full name" in page.text
    assert hidden_inputs(page.text).get("_return") == "check"
    assert f'<a class="usa-link usa-link--back" href="/drafts/{draft_id}/check">' in page.text
