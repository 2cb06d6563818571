"""Findings of the acceptance review on the resident, staff and audit pages: an acknowledged
delivery in words, dates in Eastern Time, "1 delivery", every form in the audit's burden
table, a refused search shown as a search error, and the sign-up confirmation."""

from __future__ import annotations

import re

import httpx

from tellonce_portal.i18n import Translator

from .fake_gateway import PASSWORD, FakeGateway
from .test_pages import browser, csrf_of, fake, post, sign_in

__all__ = ["browser", "fake"]  # the fixtures, shared with test_pages

LATE_EVENING = "2026-11-27T04:15:00Z"
"""26 November 2026 at 11:15 p.m. Eastern Time (EST, UTC-5): the 27th in UTC."""


def given_a_late_acked_application(fake: FakeGateway) -> None:
    fake.submissions["s1"] = {
        "id": "s1", "reference": "CT-2026-LATE-0001", "form": "snap", "version": 1,
        "submitted_at": LATE_EVENING, "status": "delivered", "owner": "r1",
        "deliveries": [{"agency": "DSS", "fields": ["*"], "status": "acked"}],
        "timeline": [], "answers": {"fullName": "Ana Diaz"},
    }  # fmt: skip
    fake.delivery_status["d-s1"] = "acked"


def test_an_acknowledged_delivery_has_words_in_both_languages() -> None:
    assert Translator("en").status("acked") == "Delivered and confirmed by the agency"
    assert Translator("es").status("acked") == "Entregada y confirmada por la agencia"


def test_dates_of_timestamps_are_eastern_dates() -> None:
    en, es = Translator("en"), Translator("es")
    assert en.date(LATE_EVENING) == "26 November 2026"
    assert es.date(LATE_EVENING) == "26 de noviembre de 2026"
    assert en.date("2026-07-01T03:30:00+00:00") == "30 June 2026", "EDT, UTC-4"
    assert en.date("2026-11-27T04:15:00") == "26 November 2026", "no offset: read as UTC"
    assert en.date("2026-11-27") == "27 November 2026", "a bare date is that date"
    assert en.date("2026-11-27T05:00:00Z") == "27 November 2026"


async def test_the_resident_sees_the_eastern_date_and_the_ack_in_words(
    browser: httpx.AsyncClient, fake: FakeGateway
) -> None:
    given_a_late_acked_application(fake)
    await sign_in(browser)
    listing = (await browser.get("/applications")).text
    assert "26 November 2026" in listing
    assert "27 November 2026" not in listing
    page = (await browser.get("/applications/s1")).text
    assert "Department of Social Services: Delivered and confirmed by the agency" in page
    assert "acked" not in page
    assert "26 November 2026" in page
    assert "27 November 2026" not in page
    await browser.get("/language", params={"to": "es"})
    spanish = (await browser.get("/applications/s1")).text
    assert "Entregada y confirmada por la agencia" in spanish
    assert "26 de noviembre de 2026" in (await browser.get("/applications")).text


async def test_the_staff_inbox_shows_the_eastern_date_and_the_ack_in_words(
    browser: httpx.AsyncClient, fake: FakeGateway
) -> None:
    given_a_late_acked_application(fake)
    await sign_in(browser, "staff@dss.demo.gov")
    inbox = (await browser.get("/inbox")).text
    row = inbox.split("CT-2026-LATE-0001")[1].split("</tr>")[0]
    assert "26 November 2026" in row
    assert "Delivered and confirmed by the agency" in row
    assert "acked" not in row


async def test_one_replayed_delivery_is_singular_in_both_languages(
    browser: httpx.AsyncClient, fake: FakeGateway
) -> None:
    fake.dead["d9"] = {"id": "d9", "reference": "CT-2026-DEAD-0009", "agency": "DSS",
                       "form": "snap", "status": "dead", "attempts": 8}  # fmt: skip
    await sign_in(browser, "staff@dss.demo.gov")
    await post(browser, "/inbox/systems", {"delivery": "d9"}, "/inbox/systems/replay")
    assert "1 delivery queued again." in (await browser.get("/inbox/systems")).text
    fake.dead["d8"] = {"id": "d8", "reference": "CT-2026-DEAD-0008", "agency": "DSS",
                       "form": "snap", "status": "dead", "attempts": 8}  # fmt: skip
    await browser.get("/language", params={"to": "es"})
    await post(browser, "/inbox/systems", {"delivery": "d8"}, "/inbox/systems/replay")
    assert "1 entrega en cola de nuevo." in (await browser.get("/inbox/systems")).text
    assert Translator("en")("replayed", n=2) == "2 deliveries queued again."


async def test_the_audit_burden_table_lists_every_form(
    browser: httpx.AsyncClient, fake: FakeGateway
) -> None:
    fake.burden_forms = [
        {"form": f"form-{i:02d}", "agency": "DSS", "title": f"Form number {i:02d}",
         "minutes": 10, "yearly_volume": 100, "burden_hours": 1000.0 - i,
         "prefill_hours_saved": 1.0}
        for i in range(45)
    ]  # fmt: skip
    await sign_in(browser, "auditor@demo.gov")
    page = (await browser.get("/audit")).text
    shown = re.findall(r"Form number (\d\d)", page)
    assert len(shown) == 45
    assert "Form number 44" in page


async def test_a_search_the_api_refuses_shows_the_search_box_with_an_error(
    browser: httpx.AsyncClient,
) -> None:
    page = await browser.get("/forms?q=%00")
    assert page.status_code == 422
    assert "Sorry, there is a problem with the service" not in page.text
    assert "Try again later" not in page.text
    assert 'href="#q"' in page.text, "the error summary links to the search box"
    assert "Check your search: it has a character that cannot be searched for" in page.text
    assert 'class="usa-input usa-input--error" id="q" name="q"' in page.text
    await browser.get("/language", params={"to": "es"})
    spanish = await browser.get("/forms?q=%01")
    assert spanish.status_code == 422
    assert "Revise su búsqueda" in spanish.text


async def test_sign_up_confirms_the_account_was_created(browser: httpx.AsyncClient) -> None:
    done = await post(
        browser,
        "/sign-up",
        {"full_name": "Ana", "email": "ana@example.org", "password": PASSWORD},
    )
    assert done.headers["location"] == "/forms"
    landed = (await browser.get("/forms")).text
    assert 'class="usa-alert usa-alert--success"' in landed
    assert "Your account has been created and you are signed in." in landed
    again = (await browser.get("/forms")).text
    assert "Your account has been created" not in again, "shown once"


async def test_sign_up_confirms_in_spanish(browser: httpx.AsyncClient) -> None:
    await browser.get("/language", params={"to": "es"})
    html = (await browser.get("/sign-up")).text
    await browser.post(
        "/sign-up",
        data={
            "full_name": "Ana",
            "email": "ana@example.org",
            "password": PASSWORD,
            "csrf_token": csrf_of(html),
        },
    )
    assert "Se creó su cuenta y ya inició sesión." in (await browser.get("/forms")).text
