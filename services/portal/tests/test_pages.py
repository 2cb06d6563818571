"""The portal's pages, driven like a browser without JavaScript would, against a stand-in for
the gateway at the outbound boundary."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tellonce_portal.config import Settings
from tellonce_portal.main import create_app
from tellonce_portal.session import COOKIE, SessionCodec

from .fake_gateway import PASSWORD, FakeGateway, portal_browser


@pytest.fixture
def fake() -> FakeGateway:
    return FakeGateway()


@pytest.fixture
async def browser(fake: FakeGateway) -> AsyncIterator[httpx.AsyncClient]:
    async with portal_browser(fake.transport()) as client:
        yield client


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "every form carries the CSRF token"
    return match.group(1)


async def post(
    client: httpx.AsyncClient, page: str, data: dict[str, Any], action: str | None = None
) -> httpx.Response:
    """Submit a form on ``page`` as a browser would: with the page's CSRF token."""
    html = (await client.get(page)).text
    return await client.post(action or page, data={**data, "csrf_token": csrf_of(html)})


async def sign_in(client: httpx.AsyncClient, email: str = "resident@demo.gov") -> httpx.Response:
    return await post(client, "/sign-in", {"email": email, "password": PASSWORD})


async def test_catalog_lists_and_searches_forms(
    browser: httpx.AsyncClient, fake: FakeGateway
) -> None:
    page = await browser.get("/forms")
    assert page.status_code == 200
    assert "Food help (SNAP)" in page.text
    assert "Department of Social Services" in page.text
    assert '<a class="usa-skipnav" href="#main-content">' in page.text
    empty = await browser.get("/forms", params={"q": "fishing licence"})
    assert "No forms match your search." in empty.text
    assert ("GET", "/api/v1/forms") in [(m, p) for m, p, _ in fake.calls]


async def test_start_page_shows_who_receives_which_answers(browser: httpx.AsyncClient) -> None:
    page = await browser.get("/forms/snap")
    assert "Who will receive your answers" in page.text
    assert "Department of Labor" in page.text
    assert "Full name" in page.text
    assert "All your answers on this form" in page.text
    assert "Job matching" in page.text


async def test_sign_in_sets_a_protected_session_cookie(browser: httpx.AsyncClient) -> None:
    response = await sign_in(browser)
    assert response.status_code == 303
    assert response.headers["location"] == "/applications"
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(COOKIE + "=")
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie
    assert "Secure" not in cookie, "local mode runs on http"
    assert "at-" not in cookie, "the tokens are encrypted in the cookie"


async def test_wrong_password_shows_an_error_summary_and_keeps_the_email(
    browser: httpx.AsyncClient,
) -> None:
    response = await post(browser, "/sign-in", {"email": "resident@demo.gov", "password": "nope"})
    assert response.status_code == 400
    assert "There is a problem" in response.text
    assert 'href="#f-email"' in response.text
    assert 'value="resident@demo.gov"' in response.text
    assert "<title>Error: Sign in" in response.text
    assert "tell-once-demo-password" in response.text, "local mode lists the demo accounts"


PRODUCTION = Settings(
    mode="production",
    gateway_url="http://gateway.test",
    session_secret="a-real-secret-from-the-vault-0123456789",
)


@asynccontextmanager
async def production_client(
    fake: FakeGateway, app: FastAPI | None = None
) -> AsyncIterator[httpx.AsyncClient]:
    """A browser on the portal in production mode (over https), ``app`` or a new one."""
    app = app or create_app(PRODUCTION, transport=fake.transport())
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="https://portal.test"
    ) as client:
        yield client


async def test_production_mode_does_not_list_demo_accounts(fake: FakeGateway) -> None:
    async with production_client(fake) as client:
        page = await client.get("/sign-in")
        assert "tell-once-demo-password" not in page.text
        cookie = page.headers["set-cookie"]
        assert "Secure" in cookie, "production cookies are Secure"
        # __Host-: the browser takes it only from this host, Secure, for / and with no Domain
        assert cookie.startswith("__Host-" + COOKIE + "=")
        assert "Path=/" in cookie
        assert "Domain" not in cookie


