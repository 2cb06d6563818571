"""The staff inbox and the failed deliveries a page at a time, newest first, with Previous and
Next links (an agency with thousands of deliveries sees its newest ones); text longer than a
field takes shown again with a GOV.UK error and kept, not a bare 400 page; the admin and
webhook forms keep what was typed after a refusal, with the errors on their fields."""

from __future__ import annotations

import re

import httpx

from .fake_gateway import FakeGateway
from .test_pages import browser, csrf_of, fake, post, sign_in

__all__ = ["browser", "fake"]  # the fixtures, shared with test_pages


def given_deliveries(fake: FakeGateway, count: int) -> None:
    for n in range(count):
        fake.delivered(f"s{n:03d}", f"CT-2026-AAAA-{n:04d}")


def references(html: str) -> list[str]:
    return re.findall(r"CT-2026-AAAA-(\d{4})</a>", html)


def link(html: str, rel: str) -> str | None:
    found = re.search(rf'href="([^"]+)" rel="{rel}"', html)
    return found.group(1).replace("&amp;", "&") if found else None


def title(html: str) -> str:
    found = re.search(r"<title>(.*?)</title>", html, re.S)
    assert found
    return found.group(1).strip()


async def test_the_inbox_lists_the_newest_first_a_page_at_a_time(
    browser: httpx.AsyncClient, fake: FakeGateway
) -> None:
    given_deliveries(fake, 120)
    await sign_in(browser, "staff@dss.demo.gov")
    first = await browser.get("/inbox")
    assert first.status_code == 200
    assert references(first.text) == [f"{n:04d}" for n in range(119, 69, -1)]
    assert "Newest first." in first.text
    assert link(first.text, "prev") is None
    nav = re.search(r'<nav class="usa-pagination" aria-label="([^"]+)"', first.text)
    assert nav
    assert nav.group(1) == "Pages of the inbox"
    second_href = link(first.text, "next")
    assert second_href
    assert second_href.startswith("/inbox?cursor=")

    second = await browser.get(second_href)
    assert references(second.text) == [f"{n:04d}" for n in range(69, 19, -1)]
    last_href = link(second.text, "next")
    assert last_href
    last = await browser.get(last_href)
    assert references(last.text) == [f"{n:04d}" for n in range(19, -1, -1)]
    assert link(last.text, "next") is None

    back_href = link(last.text, "prev")
    assert back_href
    back = await browser.get(back_href)
    assert references(back.text) == references(second.text)
    top_href = link(back.text, "prev")
    assert top_href
    top = await browser.get(top_href)
    assert references(top.text) == references(first.text)
    assert link(top.text, "prev") is None

    # The API is asked for one page, newest first; a cursor it refuses is a page not found.
    listed = [q for m, p, q in fake.calls if p == "/api/v1/deliveries" and q.get("agency")]
    assert all(q.get("order") == "newest" and q.get("limit") == "50" for q in listed)
    broken = await browser.get("/inbox", params={"cursor": "edited"})
    assert broken.status_code == 404


async def test_a_hand_made_cursor_of_any_length_is_the_page_not_found(
    browser: httpx.AsyncClient, fake: FakeGateway
) -> None:
    """Over 500 characters too: an HTML page for the browser, never a problem+json."""
    given_deliveries(fake, 3)
    await sign_in(browser, "staff@dss.demo.gov")
    for path, name in (("/inbox", "cursor"), ("/inbox/systems", "dead")):
        for cursor in ("A" * 499, "A" * 501, "A" * 5000):
            page = await browser.get(path, params={name: cursor})
            assert page.status_code == 404, (path, len(cursor), page.text[:200])
            assert page.headers["content-type"].startswith("text/html")


async def test_one_page_has_no_pagination(browser: httpx.AsyncClient, fake: FakeGateway) -> None:
    given_deliveries(fake, 3)
    await sign_in(browser, "staff@dss.demo.gov")
    page = await browser.get("/inbox")
    assert references(page.text) == ["0002", "0001", "0000"]
    assert "usa-pagination" not in page.text


