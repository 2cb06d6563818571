"""Routing, header pass-through and streaming, over real sockets."""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import pytest
import pytest_asyncio

from tellonce_gateway.routes import TABLE

if TYPE_CHECKING:
    import httpx

    from .conftest import GatewayFactory, RawRequest, Stack, UpstreamFactory


@pytest_asyncio.fixture(params=["native", "aiohttp"])
async def gateway(request: pytest.FixtureRequest, start_gateway: GatewayFactory) -> str:
    """Every proxy behaviour holds for both upstream clients (GATEWAY_CLIENT)."""
    return str(await start_gateway(client=request.param))


async def test_each_prefix_reaches_its_service(
    stack: Stack, gateway: str, client: httpx.AsyncClient
) -> None:
    cases = {
        "/api/v1/forms/echo/x": "registry",
        "/api/v1/identity/echo/x": "identity",
        "/api/v1/submissions/echo/x": "submissions",
    }
    headers = stack.tokens.headers("someone")
    for path, service in cases.items():
        resp = await client.get(gateway + path, headers=headers)
        assert resp.status_code == 200, resp.text
        assert resp.headers["x-upstream"] == service
    portal = await client.get(gateway + "/")
    assert portal.status_code == 200
    assert portal.text.startswith("<!doctype html>")
    assert portal.headers["content-type"].startswith("text/html")


async def test_prefix_matches_whole_segments_only(
    stack: Stack, gateway: str, client: httpx.AsyncClient
) -> None:
    stack.portal.seen.clear()
    resp = await client.get(gateway + "/api/v1/formsX")
    # Not the registry: the portal (the catch-all) answers, here with its 404.
    assert resp.status_code == 404
    assert "x-upstream" not in resp.headers


async def test_discovery_and_jwks_pass_through(
    stack: Stack, gateway: str, client: httpx.AsyncClient
) -> None:
    jwks = await client.get(gateway + "/.well-known/jwks.json")
    assert jwks.status_code == 200
    assert jwks.json() == stack.tokens.jwks
    disco = await client.get(gateway + "/.well-known/openid-configuration")
    assert disco.json()["issuer"] == stack.tokens.issuer


async def test_request_headers_path_and_query_pass_through(
    stack: Stack, gateway: str, client: httpx.AsyncClient
) -> None:
    stack.registry.seen.clear()
    resp = await client.get(
        gateway + "/api/v1/forms/echo/a%2Fb?q=caf%C3%A9&x=1&x=2",
        headers={
            "X-Custom": "yes",
            "Accept-Language": "es",
            "Connection": "keep-alive, X-Secret-Hop",
            "X-Secret-Hop": "must not pass",
            "X-Forwarded-For": "6.6.6.6",
            "Cookie": "session=abc",
        },
    )
    assert resp.status_code == 200
    seen = stack.registry.seen[-1]
    h = seen["headers"]
    assert h["x-custom"] == "yes"
    assert h["accept-language"] == "es"
    assert h["cookie"] == "session=abc"
    assert "x-secret-hop" not in h
    assert "keep-alive" not in h
    # The test client is on 127.0.0.1, a trusted proxy by default: its claim is kept, and
    # the peer appended, like nginx's $proxy_add_x_forwarded_for.
    assert h["x-forwarded-for"] == "6.6.6.6, 127.0.0.1"
    assert h["x-forwarded-proto"] == "http"
    assert h["x-forwarded-host"] == gateway.removeprefix("http://")
    assert h["host"] == stack.registry.url.removeprefix("http://")
    assert seen["raw_path"] == "/api/v1/forms/echo/a%2Fb"
    assert seen["query"] == "q=caf%C3%A9&x=1&x=2"


async def test_untrusted_peer_cannot_forge_forwarded_for(
    stack: Stack, start_gateway: GatewayFactory, client: httpx.AsyncClient
) -> None:
    gateway = await start_gateway(trusted_proxies=[])
    stack.registry.seen.clear()
    await client.get(gateway + "/api/v1/forms/echo/x", headers={"X-Forwarded-For": "6.6.6.6"})
    assert stack.registry.seen[-1]["headers"]["x-forwarded-for"] == "127.0.0.1"


async def test_response_status_headers_and_cookies_pass_through(
    gateway: str, client: httpx.AsyncClient
) -> None:
    resp = await client.get(gateway + "/api/v1/forms/fancy")
    assert resp.status_code == 203
    assert resp.json() == {"ok": True}
    assert resp.headers["content-type"] == "application/json"
    assert resp.headers["x-custom"] == "kept"
    assert resp.headers["cache-control"] == "no-store"
    assert resp.headers.get_list("set-cookie") == [
        "a=1; Path=/; SameSite=lax",
        "b=2; Path=/; SameSite=lax",
    ]
    assert "x-hop" not in resp.headers  # listed in the service's Connection header
    assert "keep-alive" not in resp.headers
    assert "server" not in resp.headers
    assert len(resp.headers.get_list("date")) == 1


async def test_service_errors_keep_their_status_and_type(
    gateway: str, client: httpx.AsyncClient
) -> None:
    resp = await client.get(gateway + "/api/v1/forms/missing")
    assert resp.status_code == 404
    assert resp.headers["content-type"] == "application/problem+json"
    assert resp.json()["title"] == "Not found"