async def test_production_reads_only_the_host_only_session_cookie(fake: FakeGateway) -> None:
    """A cookie without the prefix could have been planted by a sibling site (a subdomain
    setting it for the parent domain): in production it is not the session."""
    app = create_app(PRODUCTION, transport=fake.transport())
    async with production_client(fake, app) as client:
        assert (await sign_in(client)).status_code == 303
        sealed = client.cookies["__Host-" + COOKIE]
    async with production_client(fake, app) as client:
        prefixed = await client.get(
            "/applications", headers={"cookie": f"__Host-{COOKIE}={sealed}"}
        )
        assert prefixed.status_code == 200, "the session itself is good"
        plain = await client.get("/applications", headers={"cookie": f"{COOKIE}={sealed}"})
        assert plain.status_code == 303
        assert plain.headers["location"].startswith("/sign-in")


def test_production_prefill_cookie_must_come_over_https() -> None:
    from starlette.responses import Response

    codec = SessionCodec(PRODUCTION)
    response = Response()
    codec.save_prefilled(response, "d-1", ["/name"])
    cookie = response.headers["set-cookie"]
    # scoped to the draft's pages, so __Secure- (__Host- needs Path=/)
    assert cookie.startswith("__Secure-tellonce_prefilled=")
    assert "Secure" in cookie
    assert "Path=/drafts/d-1" in cookie
    sealed = cookie.split(";")[0].split("=", 1)[1]
    assert codec.prefilled(sealed, "d-1") == {"/name"}


def test_production_refuses_the_demo_session_secret() -> None:
    with pytest.raises(ValueError, match="session_secret"):
        Settings(mode="production", gateway_url="http://gateway.test")


async def test_a_post_without_the_csrf_token_is_refused(browser: httpx.AsyncClient) -> None:
    await browser.get("/sign-in")
    response = await browser.post(
        "/sign-in", data={"email": "resident@demo.gov", "password": PASSWORD}
    )
    assert response.status_code == 403
    assert "This page has expired" in response.text
    forged = await browser.post(
        "/sign-in", data={"email": "x", "password": "y", "csrf_token": "forged"}
    )
    assert forged.status_code == 403


async def test_signing_in_gives_a_new_csrf_token(browser: httpx.AsyncClient) -> None:
    """A token known before signing in (say, in a cookie planted by a sibling site) is worth
    nothing afterwards: a state-changing post with it is refused."""
    before = csrf_of((await browser.get("/sign-in")).text)
    signed_in = await browser.post(
        "/sign-in", data={"email": "resident@demo.gov", "password": PASSWORD, "csrf_token": before}
    )
    assert signed_in.status_code == 303
    after = csrf_of((await browser.get("/forms/snap")).text)
    assert after != before
    stale = await browser.post("/forms/snap/start", data={"csrf_token": before})
    assert stale.status_code == 403
    assert (await browser.post("/forms/snap/start", data={"csrf_token": after})).status_code == 303


async def test_signed_out_pages_redirect_to_sign_in(browser: httpx.AsyncClient) -> None:
    response = await browser.get("/applications")
    assert response.status_code == 303
    assert response.headers["location"].startswith("/sign-in?next=/applications")


