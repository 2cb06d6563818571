"""Request ids, the access log, security headers, CORS, health, metrics and OpenAPI."""

from __future__ import annotations

import json
import socket
from typing import TYPE_CHECKING

import pytest

from tellonce_shared.testing import eventually

if TYPE_CHECKING:
    import httpx

    from .conftest import GatewayFactory, Stack

# -- request ids -------------------------------------------------------------------------


async def test_a_well_formed_request_id_is_kept_passed_on_and_returned(
    stack: Stack, gateway: str, client: httpx.AsyncClient
) -> None:
    rid = "req-2026-11-25-abcdef"
    resp = await client.get(gateway + "/api/v1/forms/echo/x", headers={"X-Request-ID": rid})
    assert resp.headers["x-request-id"] == rid
    assert resp.json()["headers"]["x-request-id"] == rid
    assert resp.headers.get_list("x-request-id") == [rid]


async def test_a_malformed_or_missing_request_id_is_replaced(
    gateway: str, client: httpx.AsyncClient
) -> None:
    bad = await client.get(
        gateway + "/api/v1/forms/echo/x", headers={"X-Request-ID": "bad id with spaces"}
    )
    made = bad.headers["x-request-id"]
    assert made != "bad id with spaces"
    assert bad.json()["headers"]["x-request-id"] == made
    none = await client.get(gateway + "/api/v1/forms/echo/x")
    assert len(none.headers["x-request-id"]) >= 16
    assert none.headers["x-request-id"] != made


async def test_errors_made_by_the_gateway_carry_the_request_id(
    gateway: str, client: httpx.AsyncClient
) -> None:
    resp = await client.get(gateway + "/api/v1/submissions", headers={"X-Request-ID": "abc12345"})
    assert resp.status_code == 401
    assert resp.headers["x-request-id"] == "abc12345"


# -- access log --------------------------------------------------------------------------


async def test_one_access_line_per_request_without_secrets(
    stack: Stack, gateway: str, client: httpx.AsyncClient, access_lines: list[str]
) -> None:
    token = stack.tokens.token("logged-user")
    await client.post(
        gateway + "/api/v1/drafts/echo/x?access_token=sneaky",
        content=b'{"password": "hunter2-hunter2"}',
        headers={"Authorization": f"Bearer {token}", "X-Request-ID": "log-test-0001"},
    )
    await eventually(lambda: any("log-test-0001" in line for line in access_lines))
    lines = [json.loads(line) for line in access_lines]
    mine = [line for line in lines if line.get("request_id") == "log-test-0001"]
    assert len(mine) == 1
    entry = mine[0]
    assert entry["method"] == "POST"
    assert entry["route"] == "/api/v1/drafts"
    assert entry["status"] == 200
    assert entry["upstream"] == "submissions"
    assert entry["client"] == "sub:logged-user"
    assert isinstance(entry["duration_ms"], float)
    raw = "\n".join(access_lines)
    assert token not in raw
    assert "hunter2" not in raw
    assert "sneaky" not in raw


# -- security headers and CORS -----------------------------------------------------------


async def test_security_headers_on_proxied_portal_api_and_error_responses(
    gateway: str, client: httpx.AsyncClient
) -> None:
    portal = await client.get(gateway + "/")
    api = await client.get(gateway + "/api/v1/forms/benefits")
    error = await client.get(gateway + "/api/v1/submissions")
    for resp in (portal, api, error):
        assert resp.headers["x-content-type-options"] == "nosniff"
        assert resp.headers["x-frame-options"] == "DENY"
        assert resp.headers["referrer-policy"] == "same-origin"
        assert "frame-ancestors 'none'" in resp.headers["content-security-policy"]
        assert "strict-transport-security" not in resp.headers  # local mode: plain HTTP
    csp = portal.headers["content-security-policy"]
    assert "script-src 'self'" in csp
    assert "unsafe-inline" not in csp
    assert api.headers["content-security-policy"].startswith("default-src 'none'")


async def test_under_plain_uvicorn_the_gateway_sends_plain_asgi(
    stack: Stack, client: httpx.AsyncClient
) -> None:
    """Served by uvicorn's own protocol (no ``tellonce.gateway`` extension), the gateway
    sends standard messages: the same headers and bodies."""
    from tellonce_gateway.main import create_app

    from .conftest import serve

    running = await serve(create_app(stack.settings()), gateway=False)
    try:
        api = await client.get(running.url + "/api/v1/forms/echo/a%2Fb?x=1")
        error = await client.get(running.url + "/api/v1/submissions")
        for resp in (api, error):
            assert resp.headers["x-content-type-options"] == "nosniff"
            assert resp.headers["x-frame-options"] == "DENY"
            assert resp.headers["referrer-policy"] == "same-origin"
            assert resp.headers["content-security-policy"].startswith("default-src 'none'")
            assert resp.headers["x-request-id"]
        assert api.status_code == 200, api.text
        assert api.json()["query"] == "x=1", api.text
        assert error.status_code == 401
    finally:
        await running.stop()


async def test_hsts_in_production(start_gateway: GatewayFactory, client: httpx.AsyncClient) -> None:
    gateway = await start_gateway(mode="production")
    resp = await client.get(gateway + "/healthz")
    assert resp.headers["strict-transport-security"].startswith("max-age=")


async def test_cors_is_closed_by_default(gateway: str, client: httpx.AsyncClient) -> None:
    origin = {"Origin": "https://evil.example"}
    resp = await client.get(gateway + "/api/v1/forms/benefits", headers=origin)
    assert "access-control-allow-origin" not in resp.headers
    pre = await client.options(
        gateway + "/api/v1/forms/benefits",
        headers={**origin, "Access-Control-Request-Method": "POST"},
    )
    assert pre.status_code == 403
    assert "access-control-allow-origin" not in pre.headers