async def test_failed_deliveries_are_paged_too(
    browser: httpx.AsyncClient, fake: FakeGateway
) -> None:
    for n in range(60):
        fake.dead[f"dead-{n:02d}"] = {
            "id": f"dead-{n:02d}", "reference": f"CT-2026-DEAD-{n:04d}", "form": "snap",
            "attempts": 8, "last_error": "HTTP 500", "created_at": "2026-11-25T11:00:00Z",
        }  # fmt: skip
    await sign_in(browser, "staff@dss.demo.gov")
    first = await browser.get("/inbox/systems")
    shown = re.findall(r"CT-2026-DEAD-(\d{4})</th>", first.text)
    assert shown == [f"{n:04d}" for n in range(59, 9, -1)]
    next_href = link(first.text, "next")
    assert next_href
    assert next_href.startswith("/inbox/systems?dead=")
    assert next_href.endswith("#dead-letters")
    assert 'id="dead-letters"' in first.text
    older = await browser.get(next_href)
    assert re.findall(r"CT-2026-DEAD-(\d{4})</th>", older.text) == [
        f"{n:04d}" for n in range(9, -1, -1)
    ]
    assert link(older.text, "prev")


async def test_a_status_message_over_the_limit_is_shown_again_with_an_error(
    browser: httpx.AsyncClient, fake: FakeGateway
) -> None:
    fake.delivered("s1", "CT-2026-AAAA-BBBB")
    await sign_in(browser, "staff@dss.demo.gov")
    page = await browser.get("/inbox/d-s1")
    assert 'maxlength="4000"' in re.search(r"<textarea[^>]*>", page.text).group(0)  # type: ignore[union-attr]
    long = "Please send your lease. " * 180
    refused = await browser.post(
        "/inbox/d-s1/status",
        data={
            "csrf_token": csrf_of(page.text),
            "submission_id": "s1",
            "status": "needs_info",
            "message": long,
        },
    )
    assert refused.status_code == 422
    assert title(refused.text).startswith("Error: ")
    assert '<a href="#f-message">Message must be 4,000 characters or fewer</a>' in refused.text
    assert 'id="f-message-error"' in refused.text
    assert long.strip() in refused.text, "what was typed is kept"
    assert '<option value="needs_info" selected>' in refused.text
    assert not fake.statuses

    # Line breaks count once each, as the browser counts them against maxlength.
    exact = "a\r\n" * 1999 + "aa"
    assert len(exact.replace("\r\n", "\n")) == 4000
    accepted = await post(
        browser,
        "/inbox/d-s1",
        {"submission_id": "s1", "status": "needs_info", "message": exact},
        "/inbox/d-s1/status",
    )
    assert accepted.status_code == 303
    assert fake.statuses[-1]["message"] == exact.replace("\r\n", "\n").strip()


async def test_a_long_endpoint_address_is_kept_with_an_error(
    browser: httpx.AsyncClient, fake: FakeGateway
) -> None:
    await sign_in(browser, "staff@dss.demo.gov")
    too_long = "https://example.org/" + "a" * 2100
    refused = await post(browser, "/inbox/systems", {"url": too_long}, "/inbox/systems/endpoints")
    assert refused.status_code == 422
    assert title(refused.text).startswith("Error: ")
    assert "Receiver address (URL) must be 2,048 characters or fewer" in refused.text
    box = re.search(r'<input[^>]*id="f-url"[^>]*>', refused.text)
    assert box
    assert f'value="{too_long}"' in box.group(0)
    assert 'maxlength="2048"' in box.group(0)
    assert not fake.endpoints

    # A refusal of the address kept it too (the box used to be emptied).
    bad = await post(browser, "/inbox/systems", {"url": "ftp://x"}, "/inbox/systems/endpoints")
    assert bad.status_code == 422
    assert 'value="ftp://x"' in bad.text