async def test_a_resident_files_a_form_with_one_error_fixed_and_a_double_click(
    browser: httpx.AsyncClient, fake: FakeGateway
) -> None:
    await sign_in(browser)
    started = await post(
        browser, "/forms/snap", {"prefill": "yes", "version": "1"}, "/forms/snap/start"
    )
    assert started.status_code == 303
    first_page = started.headers["location"]
    draft_id = first_page.split("/")[2]

    page = await browser.get(first_page)
    assert 'value="Ana Diaz"' in page.text
    assert "From your profile" in page.text, "prefilled answers are marked"

    bad = await post(
        browser,
        first_page,
        {"/fullName": "Ana Diaz", "/ssn": "12345", "/dateOfBirth": "1990-04-02"},
    )
    assert bad.status_code == 422
    assert "There is a problem" in bad.text
    assert 'href="#f-ssn"' in bad.text
    assert "Social Security number must be 9 digits long" in bad.text, "says what it wants"
    assert 'value="12345"' in bad.text, "the answer is kept"
    assert 'aria-describedby="f-ssn-hint f-ssn-error"' in bad.text

    good = await post(
        browser,
        first_page,
        {"/fullName": "Ana Diaz", "/ssn": "123456789", "/dateOfBirth": "1990-04-02"},
    )
    assert good.status_code == 303
    assert good.headers["location"] == f"/drafts/{draft_id}/pages/2"

    second = f"/drafts/{draft_id}/pages/2"
    added = await post(browser, second, {"_action": "add:/household"})
    assert added.status_code == 303
    assert fake.drafts[draft_id]["answers"]["household"] == [{}]
    done = await post(
        browser,
        second,
        {
            "/household/0/name": "Ana",
            "/household/0/age": "34",
            "/hasJob": "true",
            "/monthlyIncome": "1,200",
        },
    )
    assert done.headers["location"] == f"/drafts/{draft_id}/check"
    assert fake.drafts[draft_id]["answers"]["household"] == [{"name": "Ana", "age": 34}]
    assert fake.drafts[draft_id]["answers"]["monthlyIncome"] == 1200

    check = await browser.get(f"/drafts/{draft_id}/check")
    assert "Check your answers" in check.text
    assert "2 April 1990" in check.text
    token = csrf_of(check.text)
    key = re.search(r'name="key" value="([^"]+)"', check.text)
    assert key
    data = {"csrf_token": token, "key": key.group(1), "form": "snap"}
    first = await browser.post(f"/drafts/{draft_id}/submit", data=data)
    second_click = await browser.post(f"/drafts/{draft_id}/submit", data=data)
    assert first.status_code == second_click.status_code == 303
    assert len(fake.submissions) == 1, "a double click files once"
    assert first.headers["location"] == second_click.headers["location"]

    confirmation = await browser.get(first.headers["location"])
    submission = next(iter(fake.submissions.values()))
    assert submission["reference"] in confirmation.text
    receipt = await browser.get(f"/applications/{submission['id']}/receipt.pdf")
    assert receipt.headers["content-type"] == "application/pdf"
    assert receipt.content.startswith(b"%PDF")
    assert receipt.content.endswith(b" en")  # asked for in the page's language
    await browser.get("/language", params={"to": "es", "next": "/applications"})
    receipt = await browser.get(f"/applications/{submission['id']}/receipt.pdf")
    assert receipt.content.endswith(b" es")
    # A HEAD asks the API with a HEAD (which renders nothing) and sends no content.
    path = f"/api/v1/submissions/{submission['id']}/receipt.pdf"
    asked = len(fake.calls)
    head = await browser.head(f"/applications/{submission['id']}/receipt.pdf")
    assert head.status_code == 200
    assert head.headers["content-type"] == "application/pdf"
    assert head.headers["content-disposition"].startswith("attachment;")
    assert "content-length" not in head.headers
    assert [(m, p) for m, p, _ in fake.calls[asked:] if p == path] == [("HEAD", path)]
    missing = await browser.head("/applications/no-such-id/receipt.pdf")
    assert missing.status_code == 404


async def test_api_errors_on_submit_link_to_the_page_that_fixes_them(
    browser: httpx.AsyncClient, fake: FakeGateway
) -> None:
    await sign_in(browser)
    started = await post(browser, "/forms/snap", {"version": "1"}, "/forms/snap/start")
    draft_id = started.headers["location"].split("/")[2]
    check = await browser.get(f"/drafts/{draft_id}/check")
    response = await browser.post(
        f"/drafts/{draft_id}/submit", data={"csrf_token": csrf_of(check.text), "form": "snap"}
    )
    assert response.status_code == 422
    assert f'href="/drafts/{draft_id}/pages/1?check=1&amp;return=check#f-fullName"' in response.text
    assert (
        f'href="/drafts/{draft_id}/pages/2?check=1&amp;return=check#f-household"' in response.text
    )
    assert "Enter full name" in response.text
    assert not fake.submissions
    revisit = await browser.get(f"/drafts/{draft_id}/pages/1?check=1")
    assert "Enter full name" in revisit.text


async def test_an_expired_access_token_is_refreshed(
    browser: httpx.AsyncClient, fake: FakeGateway
) -> None:
    fake.users["resident@demo.gov"]["expires_in"] = 1  # inside the refresh margin at once
    await sign_in(browser)
    page = await browser.get("/applications")
    assert page.status_code == 200
    assert fake.refreshes >= 1


