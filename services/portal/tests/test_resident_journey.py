"""The resident's journey around filling a form: the choice to keep answers offered on check
your answers, a start page that says when nothing can be filled in or a draft is waiting, a
sign-in that ran out mid-page, telling saved drafts apart, and what the confirmation and the
application page say about each agency (in the state's time)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tellonce_portal.api import DeliverySummary, Submission, TimelineEntry
from tellonce_portal.i18n import Translator
from tellonce_portal.web.applications import agency_statuses, local_datetime

from .fake_gateway import FakeGateway, portal_browser
from .test_pages import csrf_of, post, sign_in

YOU = {"/fullName": "Ana Diaz", "/ssn": "123456789"}
HOUSEHOLD = {"/household/0/name": "Ana Diaz"}


@pytest.fixture
def fake() -> FakeGateway:
    return FakeGateway()


@pytest.fixture
async def browser(fake: FakeGateway) -> AsyncIterator[httpx.AsyncClient]:
    async with portal_browser(fake.transport()) as client:
        yield client


async def start(browser: httpx.AsyncClient, prefill: bool = False) -> str:
    data = {"version": "1", **({"prefill": "yes"} if prefill else {})}
    started = await post(browser, "/forms/snap", data, "/forms/snap/start")
    assert started.status_code == 303, started.text[:300]
    return started.headers["location"].split("/")[2]


async def to_check(browser: httpx.AsyncClient) -> str:
    """A new draft answered to check your answers; its id."""
    draft_id = await start(browser)
    first = await post(browser, f"/drafts/{draft_id}/pages/1", YOU)
    assert first.headers["location"] == f"/drafts/{draft_id}/pages/2"
    await post(browser, f"/drafts/{draft_id}/pages/2", {"_action": "add:/household"})
    last = await post(browser, f"/drafts/{draft_id}/pages/2", HOUSEHOLD)
    assert last.headers["location"] == f"/drafts/{draft_id}/check"
    return draft_id


def form_fields(page: str, action: str) -> dict[str, str]:
    """The hidden inputs of the form posting to ``action``."""
    form = page.split(f'action="{action}"', 1)[1].split("</form>", 1)[0]
    return dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form))


def calls(fake: FakeGateway, method: str, path: str) -> list[int]:
    """Positions of the gateway calls ``method path`` in the order they were made."""
    return [i for i, (m, p, _) in enumerate(fake.calls) if (m, p) == (method, path)]


# -- 1. keeping answers, offered in the journey ------------------------------------------------


async def test_check_your_answers_offers_to_keep_answers_unticked_when_not_kept(
    browser: httpx.AsyncClient, fake: FakeGateway
) -> None:
    fake.keep = False
    await sign_in(browser)
    draft_id = await to_check(browser)
    check = await browser.get(f"/drafts/{draft_id}/check")
    box = re.search(r'<input[^>]*id="keep"[^>]*>', check.text)
    assert box, "the choice is on check your answers"
    assert 'name="keep" value="yes"' in box.group(0)
    assert "checked" not in box.group(0), "keeping is opt-in: the box starts unticked"
    assert 'aria-describedby="keep-hint"' in box.group(0)
    assert "Save my answers to fill in other forms for me" in check.text
    assert "You can see, change or remove them in your profile" in check.text
    # The choice sits in the form of "Accept and send", before its button.
    form = check.text.split(f'action="/drafts/{draft_id}/submit"', 1)[1].split("</form>")[0]
    assert form.index('id="keep"') < form.index("Accept and send")


async def test_ticking_the_box_turns_keeping_on_before_the_answers_are_sent(
    browser: httpx.AsyncClient, fake: FakeGateway
) -> None:
    fake.keep = False
    await sign_in(browser)
    draft_id = await to_check(browser)
    check = await browser.get(f"/drafts/{draft_id}/check")
    data = {**form_fields(check.text, f"/drafts/{draft_id}/submit"), "keep": "yes"}
    sent = await browser.post(f"/drafts/{draft_id}/submit", data=data)
    assert sent.status_code == 303
    assert sent.headers["location"].endswith("/confirmation")
    assert fake.keep is True
    consent = calls(fake, "PUT", "/api/v1/profile/consent")
    submitted = calls(fake, "POST", "/api/v1/submissions")
    assert consent
    assert submitted
    assert consent[0] < submitted[0], "consent first, so this submission's answers are kept"


async def test_a_refused_send_turns_keeping_off_again_and_keeps_the_box_ticked(
    browser: httpx.AsyncClient, fake: FakeGateway
) -> None:
    """The box says "save my answers" of this form as it is sent: when the send is refused
    (here, a form with nothing answered), nothing was sent, so keeping goes back off; the
    check page shows the box still ticked for the next try, which turns it on again."""
    fake.keep = False
    await sign_in(browser)
    started = await post(browser, "/forms/snap", {"version": "1"}, "/forms/snap/start")
    draft_id = started.headers["location"].split("/")[2]
    check = await browser.get(f"/drafts/{draft_id}/check")
    data = {**form_fields(check.text, f"/drafts/{draft_id}/submit"), "keep": "yes"}
    refused = await browser.post(f"/drafts/{draft_id}/submit", data=data)
    assert refused.status_code == 422
    assert fake.keep is False, "nothing was sent: keeping is off again"
    consent = calls(fake, "PUT", "/api/v1/profile/consent")
    submitted = calls(fake, "POST", "/api/v1/submissions")
    assert len(consent) == 2
    assert consent[0] < submitted[0] < consent[1], "on, send, off"
    box = re.search(r'<input[^>]*id="keep"[^>]*>', refused.text)
    assert box
    assert "checked" in box.group(0), "the resident's choice is still shown"


async def test_a_refused_send_leaves_keeping_on_when_it_was_on_before(
    browser: httpx.AsyncClient, fake: FakeGateway
) -> None:
    """A check page read while keeping was off offers the box; if keeping was turned on
    since (the profile page, another tab's send), a refused send with the box ticked must
    not turn it off: withdrawing consent erases every kept value (review finding)."""
    fake.keep = False
    await sign_in(browser)
    started = await post(browser, "/forms/snap", {"version": "1"}, "/forms/snap/start")
    draft_id = started.headers["location"].split("/")[2]
    check = await browser.get(f"/drafts/{draft_id}/check")
    assert 'id="keep"' in check.text, "offered: keeping was off"
    fake.keep = True  # turned on elsewhere since, with a value kept
    fake.profile_values["person.fullName"] = "Ana Diaz"
    data = {**form_fields(check.text, f"/drafts/{draft_id}/submit"), "keep": "yes"}
    refused = await browser.post(f"/drafts/{draft_id}/submit", data=data)
    assert refused.status_code == 422
    assert fake.keep is True, "keeping was on before this send: it stays on"
    assert fake.profile_values == {"person.fullName": "Ana Diaz"}, "nothing kept is erased"


async def test_a_send_still_in_flight_does_not_turn_keeping_off(
    browser: httpx.AsyncClient, fake: FakeGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 409 (the same key still in flight: a double click) is not a refusal: that send may
    still be kept, so keeping must stay on (review finding: turning it off erased the values
    of the send in flight)."""
    fake.keep = False
    await sign_in(browser)
    draft_id = await to_check(browser)
    check = await browser.get(f"/drafts/{draft_id}/check")

    def in_flight(*args: object) -> httpx.Response:
        return httpx.Response(409, json={"status": 409, "detail": "in flight"})

    async def no_wait(seconds: float) -> None:
        return None

    monkeypatch.setattr(fake, "_submit", in_flight)
    monkeypatch.setattr("tellonce_portal.web.fill.asyncio.sleep", no_wait)
    data = {**form_fields(check.text, f"/drafts/{draft_id}/submit"), "keep": "yes"}
    answered = await browser.post(f"/drafts/{draft_id}/submit", data=data)
    assert answered.status_code == 422
    assert fake.keep is True, "the send in flight may be kept: keeping stays on"
    assert len(calls(fake, "PUT", "/api/v1/profile/consent")) == 1


async def test_leaving_the_box_unticked_keeps_nothing(
    browser: httpx.AsyncClient, fake: FakeGateway
) -> None:
    fake.keep = False
    await sign_in(browser)
    draft_id = await to_check(browser)
    check = await browser.get(f"/drafts/{draft_id}/check")
    sent = await browser.post(
        f"/drafts/{draft_id}/submit", data=form_fields(check.text, f"/drafts/{draft_id}/submit")
    )
    assert sent.status_code == 303
    assert fake.keep is False
    assert not calls(fake, "PUT", "/api/v1/profile/consent")


async def test_no_keep_choice_when_answers_are_already_kept(
    browser: httpx.AsyncClient, fake: FakeGateway
) -> None:
    fake.keep = True
    await sign_in(browser)
    draft_id = await to_check(browser)
    check = await browser.get(f"/drafts/{draft_id}/check")
    assert check.status_code == 200
    assert 'id="keep"' not in check.text
    assert "Save my answers" not in check.text


async def test_the_keep_choice_in_spanish(browser: httpx.AsyncClient, fake: FakeGateway) -> None:
    fake.keep = False
    await sign_in(browser)
    draft_id = await to_check(browser)
    await browser.get("/language", params={"to": "es"})
    check = await browser.get(f"/drafts/{draft_id}/check")
    assert "Guardar mis respuestas para llenar otros formularios por mí" in check.text
    assert "Puede verlas, cambiarlas o eliminarlas en su perfil" in check.text


async def test_the_start_page_says_nothing_can_be_filled_in_when_keeping_is_off(
    browser: httpx.AsyncClient, fake: FakeGateway
) -> None:
    fake.keep = False
    fake.profile_values.clear()
    del fake.users["resident@demo.gov"]["full_name"]  # nor anything the account knows
    await sign_in(browser)
    page = await browser.get("/forms/snap")
    assert 'name="prefill"' not in page.text, "no box that would do nothing"
    assert "Nothing can be filled in for you: keeping your answers is turned off" in page.text
    assert 'tick "Save my answers" before you send this' in page.text.replace("&#34;", '"')
    assert 'href="/profile"' in page.text.split("data-prefill-none", 1)[1]
    assert "Start now" in page.text
    await browser.get("/language", params={"to": "es"})
    spanish = await browser.get("/forms/snap")
    assert "guardar sus respuestas está desactivado" in spanish.text


async def test_the_start_page_says_when_keeping_is_on_but_nothing_is_kept_yet(
    browser: httpx.AsyncClient, fake: FakeGateway
) -> None:
    fake.keep = True
    fake.profile_values.clear()
    del fake.users["resident@demo.gov"]["full_name"]  # nor anything the account knows
    await sign_in(browser)
    page = await browser.get("/forms/snap")
    assert 'name="prefill"' not in page.text
    assert "Nothing can be filled in for you yet: no answers are kept." in page.text


async def test_the_start_page_offers_prefill_when_answers_are_kept(
    browser: httpx.AsyncClient, fake: FakeGateway
) -> None:
    fake.keep = True
    await sign_in(browser)
    page = await browser.get("/forms/snap")
    box = re.search(r'<input[^>]*id="prefill"[^>]*>', page.text)
    assert box
    assert "checked" in box.group(0)
    assert "data-prefill-none" not in page.text
    draft_id = await start(browser, prefill=True)
    assert fake.drafts[draft_id]["answers"] == {"fullName": "Ana Diaz"}


async def test_the_start_page_without_signing_in_asks_nothing_of_the_profile(
    browser: httpx.AsyncClient, fake: FakeGateway
) -> None:
    page = await browser.get("/forms/snap")
    assert page.status_code == 200
    assert 'name="prefill"' not in page.text
    assert not calls(fake, "GET", "/api/v1/profile")
    assert 'href="/sign-in?next=/forms/snap"' in page.text


# -- 5. a sign-in that runs out mid-page -------------------------------------------------------


def run_out(fake: FakeGateway) -> None:
    """The access token is due for refresh on the next request, and identity refuses the
    refresh (a revoked or expired refresh token)."""
    fake.revoked_families.update(entry["family"] for entry in fake.refresh_tokens.values())


async def short_lived_sign_in(browser: httpx.AsyncClient, fake: FakeGateway) -> None:
    fake.users["resident@demo.gov"]["expires_in"] = 1  # refreshed on every request
    await sign_in(browser)


async def test_a_post_lost_to_a_run_out_sign_in_comes_back_to_its_page(
    browser: httpx.AsyncClient, fake: FakeGateway
) -> None:
    await short_lived_sign_in(browser, fake)
    draft_id = await start(browser)
    page_url = f"/drafts/{draft_id}/pages/1?return=check"
    page = await browser.get(page_url)
    run_out(fake)
    lost = await browser.post(
        f"/drafts/{draft_id}/pages/1",
        data={**YOU, "csrf_token": csrf_of(page.text)},
        headers={"referer": f"http://portal.test{page_url}"},
    )
    assert lost.status_code == 303
    location = lost.headers["location"]
    assert location.startswith("/sign-in?next=")
    assert parse_qs(urlsplit(location).query)["next"] == [page_url], "query kept, encoded"
    assert "%3Freturn%3Dcheck" in location
    sign_in_page = await browser.get(location)
    assert "You were signed out, so your answers on that page were not saved." in sign_in_page.text
    assert f'name="next" value="{page_url}"' in sign_in_page.text
    # Signing in again goes back to that page (its answers as last saved: none).
    signed_in = await post(
        browser,
        location,
        {"email": "resident@demo.gov", "password": "correct horse battery staple",
         "next": page_url},
        "/sign-in",
    )  # fmt: skip
    assert signed_in.headers["location"] == page_url
    assert fake.drafts[draft_id]["answers"] == {}, "nothing posted was stashed"


async def test_a_post_without_referer_comes_back_to_its_own_page_or_the_nearest(
    browser: httpx.AsyncClient, fake: FakeGateway
) -> None:
    await short_lived_sign_in(browser, fake)
    draft_id = await start(browser)
    page = await browser.get(f"/drafts/{draft_id}/pages/2")
    token = csrf_of(page.text)
    run_out(fake)
    lost = await browser.post(f"/drafts/{draft_id}/pages/2", data={"csrf_token": token})
    assert lost.headers["location"] == f"/sign-in?next=/drafts/{draft_id}/pages/2"
    # A fresh sign-in for the next posts (the cookie now says signed out).
    await short_lived_sign_in(browser, fake)
    page = await browser.get("/forms/snap")
    run_out(fake)
    started = await browser.post(
        "/forms/snap/start", data={"csrf_token": csrf_of(page.text), "version": "1"}
    )
    assert started.headers["location"] == "/sign-in?next=/forms/snap", "the start page"


async def test_a_referer_that_is_not_a_page_of_the_site_is_not_followed(
    browser: httpx.AsyncClient, fake: FakeGateway
) -> None:
    await short_lived_sign_in(browser, fake)
    draft_id = await start(browser)
    page = await browser.get(f"/drafts/{draft_id}/pages/2")
    run_out(fake)
    lost = await browser.post(
        f"/drafts/{draft_id}/pages/2",
        data={"csrf_token": csrf_of(page.text)},
        headers={"referer": "https://elsewhere.example//evil.example/x"},
    )
    assert lost.headers["location"] == f"/sign-in?next=/drafts/{draft_id}/pages/2"


async def test_a_get_that_runs_out_keeps_its_query_and_says_why(
    browser: httpx.AsyncClient, fake: FakeGateway
) -> None:
    await short_lived_sign_in(browser, fake)
    draft_id = await start(browser)
    run_out(fake)
    target = f"/drafts/{draft_id}/pages/2?check=1&return=check"
    lost = await browser.get(target)
    assert lost.status_code == 303
    assert parse_qs(urlsplit(lost.headers["location"]).query)["next"] == [target]
    page = await browser.get(lost.headers["location"])
    assert "You were signed out. Sign in again to go back to the page you were on." in page.text
    assert "your answers on that page were not saved" not in page.text


async def test_a_page_for_residents_asks_a_visitor_to_sign_in_without_saying_signed_out(
    browser: httpx.AsyncClient,
) -> None:
    lost = await browser.get("/applications")
    assert lost.headers["location"] == "/sign-in?next=/applications"
    page = await browser.get(lost.headers["location"])
    assert "You were signed out" not in page.text


async def test_the_signed_out_message_in_spanish(
    browser: httpx.AsyncClient, fake: FakeGateway
) -> None:
    await short_lived_sign_in(browser, fake)
    await browser.get("/language", params={"to": "es"})
    draft_id = await start(browser)
    page = await browser.get(f"/drafts/{draft_id}/pages/1")
    run_out(fake)
    lost = await browser.post(
        f"/drafts/{draft_id}/pages/1", data={**YOU, "csrf_token": csrf_of(page.text)}
    )
    sign_in_page = await browser.get(lost.headers["location"])
    assert "sus respuestas en esa página no se guardaron" in sign_in_page.text


# -- 6. a form already started ------------------------------------------------------------------


async def test_the_start_page_offers_to_continue_the_newest_draft(
    browser: httpx.AsyncClient, fake: FakeGateway
) -> None:
    await sign_in(browser)
    page = await browser.get("/forms/snap")
    assert "data-saved-draft" not in page.text
    assert "Start now" in page.text
    older = await start(browser)
    newer = await start(browser)
    await post(browser, f"/drafts/{newer}/pages/1", YOU)
    await post(browser, f"/drafts/{newer}/pages/2", {"_action": "add:/household"})
    fake.drafts[older]["updated_at"] = "2026-11-20T15:00:00Z"
    fake.drafts[newer]["updated_at"] = "2026-11-25T16:45:00Z"
    page = await browser.get("/forms/snap")
    assert "You have already started this form" in page.text
    assert "Last saved 25 November 2026 at 11:45 a.m. Eastern Time." in page.text
    assert "Answered up to page 2 of 2." in page.text
    assert f'href="/drafts/{newer}/pages/2">Continue your application</a>' in page.text
    assert older not in page.text
    assert "Start again" in page.text
    assert "The one you saved stays in My applications." in page.text
    assert "Start now" not in page.text
    # "Start again" still makes a new draft, as "Start now" did.
    again = await start(browser)
    assert again not in (older, newer)
    assert len(fake.drafts) == 3


async def test_my_applications_tells_drafts_apart(
    browser: httpx.AsyncClient, fake: FakeGateway
) -> None:
    await sign_in(browser)
    empty = await start(browser)
    answered = await start(browser)
    await post(browser, f"/drafts/{answered}/pages/1", YOU)
    fake.drafts[empty]["updated_at"] = "2026-07-04T13:05:00Z"
    fake.drafts[answered]["updated_at"] = "2026-11-25T10:00:00Z"
    page = (await browser.get("/applications")).text
    cards = re.findall(r'<li class="usa-card" data-draft="([^"]+)">(.*?)</li>', page, re.S)
    assert [draft for draft, _ in cards] == [answered, empty], "newest first"
    first, second = (body for _, body in cards)
    assert "Last saved 25 November 2026 at 5:00 a.m. Eastern Time." in first
    assert "Answered up to page 1 of 2." in first
    assert f'href="/drafts/{answered}/pages/1"' in first
    assert "Last saved 4 July 2026 at 9:05 a.m. Eastern Time." in second, "daylight time"
    assert "No answers yet." in second
    assert "last saved 4 July 2026 at 9:05 a.m. Eastern Time" in second, "for screen readers"


# -- 8. what the confirmation and the application say ----------------------------------------


async def send(browser: httpx.AsyncClient, fake: FakeGateway) -> tuple[str, str]:
    """A filled draft sent; (draft id, submission id)."""
    draft_id = await to_check(browser)
    check = await browser.get(f"/drafts/{draft_id}/check")
    sent = await browser.post(
        f"/drafts/{draft_id}/submit", data=form_fields(check.text, f"/drafts/{draft_id}/submit")
    )
    return draft_id, sent.headers["location"].split("/")[2]


async def test_the_confirmation_says_what_is_true_of_each_agency(
    browser: httpx.AsyncClient, fake: FakeGateway
) -> None:
    await sign_in(browser)
    _, sid = await send(browser, fake)
    page = (await browser.get(f"/applications/{sid}/confirmation")).text
    assert "has received the answers it needs" not in page
    assert "Each agency below will receive only the answers it needs" in page
    statuses = page.split("data-agency-statuses", 1)[1].split("</ul>", 1)[0]
    assert "Department of Social Services: Waiting to be delivered" in statuses
    assert "Department of Labor: Waiting to be delivered" in statuses


async def test_the_application_shows_each_agencys_latest_status_and_how_to_answer(
    browser: httpx.AsyncClient, fake: FakeGateway
) -> None:
    await sign_in(browser)
    _, sid = await send(browser, fake)
    timeline = fake.submissions[sid]["timeline"]
    timeline.append({"at": "2026-11-25T12:00:00Z", "agency": "DSS", "status": "in_review",
                     "message": None})  # fmt: skip
    timeline.append({"at": "2026-11-25T14:30:00Z", "agency": "DSS", "status": "needs_info",
                     "message": "Please send a recent pay slip."})  # fmt: skip
    page = (await browser.get(f"/applications/{sid}")).text
    statuses = page.split("data-agency-statuses", 1)[1].split("</ul>", 1)[0]
    assert "Department of Social Services: Needs more information" in statuses
    assert "Department of Labor: Waiting to be delivered" in statuses, "no update: delivery"
    alert = page.split("data-needs-info", 1)[1].split("</div>", 1)[0]
    assert "Department of Social Services needs more information from you" in alert
    assert "contact Department of Social Services directly" in alert
    reference = fake.submissions[sid]["reference"]
    assert reference in alert
    assert 'href="#timeline-2"' in alert
    item = page.split('id="timeline-2"', 1)[1].split("</li>", 1)[0]
    assert "Please send a recent pay slip." in item
    assert page.count("Please send a recent pay slip.") == 1, "the message is shown once"
    assert "25 November 2026 at 9:30 a.m. Eastern Time" in item
    assert "UTC" not in page
    # A later update from the agency replaces "needs more information".
    timeline.append({"at": "2026-11-26T09:00:00Z", "agency": "DSS", "status": "approved",
                     "message": None})  # fmt: skip
    later = (await browser.get(f"/applications/{sid}")).text
    assert "data-needs-info" not in later
    assert "Department of Social Services: Approved" in later


async def test_reloading_check_your_answers_after_sending_goes_to_the_application(
    browser: httpx.AsyncClient, fake: FakeGateway
) -> None:
    await sign_in(browser)
    draft_id, sid = await send(browser, fake)
    reload = await browser.get(f"/drafts/{draft_id}/check")
    assert reload.status_code == 303
    assert reload.headers["location"] == f"/applications/{sid}"
    page = await browser.get(reload.headers["location"])
    assert "This application has already been sent" in page.text


async def test_check_your_answers_of_a_draft_no_longer_saved_says_so(
    browser: httpx.AsyncClient,
) -> None:
    await sign_in(browser)
    gone = await browser.get("/drafts/0b5e3c1e-6a3f-4c3e-9d51-3f1d1f0e2a11/check")
    assert gone.status_code == 404
    assert "This application is no longer saved" in gone.text
    assert "Page not found" not in gone.text
    assert '<a class="usa-link" href="/applications">My applications</a>' in gone.text


def test_times_are_shown_in_eastern_time_in_both_languages() -> None:
    en, es = Translator("en"), Translator("es")
    assert (
        local_datetime(en, "2026-11-25T18:25:00Z") == "25 November 2026 at 1:25 p.m. Eastern Time"
    )
    assert local_datetime(en, "2026-11-26T03:10:00+00:00") == (
        "25 November 2026 at 10:10 p.m. Eastern Time"
    ), "the local date, not the UTC one"
    assert local_datetime(en, "2026-07-01T16:00:00Z") == "1 July 2026 at 12:00 p.m. Eastern Time"
    assert local_datetime(en, "2026-07-01T04:00:00Z") == "1 July 2026 at 12:00 a.m. Eastern Time"
    assert local_datetime(es, "2026-11-25T18:25:00Z") == (
        "25 de noviembre de 2026 a las 1:25 p. m., hora del Este"
    )
    assert local_datetime(en, "2026-11-25T18:25:00") == "25 November 2026 at 1:25 p.m. Eastern Time"
    assert local_datetime(en, "2026-11-25") == "25 November 2026"
    assert local_datetime(en, "not a timeT") == "not a timeT"
    assert local_datetime(en, None) == ""


def test_agency_statuses_take_each_agencys_latest_update() -> None:
    submission = Submission(
        id="s", reference="R", form="snap", version=1, submitted_at="2026-11-25T11:00:00Z",
        deliveries=[DeliverySummary("DSS", ["*"], "delivered"),
                    DeliverySummary("DOL", ["/fullName"], "dead")],
        timeline=[TimelineEntry("2026-11-25T11:00:00Z", None, "submitted", None),
                  TimelineEntry("2026-11-25T12:00:00Z", "DSS", "needs_info", "Send a pay slip."),
                  TimelineEntry("2026-11-25T13:00:00Z", "DSS", "in_review", None)],
    )  # fmt: skip
    found = agency_statuses(submission, {"DSS": "Social Services"})
    assert [(s.agency, s.name, s.status, s.message, s.entry) for s in found] == [
        ("DSS", "Social Services", "in_review", None, 2),
        ("DOL", "DOL", "dead", None, None),
    ]
