"""Staff and auditor pages after a refused post (what was typed is kept, the error sits next to
what it is about), the auditor's reject, the staff inbox's wording, catalog text marked
English on Spanish pages, and focus after adding or removing a list item."""

from __future__ import annotations

import re

import httpx

from .fake_gateway import FakeGateway
from .test_pages import browser, csrf_of, fake, post, sign_in

__all__ = ["browser", "fake"]  # the fixtures, shared with test_pages

MESSAGE = 'Please send a copy of your lease & "two" pay stubs.\nThank you.'


def given_a_delivery(fake: FakeGateway) -> None:
    fake.submissions["s1"] = {
        "id": "s1", "reference": "CT-2026-AAAA-BBBB", "form": "snap", "version": 1,
        "submitted_at": "2026-11-25T11:00:00Z", "status": "delivered", "owner": "r1",
        "deliveries": [], "timeline": [], "answers": {"fullName": "Ana Diaz", "ssn": "123456789"},
    }  # fmt: skip


async def test_a_refused_status_keeps_the_message_typed(
    browser: httpx.AsyncClient, fake: FakeGateway
) -> None:
    given_a_delivery(fake)
    await sign_in(browser, "staff@dss.demo.gov")
    no_status = await post(
        browser, "/inbox/d-s1", {"submission_id": "s1", "message": MESSAGE}, "/inbox/d-s1/status"
    )
    assert no_status.status_code == 422
    assert 'href="#f-status"' in no_status.text
    box = re.search(r'<textarea[^>]*id="f-message"[^>]*>(.*?)</textarea>', no_status.text, re.S)
    assert box, "the message box"
    # One newline after the tag is not part of the value (HTML drops it).
    assert box.group(1) == "\n" + MESSAGE.replace("&", "&amp;").replace('"', "&#34;")
    assert " selected" not in no_status.text.split('id="f-status"')[1].split("</select>")[0]

    no_message = await post(
        browser,
        "/inbox/d-s1",
        {"submission_id": "s1", "status": "needs_info"},
        "/inbox/d-s1/status",
    )
    assert no_message.status_code == 422
    assert '<option value="needs_info" selected>' in no_message.text, "the status chosen is kept"
    assert no_message.text.count(" selected>") == 1
    assert not fake.statuses


def status_options(html: str) -> list[str]:
    select = html.split('id="f-status"')[1].split("</select>")[0]
    return [v for v in re.findall(r'<option value="([^"]*)"', select) if v]


async def test_only_the_owning_agency_is_offered_the_decisions(
    browser: httpx.AsyncClient, fake: FakeGateway
) -> None:
    """SNAP is DSS's: its staff may approve or deny; DOL, which receives the name only, may
    post its own handling (the API refuses it a decision with a 403 anyway)."""
    given_a_delivery(fake)
    await sign_in(browser, "staff@dss.demo.gov")
    owner = await browser.get("/inbox/d-s1")
    assert status_options(owner.text) == [
        "received", "in_review", "needs_info", "approved", "denied",
    ]  # fmt: skip
    await browser.post("/sign-out", data={"csrf_token": csrf_of(owner.text)})
    await sign_in(browser, "staff@dol.demo.gov")
    partner = await browser.get("/inbox/d-s1")
    assert partner.status_code == 200, partner.text
    assert status_options(partner.text) == ["received", "in_review", "needs_info"]


async def test_the_inbox_says_reference_number_and_names_the_form(
    browser: httpx.AsyncClient, fake: FakeGateway
) -> None:
    given_a_delivery(fake)
    await sign_in(browser, "staff@dss.demo.gov")
    inbox = await browser.get("/inbox")
    assert '<th scope="col">Reference number</th>' in inbox.text
    assert "Your reference number" not in inbox.text, "the resident's wording"
    row = inbox.text.split("CT-2026-AAAA-BBBB")[1].split("</tr>")[0]
    assert "Food help (SNAP)" in row, "the form's title, not its slug"
    assert "<td>snap</td>" not in row


async def test_the_auditor_rejects_ticked_fields(
    browser: httpx.AsyncClient, fake: FakeGateway
) -> None:
    await sign_in(browser, "auditor@demo.gov")
    drill = await browser.get("/audit", params={"cluster": "c1"})
    assert 'formaction="/audit/clusters/c1/reject">Reject the ticked fields</button>' in drill.text
    rejected = await browser.post(
        "/audit/clusters/c1/reject",
        data={"csrf_token": csrf_of(drill.text), "field": "snap /dateOfBirth", "label": ""},
    )
    assert rejected.status_code == 303
    assert rejected.headers["location"] == "/audit?cluster=c1#cluster"
    assert fake.decisions[-1] == {
        "kind": "reject", "cluster": "c1", "fields": [{"form": "snap", "pointer": "/dateOfBirth"}]
    }  # fmt: skip
    shown = await browser.get(rejected.headers["location"])
    assert "1 fields taken out of this cluster." in shown.text