@pytest.mark.parametrize("reuse_allowed", [1, 0])
async def test_two_pages_refreshing_at_once_both_stay_signed_in(
    browser: httpx.AsyncClient, fake: FakeGateway, reuse_allowed: int
) -> None:
    """Two requests carrying the same expiring session (two tabs): both refresh with the same
    refresh token. With identity's reuse interval (one reuse accepted) both pages render and
    either response's cookie stays signed in; without it the second is signed out."""
    fake.refresh_reuse_allowed = reuse_allowed
    fake.users["resident@demo.gov"]["expires_in"] = 1  # inside the refresh margin at once
    await sign_in(browser)
    fake.users["resident@demo.gov"]["expires_in"] = 900  # one refresh per page, not per call
    fake.refreshes = 0
    stale = browser.cookies[COOKIE]
    browser.cookies.clear()
    old_cookie = {"cookie": f"{COOKIE}={stale}"}
    pages = await asyncio.gather(
        browser.get("/applications", headers=old_cookie),
        browser.get("/applications", headers=old_cookie),
    )
    assert fake.refreshes == 2
    if not reuse_allowed:
        assert sorted(p.status_code for p in pages) == [200, 303]
        return
    assert [p.status_code for p in pages] == [200, 200]
    codec = SessionCodec(Settings(gateway_url="http://gateway.test"))
    kept = {codec.load(p.cookies[COOKIE]).refresh_token for p in pages}
    assert len(kept) == 2, "each response keeps the refresh token its own refresh returned"
    for token in kept:
        entry = fake.refresh_tokens[str(token)]
        assert entry["uses"] == 0
        assert entry["family"] not in fake.revoked_families
    for page in pages:
        fresh = {"cookie": f"{COOKIE}={page.cookies[COOKIE]}"}
        again = await browser.get("/applications", headers=fresh)
        assert again.status_code == 200


async def test_staff_see_their_inbox_and_post_a_status(
    browser: httpx.AsyncClient, fake: FakeGateway
) -> None:
    fake.submissions["s1"] = {
        "id": "s1", "reference": "CT-2026-AAAA-BBBB", "form": "snap", "version": 1,
        "submitted_at": "2026-11-25T11:00:00Z", "status": "delivered", "owner": "r1",
        "deliveries": [], "timeline": [], "answers": {"fullName": "Ana Diaz", "ssn": "123456789"},
    }  # fmt: skip
    await sign_in(browser, "staff@dss.demo.gov")
    inbox = await browser.get("/inbox")
    assert "CT-2026-AAAA-BBBB" in inbox.text
    assert fake.answer_reads == 0, "listing the inbox reads no answers"
    view = await browser.get("/inbox/d-s1")
    assert "Ana Diaz" in view.text
    missing = await post(
        browser,
        "/inbox/d-s1",
        {"submission_id": "s1", "status": "needs_info"},
        "/inbox/d-s1/status",
    )
    assert missing.status_code == 422
    assert "Say what information you need" in missing.text
    posted = await post(
        browser,
        "/inbox/d-s1",
        {"submission_id": "s1", "status": "needs_info", "message": "Send a pay slip"},
        "/inbox/d-s1/status",
    )
    assert posted.status_code == 303
    assert fake.statuses[-1]["status"] == "needs_info"
    resident_pages = await browser.get("/applications")
    assert resident_pages.status_code == 403, "a staff member is not a resident"


async def test_opening_a_delivery_reads_that_delivery_alone_once(
    browser: httpx.AsyncClient, fake: FakeGateway
) -> None:
    """The access log must hold what staff saw: the page reads one delivery with its answers
    (``?include=answers``), never the pull feed, whose every delivery would be logged."""
    fake.delivered("s1", "CT-2026-AAAA-BBBB")
    fake.delivered("s2", "CT-2026-CCCC-DDDD", full_name="Ben Ortiz")
    await sign_in(browser, "staff@dss.demo.gov")
    view = await browser.get("/inbox/d-s1")
    assert view.status_code == 200
    assert "Ana Diaz" in view.text
    assert "Ben Ortiz" not in view.text
    assert fake.answer_reads == 0, "no page of the feed is read"
    assert fake.delivery_reads == ["d-s1"], "one read, of this delivery only"
    reads = [p for m, p, _ in fake.calls if m == "GET" and p.startswith("/api/v1/deliveries")]
    assert reads == ["/api/v1/deliveries/d-s1"]
    # A refused status shows the page again: again one read of this delivery, no feed.
    fake.delivery_reads.clear()
    page = await browser.get("/inbox/d-s1")
    refused = await browser.post(
        "/inbox/d-s1/status",
        data={"submission_id": "s1", "status": "", "csrf_token": csrf_of(page.text)},
    )
    assert refused.status_code == 422
    assert "Ana Diaz" in refused.text
    assert fake.delivery_reads == ["d-s1", "d-s1"], "the page, then the page shown again"
    assert fake.answer_reads == 0
    absent = await browser.get("/inbox/d-s9")
    assert absent.status_code == 404, "the API's 404: the page not found"
    assert fake.answer_reads == 0


