"""Hostile input found by fuzzing the portal through a running hub: each case here was a 500
before its fix. Bad input must give a 4xx page, never a 500."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from tellonce_portal.api import seg
from tellonce_portal.config import Settings
from tellonce_portal.main import create_app

from .fake_gateway import FakeGateway, portal_browser
from .test_pages import csrf_of, sign_in


@pytest.fixture
def fake() -> FakeGateway:
    return FakeGateway()


@pytest.fixture
async def browser(fake: FakeGateway) -> AsyncIterator[httpx.AsyncClient]:
    async with portal_browser(fake.transport(), raise_app_exceptions=False) as client:
        yield client


def test_a_path_parameter_is_one_encoded_segment_of_the_api_path() -> None:
    assert seg("snap") == "snap"
    assert seg("a/b?c#d%e") == "a%2Fb%3Fc%23d%25e"
    assert seg("\n") == "%0A"
    assert seg("..") == "%2E%2E"
    assert seg(".") == "%2E"
    assert seg("v1.2") == "v1.2"
    assert seg(3) == "3"


@pytest.mark.parametrize(
    ("email", "page"),
    [
        (None, "/forms/%0A"),
        (None, "/forms/%7F"),
        ("resident@demo.gov", "/applications/%EF%BB%BF%0A"),
        ("resident@demo.gov", "/applications/%0A/confirmation"),
        ("resident@demo.gov", "/drafts/%0A/pages/1"),
        ("resident@demo.gov", "/drafts/%0A/check"),
        ("admin@demo.gov", "/admin/forms/a%00b"),
    ],
)
async def test_control_characters_in_a_path_give_a_404_page(
    browser: httpx.AsyncClient, email: str | None, page: str
) -> None:
    """httpx refuses a URL with a control character (``InvalidURL``, not an ``HTTPError``):
    the value was put into the API path as it came."""
    if email:
        await sign_in(browser, email)
    response = await browser.get(page)
    assert response.status_code == 404, response.text[:300]
    assert "Page not found" in response.text


async def test_a_slug_with_a_question_mark_or_slash_stays_in_the_api_path(
    browser: httpx.AsyncClient, fake: FakeGateway
) -> None:
    """``%3F`` / ``%252f`` in a portal path were sent raw: ``a?b`` became the query ``b`` of
    ``/api/v1/forms/a``, and ``%2f`` made the registry answer a redirect with no body (an
    AttributeError on ``None``)."""
    for page, api_path in (
        ("/forms/a%3Fb", "/api/v1/forms/a?b"),
        ("/forms/%252f", "/api/v1/forms/%2f"),
        ("/forms/%2e%2e", "/api/v1/forms/.."),
    ):
        response = await browser.get(page)
        assert response.status_code == 404, (page, response.text[:300])
        assert fake.calls[-1][:2] == ("GET", api_path)


async def test_a_redirect_from_the_api_is_a_404_page_not_a_500() -> None:
    def redirect(request: httpx.Request) -> httpx.Response:
        return httpx.Response(307, headers={"location": "http://registry.internal/x"})

    app = create_app(
        Settings(gateway_url="http://gateway.test"), transport=httpx.MockTransport(redirect)
    )
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, raise_app_exceptions=False),
        base_url="http://portal.test",
        headers={"accept": "text/html"},
    ) as client:
        response = await client.get("/forms/snap")
    assert response.status_code == 404, response.text[:300]


@pytest.mark.parametrize("token", ["\u00b2", "\ufeff", "\U0001f600" * 20, "٣"])
async def test_a_csrf_token_with_non_ascii_characters_is_refused_not_a_500(
    browser: httpx.AsyncClient, token: str
) -> None:
    """``hmac.compare_digest`` raises TypeError for a str with non-ASCII characters."""
    response = await browser.post(
        "/sign-in", data={"email": "a@b.c", "password": "x", "csrf_token": token}
    )
    assert response.status_code == 403
    assert "This page has expired" in response.text
    signed_out = await browser.post("/sign-out", data={"csrf_token": token})
    assert signed_out.status_code == 403


async def test_the_right_csrf_token_still_passes(browser: httpx.AsyncClient) -> None:
    html = (await browser.get("/sign-in")).text
    response = await browser.post(
        "/sign-in",
        data={"email": "resident@demo.gov", "password": "wrong", "csrf_token": csrf_of(html)},
    )
    assert response.status_code == 400


@pytest.mark.parametrize("fmt", ["xlsx", "%E2%80%AE", "%C2%B2"])
async def test_an_unknown_audit_download_format_is_a_404_page(
    browser: httpx.AsyncClient, fmt: str
) -> None:
    """The not-found page was rendered without ``detail`` (StrictUndefined: a 500)."""
    await sign_in(browser, "auditor@demo.gov")
    response = await browser.get(f"/audit/redundancy.{fmt}")
    assert response.status_code == 404
    assert "Page not found" in response.text


async def test_a_version_report_in_the_registrys_own_shape_renders(fake: FakeGateway) -> None:
    """The registry's breaking-change items carry ``detail`` (no ``message``) and a warning
    may have no pointer: the page read ``c.message`` (StrictUndefined: a 500 after every
    import of a changed schema)."""

    def handle(request: httpx.Request) -> httpx.Response:
        if request.method == "POST" and request.url.path == "/api/v1/forms/snap/versions":
            return httpx.Response(
                201,
                json={
                    "form": "snap", "version": 2, "status": "draft", "breaking": True,
                    "fields": 3,
                    "changes": [{"kind": "removed", "pointer": "/ssn", "breaking": True,
                                 "detail": "Removed a field an agreement shares."},
                                {"kind": "added", "pointer": "/x", "breaking": False}],
                    "warnings": [{"message": "No $schema: read as JSON Schema 2020-12."}],
                },
            )  # fmt: skip
        return fake.handle(request)

    app = create_app(
        Settings(gateway_url="http://gateway.test"), transport=httpx.MockTransport(handle)
    )
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, raise_app_exceptions=False),
        base_url="http://portal.test",
        headers={"accept": "text/html"},
    ) as client:
        await sign_in(client, "admin@demo.gov")
        html = (await client.get("/admin/forms/snap")).text
        response = await client.post(
            "/admin/forms/snap/versions",
            data={"csrf_token": csrf_of(html)},
            files={"schema_file": ("schema.json", b'{"type": "object"}', "application/json")},
        )
    assert response.status_code == 201, response.text[-500:]
    assert "Removed a field an agreement shares." in response.text
    assert "<code>/x</code>: added" in response.text
    assert "No $schema: read as JSON Schema 2020-12." in response.text
