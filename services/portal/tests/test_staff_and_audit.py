"""Staff and auditor pages after a refused post (what was typed is kept, the error sits next to
what it is about), the auditor's reject, the staff inbox's wording, catalog text marked
English on Spanish pages, and focus after adding or removing a list item."""

from __future__ import annotations

import re
from html import unescape
from typing import Any

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


async def test_nothing_ticked_is_told_next_to_the_fields(
    browser: httpx.AsyncClient, fake: FakeGateway
) -> None:
    await sign_in(browser, "auditor@demo.gov")
    confirm_ticked = {"element": "person.birthDate", "scope": "ticked"}
    for action, data, message in (
        ("split", {}, "Select the fields to split off"),
        ("reject", {}, "Select the fields to reject"),
        ("confirm", confirm_ticked, "Select the fields to confirm"),
    ):
        empty = await post(browser, "/audit?cluster=c1", data, f"/audit/clusters/c1/{action}")
        assert empty.status_code == 422
        assert f'<a href="#f-fields">{message}</a>' in empty.text
        fieldset = re.search(r'<fieldset[^>]*id="f-fields"[^>]*>', empty.text)
        assert fieldset, "the summary's link has a target"
        assert 'aria-describedby="f-fields-hint f-fields-error"' in fieldset.group(0)
        error = empty.text.split('id="f-fields-error"')[1].split("</p>")[0]
        assert message in error, "the message next to the checkboxes"
        assert empty.text.index('id="f-fields-error"') < empty.text.index('name="field"')
    assert 'value="person.birthDate"' in empty.text, "the element typed is kept"
    assert not fake.decisions


def cells(html: str, pointer: str) -> list[str]:
    """The text of each cell of the cluster table's row of ``pointer``."""
    table = html.split('id="f-fields"')[1].split("</table>")[0]
    row = next(r for r in table.split("<tr>") if f"<code>{pointer}</code>" in r)
    return [unescape(re.sub(r"<[^>]+>", "", c)).strip() for c in re.split(r"</t[dh]>", row)][:-1]


async def test_the_cluster_says_whose_each_field_is_and_what_confirming_it_maps(
    browser: httpx.AsyncClient,
) -> None:
    """A "Whose answer" column (the filer's own read "The person applying"), and whether
    "Confirm the cluster" maps the field, which the registry does for the filer's own only."""
    await sign_in(browser, "auditor@demo.gov")
    drill = await browser.get("/audit", params={"cluster": "e-address.street"})
    head = drill.text.split('id="f-fields"')[1].split("</thead>")[0]
    assert '<th scope="col">Whose answer</th>' in head
    assert '<th scope="col">Mapped by &#34;Confirm the cluster&#34;</th>' in head
    assert cells(drill.text, "/address/street")[-2:] == ["The person applying", "Yes"]
    assert cells(drill.text, "/applicant/address/street")[-2:] == ["The person applying", "Yes"]
    assert cells(drill.text, "/veteranAddress/street")[-2:] == ["The veteran", "No"]
    assert cells(drill.text, "/spouse/address/street")[-2:] == ["Spouse", "No"]
    assert cells(drill.text, "/educationProgram/address/street")[-2:] == [
        "education program", "No",
    ], "a reading the portal has no words for is shown as the registry gives it"  # fmt: skip
    assert "<strong>The person applying</strong>" in drill.text
    hint = unescape(drill.text.split('id="f-element-hint">')[1].split("</div>")[0])
    assert "maps only the fields that are the resident's own" in hint
    confirm_buttons = re.findall(
        r"<button[^>]*formaction=\"[^\"]*/confirm\"[^>]*>[^<]*", drill.text
    )
    assert len(confirm_buttons) == 2
    whole, ticked = confirm_buttons
    assert whole.endswith(">Confirm the cluster")
    assert 'name="scope"' not in whole
    assert 'name="scope" value="ticked"' in ticked
    assert ticked.endswith(">Confirm the ticked fields")
    assert 'aria-describedby="f-element-hint"' in whole
    assert drill.text.count('<form method="post" action="/audit/clusters/') == 1, (
        "one form: the ticked fields are posted by every button"
    )
    default = re.search(
        r'<form method="post" action="/audit/clusters/[^>]*>\s*<input[^>]*>\s*(<button[^>]*>)',
        drill.text,
    )
    assert default, "the form's first button"
    assert "disabled" in default.group(1), "Enter in a box submits nothing"