async def test_a_head_on_a_delivery_page_reads_no_answers(
    browser: httpx.AsyncClient, fake: FakeGateway
) -> None:
    """A HEAD runs the page's GET but sends no content: nothing is disclosed, so the page
    reads the delivery's state only (the API logs a read only with ``?include=answers``),
    with the same status as the GET."""
    fake.delivered("s1", "CT-2026-AAAA-BBBB")
    await sign_in(browser, "staff@dss.demo.gov")
    head = await browser.head("/inbox/d-s1")
    assert head.status_code == 200
    assert head.content == b""
    assert fake.delivery_reads == [], "no logged read of the answers"
    reads = [p for m, p, _ in fake.calls if p.startswith("/api/v1/deliveries")]
    assert reads == ["/api/v1/deliveries/d-s1"], "its state, read once"
    absent = await browser.head("/inbox/d-s9")
    assert absent.status_code == 404, "the API's 404, as for the GET"
    view = await browser.get("/inbox/d-s1")
    assert "Ana Diaz" in view.text
    assert fake.delivery_reads == ["d-s1"], "the GET is a read"


async def test_the_auditor_reads_the_audit_and_downloads_csv(
    browser: httpx.AsyncClient, fake: FakeGateway
) -> None:
    await sign_in(browser, "auditor@demo.gov")
    page = await browser.get("/audit")
    assert "Date of birth" in page.text
    assert "12,000" in page.text
    drill = await browser.get("/audit", params={"cluster": "c1"})
    assert "/dateOfBirth" in drill.text
    assert "3,400.5" in page.text
    assert "28.3 %" in page.text
    split = await post(
        browser,
        "/audit?cluster=c1",
        {"field": "snap /dateOfBirth", "label": "Child's birth"},
        "/audit/clusters/c1/split",
    )
    assert split.status_code == 303
    assert fake.decisions[-1] == {
        "kind": "split", "cluster": "c1", "label": "Child's birth",
        "fields": [{"form": "snap", "pointer": "/dateOfBirth"}],
    }  # fmt: skip
    empty = await post(browser, "/audit?cluster=c1", {}, "/audit/clusters/c1/split")
    assert empty.status_code == 422
    confirm = await post(
        browser, "/audit?cluster=c1", {"element": "person.birthDate"}, "/audit/clusters/c1/confirm"
    )
    assert confirm.status_code == 303
    assert fake.decisions[-1]["element"] == "person.birthDate"
    csv = await browser.get("/audit/redundancy.csv")
    assert csv.headers["content-type"].startswith("text/csv")
    assert "birth date" in csv.text
    # Acceptance review: the CSV had no hours (the tables with them were not linked) and the
    # page did not state the assumptions behind the hours saved.
    page = await browser.get("/audit")
    assert 'href="/audit/redundancy.csv?table=forms"' in page.text
    assert "we assume 25% of a form" in page.text
    assert "takes 20% of the time" in page.text
    hours = await browser.get("/audit/redundancy.csv", params={"table": "forms"})
    assert hours.status_code == 200
    assert "burden_hours" in hours.text
    assert 'filename="redundancy-audit-forms.csv"' in hours.headers["content-disposition"]
    unknown = await browser.get("/audit/redundancy.csv", params={"table": "secrets"})
    assert unknown.status_code == 404


async def test_language_switch_to_spanish(browser: httpx.AsyncClient) -> None:
    switched = await browser.get("/language", params={"to": "es", "next": "/forms/snap"})
    assert switched.headers["location"] == "/forms/snap"
    page = await browser.get("/forms/snap")
    assert '<html lang="es">' in page.text
    assert "Quién recibirá sus respuestas" in page.text
    evil = await browser.get("/language", params={"to": "en", "next": "//evil.example"})
    assert evil.headers["location"] == "/"


async def test_unknown_pages_are_html_for_browsers_and_problems_for_clients(
    browser: httpx.AsyncClient,
) -> None:
    html = await browser.get("/no-such-page")
    assert html.status_code == 404
    assert "Page not found" in html.text
    problem = await browser.get("/no-such-page", headers={"accept": "application/json"})
    assert problem.status_code == 404
    assert problem.headers["content-type"] == "application/problem+json"
    missing_form = await browser.get("/forms/nope")
    assert missing_form.status_code == 404
    assert "Page not found" in missing_form.text