async def test_nothing_ticked_is_told_next_to_the_fields(browser: httpx.AsyncClient) -> None:
    await sign_in(browser, "auditor@demo.gov")
    for action, message in (
        ("split", "Select the fields to split off"),
        ("reject", "Select the fields to reject"),
    ):
        empty = await post(browser, "/audit?cluster=c1", {}, f"/audit/clusters/c1/{action}")
        assert empty.status_code == 422
        assert f'<a href="#f-fields">{message}</a>' in empty.text
        fieldset = re.search(r'<fieldset[^>]*id="f-fields"[^>]*>', empty.text)
        assert fieldset, "the summary's link has a target"
        assert 'aria-describedby="f-fields-hint f-fields-error"' in fieldset.group(0)
        error = empty.text.split('id="f-fields-error"')[1].split("</p>")[0]
        assert message in error, "the message next to the checkboxes"
        assert empty.text.index('id="f-fields-error"') < empty.text.index('name="field"')


async def test_catalog_text_is_marked_english_on_spanish_pages(
    browser: httpx.AsyncClient,
) -> None:
    english = await browser.get("/forms/snap")
    main = english.text.split("<main", 1)[1]
    assert 'lang="en"' not in main, "an English page marks nothing"
    await browser.get("/language", params={"to": "es", "next": "/"})
    start = await browser.get("/forms/snap")
    assert '<span lang="en">Job matching</span>' in start.text, "the agreement's purpose"
    assert '<span lang="en">State law 12-3</span>' in start.text, "its legal basis"
    assert '<p class="usa-intro" lang="en">Money for groceries.</p>' in start.text
    assert '<h1><span lang="en">Food help (SNAP)</span></h1>' in start.text
    catalog = await browser.get("/forms")
    assert '<a href="/forms/snap" lang="en">Food help (SNAP)</a>' in catalog.text
    assert '<p lang="en">Money for groceries.</p>' in catalog.text


async def test_a_spanish_catalog_title_is_not_marked_english(
    browser: httpx.AsyncClient, fake: FakeGateway
) -> None:
    original = fake._form
    fake._form = lambda: {  # type: ignore[method-assign]
        **original(),
        "title_es": "Ayuda alimentaria (SNAP)",
        "description_es": "Dinero.",
    }
    await browser.get("/language", params={"to": "es", "next": "/"})
    start = await browser.get("/forms/snap")
    assert "<h1>Ayuda alimentaria (SNAP)</h1>" in start.text
    assert '<p class="usa-intro">Dinero.</p>' in start.text


async def test_the_item_added_or_the_list_is_a_focusable_fragment_target(
    browser: httpx.AsyncClient,
) -> None:
    await sign_in(browser)
    started = await post(browser, "/forms/snap", {"version": "1"}, "/forms/snap/start")
    draft_id = started.headers["location"].split("/")[2]
    second = f"/drafts/{draft_id}/pages/2"
    added = await post(browser, second, {"_action": "add:/household"})
    assert added.headers["location"] == f"{second}#f-household-0"
    page = await browser.get(second)
    assert re.search(r'<fieldset class="usa-fieldset" id="f-household-0" tabindex="-1">', page.text)
    removed = await post(browser, second, {"_action": "remove:/household/0"})
    assert removed.headers["location"] == f"{second}#f-household"
    page = await browser.get(second)
    assert re.search(r'<fieldset [^>]*id="f-household" tabindex="-1"', page.text)


async def test_the_profile_names_each_kept_value_by_its_elements_label(
    browser: httpx.AsyncClient, fake: FakeGateway
) -> None:
    """Not the element's id (``person.fullName``): its label, in the page's language; an
    element the dictionary does not name keeps its id."""
    fake.keep = True
    fake.profile_values = {"person.fullName": "Ana Diaz", "unknown.thing": "x"}
    await sign_in(browser)
    page = await browser.get("/profile")
    assert page.status_code == 200
    keys = re.findall(r'<dt class="usa-summary-list__key">([^<]*)</dt>', page.text)
    assert keys == ["Full name", "unknown.thing"]
    switched = await browser.get("/language", params={"to": "es", "next": "/profile"})
    assert switched.status_code in (302, 303, 307)
    spanish = await browser.get("/profile")
    keys = re.findall(r'<dt class="usa-summary-list__key">([^<]*)</dt>', spanish.text)
    assert keys == ["Nombre completo", "unknown.thing"]