async def test_request_body_streams_to_the_service_intact(
    stack: Stack, gateway: str, client: httpx.AsyncClient
) -> None:
    headers = stack.tokens.headers("uploader")
    small = b'{"answers": {"name": "Ana"}}'
    resp = await client.post(gateway + "/api/v1/drafts/echo/x", content=small, headers=headers)
    assert resp.json()["sha256"] == hashlib.sha256(small).hexdigest()
    assert resp.json()["headers"]["content-length"] == str(len(small))

    big = bytes(range(256)) * 3200  # 800 KiB: over the buffering size, streamed
    resp = await client.post(gateway + "/api/v1/drafts/echo/x", content=big, headers=headers)
    assert resp.json()["size"] == len(big)
    assert resp.json()["sha256"] == hashlib.sha256(big).hexdigest()

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(10):
            yield b"z" * 50_000

    resp = await client.post(gateway + "/api/v1/drafts/echo/x", content=chunks(), headers=headers)
    assert resp.json()["size"] == 500_000
    assert resp.json()["headers"].get("transfer-encoding") == "chunked"


async def test_large_response_streams_back_intact(gateway: str, client: httpx.AsyncClient) -> None:
    digest = hashlib.sha256()
    expected = hashlib.sha256()
    for i in range(3 * 16):
        expected.update(bytes([i % 256]) * 65536)
    async with client.stream("GET", gateway + "/api/v1/forms/big?megabytes=3") as resp:
        assert resp.status_code == 200
        async for chunk in resp.aiter_raw():
            digest.update(chunk)
    assert digest.hexdigest() == expected.hexdigest()


async def test_response_is_streamed_not_buffered(gateway: str, client: httpx.AsyncClient) -> None:
    started = time.perf_counter()
    async with client.stream("GET", gateway + "/api/v1/forms/trickle") as resp:
        chunks = resp.aiter_raw()
        first = await chunks.__anext__()
        first_at = time.perf_counter() - started
        rest = b"".join([c async for c in chunks])
    assert first.startswith(b"first,")
    assert first_at < 0.5, "the first chunk waited for the whole body"
    assert (first + rest) == b"first,second"


async def test_head_and_methods_pass_through(
    stack: Stack, gateway: str, client: httpx.AsyncClient
) -> None:
    headers = stack.tokens.headers("m")
    resp = await client.head(gateway + "/api/v1/forms/echo/x", headers=headers)
    assert resp.status_code == 200
    assert resp.content == b""
    resp = await client.delete(gateway + "/api/v1/forms/echo/x", headers=headers)
    assert resp.json()["method"] == "DELETE"


async def test_dot_segments_are_refused(stack: Stack, gateway: str, raw: RawRequest) -> None:
    stack.submissions.seen.clear()
    answer = await raw(
        gateway,
        b"GET /api/v1/forms/../submissions/echo/x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    assert answer.startswith(b"HTTP/1.1 400 ")
    assert b"application/problem+json" in answer
    assert stack.submissions.seen == []


def test_routing_table_matches_architecture() -> None:
    prefixes = {prefix.rstrip("/"): upstream for prefix, upstream, _ in TABLE}
    expected = {
        "/.well-known": "identity",
        "/api/v1/identity": "identity",
        "/api/v1/agencies": "registry",
        "/api/v1/elements": "registry",
        "/api/v1/forms": "registry",
        "/api/v1/agreements": "registry",
        "/api/v1/audit": "registry",
        "/api/v1/priorities": "registry",
        "/api/v1/referral-rules": "registry",
        "/api/v1/submissions": "submissions",
        "/api/v1/drafts": "submissions",
        "/api/v1/profile": "submissions",
        "/api/v1/deliveries": "submissions",
        "/api/v1/performance": "submissions",
        "/api/v1/referrals": "submissions",
        "": "portal",
    }
    for prefix, upstream in expected.items():
        assert prefixes[prefix] == upstream


async def test_connections_to_a_service_are_kept_alive(
    stack: Stack, gateway: str, client: httpx.AsyncClient
) -> None:
    stack.registry.seen.clear()
    for _ in range(10):
        assert (await client.get(gateway + "/api/v1/forms/echo/k")).status_code == 200
    ports = {entry["client_port"] for entry in stack.registry.seen}
    assert len(ports) <= 2, ports


@pytest.mark.parametrize("kind", ["native", "aiohttp"])
async def test_a_connection_the_service_closed_while_idle_is_retried(
    kind: str,
    start_gateway: GatewayFactory,
    extra_upstream: UpstreamFactory,
    client: httpx.AsyncClient,
) -> None:
    # The service drops idle connections after 1 s; the gateway would keep them for 30 s.
    registry = await extra_upstream("registry", keep_alive=1)
    gateway = await start_gateway(client=kind, registry_url=registry.url, keepalive_seconds=30)
    for _ in range(3):
        resp = await client.get(gateway + "/api/v1/forms/echo/idle")
        assert resp.status_code == 200
        await asyncio.sleep(1.3)
    assert len(registry.seen) == 3