async def test_staff_manage_webhook_endpoints_and_replay_dead_letters(
    browser: httpx.AsyncClient, fake: FakeGateway
) -> None:
    fake.dead["d9"] = {
        "id": "d9", "submission_id": "s9", "reference": "CT-2026-DEAD-0001", "agency": "DSS",
        "form": "snap", "version": 1, "fields": ["*"], "status": "dead", "attempts": 17,
        "last_error": "connect timeout", "created_at": "2026-11-22T10:00:00Z",
    }  # fmt: skip
    await sign_in(browser, "staff@dss.demo.gov")
    page = await browser.get("/inbox/systems")
    assert "CT-2026-DEAD-0001" in page.text
    assert "connect timeout" in page.text
    row = re.search(r"CT-2026-DEAD-0001</th>(.*?)</tr>", page.text, re.S)
    assert row is not None
    assert "<td>snap</td>" not in row.group(1), "the form's catalog title, not its slug"
    assert "Food help" in row.group(1) or "SNAP" in row.group(1)
    bad = await post(browser, "/inbox/systems", {"url": "ftp://x"}, "/inbox/systems/endpoints")
    assert bad.status_code == 422
    assert 'href="#f-url"' in bad.text
    created = await post(
        browser,
        "/inbox/systems",
        {"url": "https://dss.example.gov/hook"},
        "/inbox/systems/endpoints",
    )
    assert created.status_code == 201
    assert "whsec_" + "A" * 32 in created.text, "the secret is shown once"
    again = await browser.get("/inbox/systems")
    assert "whsec_" not in again.text
    assert "https://dss.example.gov/hook" in again.text
    replayed = await post(browser, "/inbox/systems", {"delivery": "d9"}, "/inbox/systems/replay")
    assert replayed.status_code == 303
    assert not fake.dead
    after = await browser.get("/inbox/systems")
    assert "1 delivery queued again." in after.text


async def test_an_erased_share_shows_a_notice_not_an_empty_answers_table(
    browser: httpx.AsyncClient, fake: FakeGateway
) -> None:
    # 3 a.m. UTC on 1 November is 11 p.m. on 31 October in Eastern Time: the date shown.
    fake.delivered("s1", "CT-2026-AAAA-BBBB", erased_at="2026-11-01T03:00:00Z")
    await sign_in(browser, "staff@dss.demo.gov")
    view = await browser.get("/inbox/d-s1")
    assert view.status_code == 200
    assert "data-delivered-fields" not in view.text, "no empty answers table"
    assert (
        "The answers were erased on 31 October 2026 under the retention rule for delivered "
        "copies. The submission itself remains the record."
    ) in view.text
    switched = await browser.get("/language", params={"to": "es", "next": "/inbox/d-s1"})
    spanish = await browser.get(switched.headers["location"])
    assert "Las respuestas se borraron el 31 de octubre de 2026" in spanish.text
    assert "La solicitud enviada sigue siendo el registro." in spanish.text


def inbox_row(page: str, reference: str) -> str:
    """The inbox table's row whose reference is ``reference``."""
    rows: list[str] = re.findall(r"<tr>.*?</tr>", page, flags=re.S)
    return next(row for row in rows if reference in row)


async def test_the_inbox_marks_deliveries_whose_answers_were_erased(
    browser: httpx.AsyncClient, fake: FakeGateway
) -> None:
    fake.delivered("s1", "CT-2026-ERAS-ED01", erased_at="2026-11-01T03:00:00Z")
    fake.delivered("s2", "CT-2026-HELD-0002")
    await sign_in(browser, "staff@dss.demo.gov")
    inbox = await browser.get("/inbox")
    assert inbox.status_code == 200
    assert fake.answer_reads == 0, "the marker comes from the states list, not the answers"
    erased = inbox_row(inbox.text, "CT-2026-ERAS-ED01")
    marker = re.search(r'<span [^>]*id="([^"]+)" data-share-erased>([^<]*)</span>', erased)
    assert marker is not None, "the erased row says so in words"
    assert marker.group(2) == "Answers erased on 31 October 2026 under the retention rule"
    link = re.search(r'<a href="/inbox/d-s1"[^>]*>', erased)
    assert link is not None
    assert f'aria-describedby="{marker.group(1)}"' in link.group(0), "read with the link"
    held = inbox_row(inbox.text, "CT-2026-HELD-0002")
    assert "data-share-erased" not in held
    assert "aria-describedby" not in held
    assert "erased" not in held.lower()
    switched = await browser.get("/language", params={"to": "es", "next": "/inbox"})
    spanish = await browser.get(switched.headers["location"])
    assert "Respuestas borradas el 31 de octubre de 2026 según la regla de conservación" in (
        inbox_row(spanish.text, "CT-2026-ERAS-ED01")
    )