async def test_cors_opens_per_configured_origin(
    start_gateway: GatewayFactory, client: httpx.AsyncClient
) -> None:
    gateway = await start_gateway(cors_origins=["https://forms.state.example"])
    ok = {"Origin": "https://forms.state.example"}
    pre = await client.options(
        gateway + "/api/v1/submissions",
        headers={
            **ok,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, idempotency-key",
        },
    )
    assert pre.status_code == 204
    assert pre.headers["access-control-allow-origin"] == "https://forms.state.example"
    assert "Idempotency-Key" in pre.headers["access-control-allow-headers"]
    resp = await client.get(gateway + "/api/v1/forms/benefits", headers=ok)
    assert resp.headers["access-control-allow-origin"] == "https://forms.state.example"
    assert "X-Request-ID" in resp.headers["access-control-expose-headers"]
    other = await client.get(
        gateway + "/api/v1/forms/benefits", headers={"Origin": "https://other.example"}
    )
    assert "access-control-allow-origin" not in other.headers


# -- health, readiness, metrics ----------------------------------------------------------


async def test_healthz_and_readyz_with_every_service_up(
    gateway: str, client: httpx.AsyncClient
) -> None:
    assert (await client.get(gateway + "/healthz")).json() == {"status": "ok"}
    ready = await client.get(gateway + "/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {
        "identity": "ok",
        "registry": "ok",
        "submissions": "ok",
        "portal": "ok",
    }


async def test_readyz_names_the_service_that_is_down(
    start_gateway: GatewayFactory, client: httpx.AsyncClient
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    gateway = await start_gateway(submissions_url=f"http://127.0.0.1:{port}")
    ready = await client.get(gateway + "/readyz")
    assert ready.status_code == 503
    checks = ready.json()["checks"]
    assert checks["submissions"].startswith("unavailable")
    assert checks["registry"] == "ok"


async def test_metrics_per_route_and_upstream(
    start_gateway: GatewayFactory, client: httpx.AsyncClient
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    gateway = await start_gateway(portal_url=f"http://127.0.0.1:{port}")
    await client.get(gateway + "/api/v1/forms/benefits")
    await client.get(gateway + "/some/portal/page")  # portal down: an upstream error
    text = (await client.get(gateway + "/metrics")).text
    assert (
        'tellonce_http_requests_total{method="GET",route="/api/v1/forms",'
        'service="gateway",status="200"}' in text
    )
    assert 'tellonce_gateway_upstream_duration_seconds_bucket{le="0.005",upstream="registry"}' in (
        text
    )
    assert 'tellonce_gateway_upstream_errors_total{kind="down",upstream="portal"}' in text


async def test_a_scrape_sees_every_request_answered_before_it(
    gateway: str, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tellonce_gateway.ledger import LEDGER

    monkeypatch.setattr(LEDGER, "hold_seconds", 60.0)  # nothing settles by itself meanwhile
    before = (await client.get(gateway + "/metrics")).text
    await client.get(gateway + "/api/v1/forms/benefits/scrape")
    assert len(LEDGER) > 0  # noted, not yet written
    after = (await client.get(gateway + "/metrics")).text

    def served(text: str) -> float:
        prefix = 'tellonce_http_requests_total{method="GET",route="/api/v1/forms",'
        return sum(
            float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(prefix)
        )

    assert served(after) == served(before) + 1


# -- OpenAPI -----------------------------------------------------------------------------


async def test_openapi_merges_every_service(gateway: str, client: httpx.AsyncClient) -> None:
    doc = (await client.get(gateway + "/openapi.json")).json()
    paths = doc["paths"]
    assert "/api/v1/forms/{slug}" in paths  # registry
    assert "/api/v1/identity/token" in paths  # identity
    assert "/api/v1/submissions" in paths  # submissions
    assert "/.well-known/jwks.json" in paths
    # Each test upstream also serves the other prefixes; only the owner's copy is kept.
    assert "x-unavailable-services" not in doc
    assert doc["info"]["title"] == "Tell-Once Forms Hub API"


async def test_openapi_tolerates_a_service_being_down(
    start_gateway: GatewayFactory, client: httpx.AsyncClient
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    gateway = await start_gateway(registry_url=f"http://127.0.0.1:{port}")
    resp = await client.get(gateway + "/openapi.json")
    assert resp.status_code == 200
    doc = resp.json()
    assert doc["x-unavailable-services"] == ["registry"]
    assert "/api/v1/identity/token" in doc["paths"]
    assert not any(p.startswith("/api/v1/forms") for p in doc["paths"])


async def test_docs_page_loads_the_merged_document_without_inline_script(
    gateway: str, client: httpx.AsyncClient
) -> None:
    page = await client.get(gateway + "/docs")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert '<script src="/docs/init.js"></script>' in page.text
    init = await client.get(gateway + "/docs/init.js")
    assert 'url: "/openapi.json"' in init.text
    assert "'unsafe-inline'" not in page.headers["content-security-policy"]


async def test_the_gateways_own_pages_answer_only_get_and_head(
    gateway: str, client: httpx.AsyncClient
) -> None:
    for path in ("/healthz", "/readyz", "/metrics", "/openapi.json", "/docs"):
        for method in ("POST", "PUT", "DELETE", "TRACE"):
            resp = await client.request(method, gateway + path)
            assert resp.status_code == 405, (method, path)
            assert resp.headers["allow"] == "GET, HEAD"
            assert resp.headers["content-type"] == "application/problem+json"
        assert (await client.head(gateway + path)).status_code == 200, path