async def test_confirming_the_cluster_lists_the_fields_it_left_out(
    browser: httpx.AsyncClient, fake: FakeGateway
) -> None:
    await sign_in(browser, "auditor@demo.gov")
    confirmed = await post(
        browser,
        "/audit?cluster=e-address.street",
        {"element": "address.street", "field": "snap /spouse/address/street"},
        "/audit/clusters/e-address.street/confirm",
    )
    assert confirmed.status_code == 200, "the answer is the page: the list is too long to carry"
    assert fake.decisions[-1] == {
        "kind": "confirm", "cluster": "e-address.street", "element": "address.street",
        "note": None,
    }, "no fields named: a tick does not narrow the whole-cluster confirmation"  # fmt: skip
    alert = confirmed.text.split('usa-alert--success" role="status">')[1].split("</div>")[0]
    assert "Confirmed as address.street. Mapped 2 fields; left out 3." in alert
    listed = confirmed.text.split("data-left-out>")[1].split("</table>")[0]
    assert "<caption>Fields the confirmation left out</caption>" in listed
    rows = [
        [unescape(re.sub(r"<[^>]+>", "", c)).strip() for c in re.split(r"</t[dh]>", r)][:-1]
        for r in listed.split("<tbody>")[1].split("<tr>")[1:]
    ]
    assert [r[:3] for r in rows] == [
        ["vba-22-1990", "/veteranAddress/street", "The veteran"],
        ["vba-22-1990", "/educationProgram/address/street", "education program"],
        ["snap", "/spouse/address/street", "Spouse"],
    ]
    assert rows[2][3] == (
        "whose: spouse, not the filer's own: prefill would fill it with the resident's own"
        " address.street. Name the field to map it anyway."
    ), "the registry's reason"
    assert 'lang="en"' not in listed, "an English page marks nothing"
    intro = unescape(confirmed.text.split('<h3 id="left-out">Fields left out</h3>')[1])
    assert 'tick it in the table below and choose "Confirm the ticked fields"' in intro
    assert confirmed.text.index("data-left-out") < confirmed.text.index('name="field"')
    assert cells(confirmed.text, "/spouse/address/street")[-2:] == ["Spouse", "No"]


async def test_confirming_the_ticked_fields_names_them(
    browser: httpx.AsyncClient, fake: FakeGateway
) -> None:
    """The auditor's decision: exactly the ticked fields, whoever they are about (the veteran's
    address on 22-1990, filed by the veteran)."""
    await sign_in(browser, "auditor@demo.gov")
    drill = await browser.get("/audit", params={"cluster": "e-address.street"})
    confirmed = await browser.post(
        "/audit/clusters/e-address.street/confirm",
        data={
            "csrf_token": csrf_of(drill.text),
            "field": ["vba-22-1990 /veteranAddress/street", "snap /address/street"],
            "element": "address.street",
            "note": "22-1990 is filed by the veteran",
            "scope": "ticked",
        },
    )
    assert confirmed.status_code == 303
    assert confirmed.headers["location"] == "/audit?cluster=e-address.street#cluster"
    assert fake.decisions[-1] == {
        "kind": "confirm", "cluster": "e-address.street", "element": "address.street",
        "note": "22-1990 is filed by the veteran",
        "fields": [{"form": "vba-22-1990", "pointer": "/veteranAddress/street"},
                   {"form": "snap", "pointer": "/address/street"}],
    }  # fmt: skip
    shown = await browser.get(confirmed.headers["location"])
    assert "Confirmed as address.street. Mapped 2 fields; left out 0." in shown.text
    assert "data-left-out" not in shown.text


async def test_a_confirmation_goes_on_in_the_elements_cluster(
    browser: httpx.AsyncClient, fake: FakeGateway
) -> None:
    """Mapped fields join ``e-<element>`` (docs/redundancy-audit.md): the page goes there, as
    the old id names no cluster any more."""
    third = fake.clusters[2]
    third["fields"].insert(
        0, {**third["fields"][0], "pointer": "/address/street3", "whose": "filer"}
    )
    # What the report shows once the filer's third line is mapped (the others found with it).
    fake.clusters.append({**third, "id": "e-address.street3", "element": "address.street3"})
    await sign_in(browser, "auditor@demo.gov")
    drill = await browser.get("/audit", params={"cluster": "c-address.street3"})
    confirmed = await browser.post(
        "/audit/clusters/c-address.street3/confirm",
        data={"csrf_token": csrf_of(drill.text), "element": "address.street3"},
    )
    assert confirmed.status_code == 200
    assert 'action="/audit/clusters/e-address.street3/split"' in confirmed.text
    assert "Mapped 1 fields; left out 2." in confirmed.text