async def test_an_erased_dead_letter_offers_no_replay_and_a_refused_replay_is_explained(
    browser: httpx.AsyncClient, fake: FakeGateway
) -> None:
    fake.dead["d9"] = {
        "id": "d9", "submission_id": "s9", "reference": "CT-2026-DEAD-0001", "agency": "DSS",
        "form": "snap", "version": 1, "fields": ["*"], "status": "dead", "attempts": 17,
        "last_error": "connect timeout", "created_at": "2026-09-22T10:00:00Z",
        "share_purged_at": "2026-10-25T03:00:00Z",
    }  # fmt: skip
    await sign_in(browser, "staff@dss.demo.gov")
    page = await browser.get("/inbox/systems")
    assert "CT-2026-DEAD-0001" in page.text
    assert 'name="delivery" value="d9"' not in page.text, "no Replay for an erased row"
    assert "The answers were erased on 24 October 2026" in page.text
    # A page loaded before the erasure still has the button: the API's 410 is explained.
    refused = await browser.post(
        "/inbox/systems/replay", data={"delivery": "d9", "csrf_token": csrf_of(page.text)}
    )
    assert refused.status_code == 410
    assert "This delivery cannot be delivered again." in refused.text
    assert "The answers were erased on 24 October 2026" in refused.text
    assert "there is a problem with the service" not in refused.text
    assert "d9" in fake.dead


async def test_admins_add_agencies_import_versions_and_agreements(
    browser: httpx.AsyncClient, fake: FakeGateway
) -> None:
    signed_in = await sign_in(browser, "admin@demo.gov")
    assert signed_in.headers["location"] == "/admin"
    home = await browser.get("/admin")
    assert "Catalog administration" in home.text
    bad = await post(browser, "/admin", {"code": "x", "name": "X"}, "/admin/agencies")
    assert bad.status_code == 422
    assert "2 to 16 capital letters" in bad.text
    good = await post(
        browser, "/admin", {"code": "dmv", "name": "Motor Vehicles"}, "/admin/agencies"
    )
    assert good.status_code == 303
    assert fake.added_agencies == [{"code": "DMV", "name": "Motor Vehicles"}]

    page = await browser.get("/admin/forms/snap")
    token = csrf_of(page.text)
    schema = {"type": "object", "properties": {"fullName": {"type": "string"}}}
    imported = await browser.post(
        "/admin/forms/snap/versions",
        data={"csrf_token": token},
        files={"schema_file": ("snap.json", json.dumps(schema).encode(), "application/json")},
    )
    assert imported.status_code == 201
    assert "This is a breaking change" in imported.text
    assert "The field was removed." in imported.text
    assert fake.versions == [{"schema": schema}]
    broken = await browser.post(
        "/admin/forms/snap/versions",
        data={"csrf_token": token},
        files={"schema_file": ("bad.json", b"{not json", "application/json")},
    )
    assert broken.status_code == 422
    assert "The schema file is not valid JSON" in broken.text
    dangling = await browser.post(
        "/admin/forms/snap/versions",
        data={"csrf_token": token},
        files={"schema_file": ("ref.json", b'{"$ref": "#/nowhere"}', "application/json")},
    )
    assert dangling.status_code == 422
    assert "The $ref resolves nowhere." in dangling.text

    agreement = await post(
        browser,
        "/admin",
        {"agency": "DOL", "form": "snap", "fields": "/fullName\nperson.birthDate\n",
         "purpose": "Job matching", "legal_basis": "Law 1"},
        "/admin/agreements",
    )  # fmt: skip
    assert agreement.status_code == 303
    assert fake.added_agreements[-1]["fields"] == ["/fullName", "person.birthDate"]
    resident_only = await browser.get("/applications")
    assert resident_only.status_code == 403