async def test_a_long_confirmation_note_or_element_is_kept_with_an_error(
    browser: httpx.AsyncClient, fake: FakeGateway
) -> None:
    await sign_in(browser, "auditor@demo.gov")
    note = "Checked against the forms. " * 80
    refused = await post(
        browser,
        "/audit?cluster=c1",
        {"element": "person.birthDate", "note": note},
        "/audit/clusters/c1/confirm",
    )
    assert refused.status_code == 422
    assert '<a href="#f-note">Note must be 2,000 characters or fewer</a>' in refused.text
    assert note.strip() in refused.text
    assert 'maxlength="2000"' in refused.text
    assert not fake.decisions

    element = "person." + "x" * 120
    refused = await post(
        browser, "/audit?cluster=c1", {"element": element}, "/audit/clusters/c1/confirm"
    )
    assert refused.status_code == 422
    assert "Data element must be 100 characters or fewer" in refused.text
    assert f'value="{element}"' in refused.text

    label = "L" * 250
    refused = await post(
        browser,
        "/audit?cluster=c1",
        {"field": "snap /dateOfBirth", "label": label},
        "/audit/clusters/c1/split",
    )
    assert refused.status_code == 422
    assert '<a href="#f-label">' in refused.text
    assert f'value="{label}"' in refused.text


async def test_anything_else_that_fails_validation_is_a_400_not_page_not_found(
    browser: httpx.AsyncClient,
) -> None:
    response = await browser.get("/audit", params={"cluster": "c" * 300})
    assert response.status_code == 400
    assert "Page not found" not in response.text
    assert "There is a problem with what was sent" in response.text


async def test_a_refused_new_form_keeps_every_answer_with_the_error_on_its_field(
    browser: httpx.AsyncClient, fake: FakeGateway
) -> None:
    await sign_in(browser, "admin@demo.gov")
    typed = {
        "slug": "va-21-0966",
        "agency": "DOL",
        "title": "Intent to file",
        "description": "A & b",
        "minutes": "ten",
        "yearly_volume": "5",
    }
    refused = await post(browser, "/admin", typed, "/admin/forms")
    assert refused.status_code == 422
    assert title(refused.text).startswith("Error: ")
    assert '<a href="#f-minutes">Enter a whole number</a>' in refused.text
    minutes = re.search(r'<input[^>]*id="f-minutes"[^>]*>', refused.text)
    assert minutes
    assert 'value="ten"' in minutes.group(0)
    assert 'aria-invalid="true"' in minutes.group(0)
    assert 'id="f-minutes-error"' in refused.text
    for name in ("slug", "title", "yearly_volume"):
        assert f'name="{name}" type="text" value="{typed[name]}"' in refused.text, name
    assert 'value="A &amp; b"' in refused.text
    agency = refused.text.split('id="f-agency"')[1].split("</select>")[0]
    assert '<option value="DOL" selected>' in agency
    # The other forms on the page are left empty.
    assert re.search(r'<input[^>]*id="f-code"[^>]*value=""', refused.text)

    long = await post(
        browser, "/admin", {**typed, "minutes": "10", "title": "T" * 301}, "/admin/forms"
    )
    assert long.status_code == 422
    assert '<a href="#f-title">Title must be 300 characters or fewer</a>' in long.text


async def test_a_refused_agreement_keeps_what_was_typed(
    browser: httpx.AsyncClient, fake: FakeGateway
) -> None:
    await sign_in(browser, "admin@demo.gov")
    refused = await post(
        browser,
        "/admin",
        {"agency": "DOL", "form": "snap", "fields": "/fullName\n/ssn", "purpose": "P" * 2001,
         "legal_basis": "Statute 1"},
        "/admin/agreements",
    )  # fmt: skip
    assert refused.status_code == 422
    assert '<a href="#f-purpose">Purpose must be 2,000 characters or fewer</a>' in refused.text
    assert "/fullName\n/ssn</textarea>" in refused.text
    assert 'value="Statute 1"' in refused.text
    chosen = refused.text.split('id="f-agreement-agency"')[1].split("</select>")[0]
    assert '<option value="DOL" selected>' in chosen
    # The new form's agency select is not the agreement's.
    assert " selected" not in refused.text.split('id="f-agency"')[1].split("</select>")[0]
    assert not fake.added_agreements