async def test_the_left_out_fields_are_listed_even_when_the_report_lost_the_cluster(
    browser: httpx.AsyncClient, fake: FakeGateway
) -> None:
    answer = fake._confirm

    def confirm_then_rerun(cluster_id: str, body: dict[str, Any]) -> httpx.Response:
        response = answer(cluster_id, body)
        fake.clusters = [c for c in fake.clusters if c["id"] != cluster_id]
        return response

    fake._confirm = confirm_then_rerun  # type: ignore[method-assign]
    await sign_in(browser, "auditor@demo.gov")
    confirmed = await post(
        browser,
        "/audit?cluster=e-address.street",
        {"element": "address.street"},
        "/audit/clusters/e-address.street/confirm",
    )
    assert confirmed.status_code == 200
    assert '<h2 id="left-out">Fields left out</h2>' in confirmed.text
    assert confirmed.text.count("<code>/spouse/address/street</code>") == 1
    assert 'name="field"' not in confirmed.text


async def test_a_cluster_of_nobodys_own_fields_is_refused_next_to_the_fields(
    browser: httpx.AsyncClient, fake: FakeGateway
) -> None:
    """The registry's 422 (none of the fields is the filer's own) is about the fields, not the
    element: it is told at the checkboxes, in the portal's words, what was typed kept."""
    await sign_in(browser, "auditor@demo.gov")
    refused = await post(
        browser,
        "/audit?cluster=c-address.street3",
        {"element": "address.street3", "note": "third lines",
         "field": "vba-22-1990 /guardian/address/street3"},
        "/audit/clusters/c-address.street3/confirm",
    )  # fmt: skip
    assert refused.status_code == 422
    message = (
        "Nothing was confirmed: none of the cluster's 2 fields is the resident's own answer."
        ' Tick the fields to map and choose "Confirm the ticked fields".'
    )
    summary = unescape(refused.text.split('class="usa-error-summary__list">')[1].split("</ul>")[0])
    assert f'<a href="#f-fields">{message}</a>' in summary
    error = unescape(refused.text.split('id="f-fields-error"')[1].split("</p>")[0])
    assert message in error
    assert 'id="f-element-error"' not in refused.text
    assert 'value="address.street3"' in refused.text
    assert "third lines" in refused.text
    assert re.search(r'value="vba-22-1990 /guardian/address/street3" checked>', refused.text)
    assert not fake.decisions


async def test_a_ticked_field_the_registry_refuses_is_told_next_to_the_fields(
    browser: httpx.AsyncClient, fake: FakeGateway
) -> None:
    await sign_in(browser, "auditor@demo.gov")
    refused = await post(
        browser,
        "/audit?cluster=c1",
        {"element": "person.birthDate", "field": "wic /dateOfBirth", "scope": "ticked"},
        "/audit/clusters/c1/confirm",
    )
    assert refused.status_code == 422
    assert '<a href="#f-fields">Some fields are not in this cluster.</a>' in refused.text
    assert 'id="f-element-error"' not in refused.text
    assert not fake.decisions


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


async def test_a_cluster_the_audit_no_longer_lists_is_said_to_be_gone(
    browser: httpx.AsyncClient, fake: FakeGateway
) -> None:
    """A link to a cluster from before (a bookmark, a colleague's message) whose fields have
    since been confirmed, split off or rejected: the page says the audit no longer lists
    it, where the cluster would have been (``#cluster``), above the overview."""
    await sign_in(browser, "auditor@demo.gov")
    gone = await browser.get("/audit", params={"cluster": "c-no-longer-there"})
    assert gone.status_code == 200
    notice = '<div class="usa-alert usa-alert--info" id="cluster" data-cluster-gone>'
    assert notice in gone.text, "the notice, where #cluster lands"
    assert "The audit no longer lists this group of fields." in gone.text
    first = fake.clusters[0]["id"]
    assert gone.text.index(notice) < gone.text.index(f'href="/audit?cluster={first}#cluster"')
    listed = await browser.get("/audit", params={"cluster": first})
    assert "data-cluster-gone" not in listed.text
    assert "data-cluster-gone" not in (await browser.get("/audit")).text