async def test_sign_up_signs_the_new_resident_in_or_explains_the_password_rule(
    browser: httpx.AsyncClient,
) -> None:
    weak = await post(
        browser, "/sign-up", {"full_name": "Ana", "email": "ana@example.org", "password": "short"}
    )
    assert weak.status_code == 400
    assert 'href="#f-password"' in weak.text
    assert "Use at least 15 characters" in weak.text
    assert 'value="ana@example.org"' in weak.text
    done = await post(
        browser,
        "/sign-up",
        {"full_name": "Ana", "email": "ana@example.org", "password": PASSWORD},
    )
    assert done.status_code == 303
    assert done.headers["location"] == "/forms"
    page = await browser.get("/applications")
    assert page.status_code == 200, "the new resident is signed in"


async def test_a_failing_gateway_gets_a_503_page_and_a_bug_a_500_page_without_a_trace() -> None:
    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    def buggy(request: httpx.Request) -> httpx.Response:
        raise RuntimeError("a bug in the portal's path")

    for handler, status, text in (
        (down, 503, "Sorry, there is a problem with the service"),
        (buggy, 500, "Sorry, there is a problem with the service"),
    ):
        app = create_app(
            Settings(gateway_url="http://gateway.test"), transport=httpx.MockTransport(handler)
        )
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app, raise_app_exceptions=False),
            base_url="http://portal.test",
            headers={"accept": "text/html"},
        ) as client:
            page = await client.get("/forms")
            assert page.status_code == status
            assert text in page.text
            assert "Traceback" not in page.text
            assert "a bug in the portal" not in page.text


async def test_staff_reopen_a_decision_with_a_reason(
    browser: httpx.AsyncClient, fake: FakeGateway
) -> None:
    """A decision is final at the API (409 ``decision-final``). The page says so in words,
    with the decision, and offers "Reopen the decision"; reopening needs a reason, and then
    the status goes with ``reopen``."""
    fake.delivered("s1", "CT-2026-AAAA-BBBB")
    await sign_in(browser, "staff@dss.demo.gov")
    form = {"submission_id": "s1", "status": "approved"}
    decided = await post(browser, "/inbox/d-s1", form, "/inbox/d-s1/status")
    assert decided.status_code == 303
    page = await browser.get("/inbox/d-s1")
    assert 'name="reopen"' not in page.text, "offered only once a decision stands in the way"
    late = await post(
        browser, "/inbox/d-s1", {"submission_id": "s1", "status": "received"}, "/inbox/d-s1/status"
    )
    assert late.status_code == 422
    assert "The decision on this application is" in late.text
    assert "Approved" in late.text
    assert "25 November 2026" in late.text  # the decision's date, in words
    assert "decision is final" in late.text
    assert 'name="reopen"' in late.text
    assert len(fake.statuses) == 1
    no_reason = await post(
        browser,
        "/inbox/d-s1",
        {"submission_id": "s1", "status": "in_review", "reopen": "yes"},
        "/inbox/d-s1/status",
    )
    assert no_reason.status_code == 422
    assert "Say why you are reopening the decision" in no_reason.text
    assert re.search(r'name="reopen" value="yes"[^>]*checked', no_reason.text)
    reopened = await post(
        browser,
        "/inbox/d-s1",
        {"submission_id": "s1", "status": "in_review", "reopen": "yes", "message": "Appeal"},
        "/inbox/d-s1/status",
    )
    assert reopened.status_code == 303
    assert fake.statuses[-1]["status"] == "in_review"
    assert fake.statuses[-1]["reopen"] is True
    assert fake.statuses[-1]["message"] == "Appeal"


async def test_a_delivery_page_names_its_form_and_when_it_was_sent(
    browser: httpx.AsyncClient, fake: FakeGateway
) -> None:
    """Acceptance review: the page's caption was the form's slug and it did not say when
    the application was sent. Now the catalog's title (in the page's language) and the date."""
    fake.delivered("s1", "CT-2026-AAAA-BBBB")
    await sign_in(browser, "staff@dss.demo.gov")
    page = await browser.get("/inbox/d-s1")
    assert page.status_code == 200
    caption = re.search(r'<p class="usa-caption"[^>]*>([^<]*)</p>', page.text)
    assert caption is not None
    assert caption.group(1) != "snap"
    form = await browser.get("/forms/snap")  # the catalog's title, as residents see it
    heading = re.search(r"<h1[^>]*>([^<]*)</h1>", form.text)
    assert heading is not None
    assert caption.group(1) == heading.group(1).strip()
    assert "Sent on 1 October 2026." in page.text
