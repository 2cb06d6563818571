"""Edge checks a client sees: tokens, rate limits, body limits, timeouts, a dead service."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import httpx
import pytest

from tellonce_shared.testing import TokenFactory

if TYPE_CHECKING:
    from .conftest import GatewayFactory, RawRequest, Stack

PROBLEM = "application/problem+json"


def assert_problem(resp: httpx.Response, status: int) -> dict[str, object]:
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"] == PROBLEM
    body = resp.json()
    assert body["status"] == status
    assert body["type"].startswith("https://")
    assert body["detail"]
    return dict(body)


# -- tokens ------------------------------------------------------------------------------


async def test_private_routes_need_a_token_before_the_service_is_called(
    stack: Stack, gateway: str, client: httpx.AsyncClient
) -> None:
    stack.submissions.seen.clear()
    for path in ("/api/v1/submissions", "/api/v1/drafts/echo/x", "/api/v1/identity/me"):
        resp = await client.get(gateway + path)
        assert_problem(resp, 401)
        assert resp.headers["www-authenticate"].startswith("Bearer")
    assert stack.submissions.seen == []


async def test_a_bad_token_is_rejected_at_the_edge(
    stack: Stack, gateway: str, client: httpx.AsyncClient
) -> None:
    stack.registry.seen.clear()
    stranger = TokenFactory()  # signs with a key the identity service never published
    expired = stack.tokens.token("old", lifetime=-120)
    for headers in (
        {"Authorization": "Bearer not-a-jwt"},
        {"Authorization": "Bearer"},
        {"Authorization": "Token abc"},
        stranger.headers("intruder"),
        {"Authorization": f"Bearer {expired}"},
    ):
        # Even on a public catalog read: a token that is sent must be valid.
        resp = await client.get(gateway + "/api/v1/forms/echo/x", headers=headers)
        assert_problem(resp, 401)
    assert stack.registry.seen == []


async def test_a_valid_token_passes_and_reaches_the_service(
    stack: Stack, gateway: str, client: httpx.AsyncClient
) -> None:
    headers = stack.tokens.headers("resident-1", role="resident")
    resp = await client.get(gateway + "/api/v1/submissions", headers=headers)
    assert resp.status_code == 200
    # The service gets the token itself, to check it again.
    assert resp.json()["headers"]["authorization"] == headers["Authorization"]


async def test_public_reads_and_sign_up_need_no_token(
    gateway: str, client: httpx.AsyncClient
) -> None:
    assert (await client.get(gateway + "/api/v1/forms/benefits")).status_code == 200
    resp = await client.post(
        gateway + "/api/v1/identity/residents",
        json={"email": "a@b.c", "password": "x" * 16, "full_name": "A"},
    )
    assert resp.status_code == 201


async def test_catalog_writes_need_a_token(
    stack: Stack, gateway: str, client: httpx.AsyncClient
) -> None:
    resp = await client.post(gateway + "/api/v1/forms/benefits/versions", json={})
    assert_problem(resp, 401)
    resp = await client.post(
        gateway + "/api/v1/forms/benefits/versions",
        json={},
        headers=stack.tokens.headers("admin-1", role="admin"),
    )
    assert resp.status_code == 201


# -- rate limits -------------------------------------------------------------------------


async def test_one_client_over_the_limit_gets_429_with_retry_after(
    stack: Stack, start_gateway: GatewayFactory, client: httpx.AsyncClient
) -> None:
    # A low steady rate, so the result does not hang on how fast this machine is today.
    gateway = await start_gateway(rate_limit_per_second=5, rate_limit_burst=200)
    headers = stack.tokens.headers("busy-client")
    statuses: list[int] = []
    retry_after: set[str] = set()
    sem = asyncio.Semaphore(16)

    async def one() -> None:
        async with sem:
            resp = await client.get(gateway + "/api/v1/forms/benefits", headers=headers)
        statuses.append(resp.status_code)
        if resp.status_code == 429:
            assert resp.headers["content-type"] == PROBLEM
            retry_after.add(resp.headers["retry-after"])

    started = time.monotonic()
    await asyncio.gather(*(one() for _ in range(1000)))
    elapsed = time.monotonic() - started
    allowed = statuses.count(200)
    assert statuses.count(429) + allowed == 1000
    # The burst of 200 plus at most 5 per second of the run, and not less.
    assert 200 <= allowed <= 200 + 5 * elapsed + 2
    assert retry_after
    assert all(int(v) >= 1 for v in retry_after)
    # Another client is not affected by the first one's flood.
    other = await client.get(
        gateway + "/api/v1/forms/benefits", headers=stack.tokens.headers("quiet-client")
    )
    assert other.status_code == 200


async def test_the_token_endpoint_and_sign_up_have_a_stricter_limit(
    stack: Stack, start_gateway: GatewayFactory, client: httpx.AsyncClient
) -> None:
    gateway = await start_gateway(auth_rate_limit_per_minute=6, auth_rate_limit_burst=3)
    statuses = []
    for _ in range(3):
        resp = await client.post(
            gateway + "/api/v1/identity/token", data={"grant_type": "password"}
        )
        statuses.append(resp.status_code)
    assert statuses == [200, 200, 200]
    blocked = await client.post(gateway + "/api/v1/identity/token", data={"a": "b"})
    assert_problem(blocked, 429)
    assert 1 <= int(blocked.headers["retry-after"]) <= 10
    signup = await client.post(gateway + "/api/v1/identity/residents", json={})
    assert_problem(signup, 429)
    # Ordinary reads from the same address are still served.
    assert (await client.get(gateway + "/api/v1/forms/benefits")).status_code == 200


async def test_guessing_tokens_is_rate_limited_too(
    start_gateway: GatewayFactory, client: httpx.AsyncClient
) -> None:
    gateway = await start_gateway(rate_limit_per_second=1, rate_limit_burst=5)
    codes = [
        (
            await client.get(gateway + "/api/v1/forms/x", headers={"Authorization": "Bearer guess"})
        ).status_code
        for _ in range(8)
    ]
    assert codes[:5] == [401] * 5
    assert 429 in codes[5:]


# -- body limits -------------------------------------------------------------------------


async def test_declared_oversize_body_is_refused_before_it_is_read(
    stack: Stack, gateway: str, raw: RawRequest
) -> None:
    stack.registry.completed_bodies = 0
    # Only the headers are sent: the answer must come without waiting for 2 MiB.
    answer = await raw(
        gateway,
        b"POST /api/v1/forms/echo/x HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: 2097152\r\n\r\n{",
        read_timeout=2.0,
    )
    assert answer.startswith(b"HTTP/1.1 413 ")
    assert b"application/problem+json" in answer
    assert stack.registry.completed_bodies == 0


@pytest.mark.parametrize("kind", ["native", "aiohttp"])
async def test_streamed_oversize_body_without_length_is_cut_off(
    kind: str, stack: Stack, start_gateway: GatewayFactory, client: httpx.AsyncClient
) -> None:
    gateway = await start_gateway(client=kind)
    before = stack.submissions.completed_bodies

    async def two_mebibytes() -> AsyncIterator[bytes]:
        for _ in range(32):
            yield b"x" * 65536

    resp = await client.post(
        gateway + "/api/v1/drafts/echo/x",
        content=two_mebibytes(),
        headers=stack.tokens.headers("uploader"),
    )
    assert_problem(resp, 413)
    await asyncio.sleep(0.1)
    assert stack.submissions.completed_bodies == before


async def test_malformed_content_length_is_a_400(gateway: str, raw: RawRequest) -> None:
    answer = await raw(
        gateway,
        b"POST /api/v1/forms/echo/x HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n"
        b"Connection: close\r\n\r\n",
    )
    assert answer.split(b" ")[1] in (b"400",)


# -- timeouts and dead services ----------------------------------------------------------


@pytest.mark.parametrize("kind", ["native", "aiohttp"])
async def test_a_slow_service_gives_504_after_the_route_timeout(
    kind: str, start_gateway: GatewayFactory, client: httpx.AsyncClient
) -> None:
    gateway = await start_gateway(client=kind, route_timeouts={"/api/v1/forms": 0.3})
    started = time.monotonic()
    resp = await client.get(gateway + "/api/v1/forms/slow?seconds=3")
    elapsed = time.monotonic() - started
    assert_problem(resp, 504)
    assert elapsed < 1.5
    # A quick answer on the same route is unaffected.
    fast = await client.get(gateway + "/api/v1/forms/slow?seconds=0.05")
    assert fast.status_code == 200


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize("kind", ["native", "aiohttp"])
async def test_a_dead_service_gives_503_quickly(
    kind: str, start_gateway: GatewayFactory, client: httpx.AsyncClient
) -> None:
    dead = f"http://127.0.0.1:{_closed_port()}"
    gateway = await start_gateway(client=kind, registry_url=dead)
    started = time.monotonic()
    resp = await client.get(gateway + "/api/v1/forms")
    elapsed = time.monotonic() - started
    body = assert_problem(resp, 503)
    assert "registry" in str(body["detail"])
    assert resp.headers["retry-after"]
    assert elapsed < 1.0
    # The other services are still reachable through the same gateway.
    assert (await client.get(gateway + "/.well-known/jwks.json")).status_code == 200


async def test_a_service_that_accepts_but_never_answers_gives_504(
    start_gateway: GatewayFactory, client: httpx.AsyncClient
) -> None:
    held: list[asyncio.StreamWriter] = []

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)  # read nothing, answer nothing

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        gateway = await start_gateway(
            registry_url=f"http://127.0.0.1:{port}", route_timeouts={"/api/v1/forms": 0.3}
        )
        started = time.monotonic()
        resp = await client.get(gateway + "/api/v1/forms")
        assert_problem(resp, 504)
        assert time.monotonic() - started < 1.5
    finally:
        for writer in held:
            writer.close()
        server.close()
        await server.wait_closed()


async def test_identity_down_means_tokens_cannot_be_checked_503_not_500(
    stack: Stack, start_gateway: GatewayFactory, client: httpx.AsyncClient
) -> None:
    gateway = await start_gateway(identity_url=f"http://127.0.0.1:{_closed_port()}")
    resp = await client.get(gateway + "/api/v1/forms/x", headers=stack.tokens.headers("u"))
    assert_problem(resp, 503)


async def _raw_upstream(answer: bytes) -> tuple[asyncio.Server, str]:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(answer)
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server, f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"


@pytest.mark.parametrize("kind", ["native", "aiohttp"])
async def test_a_garbled_answer_gives_502(
    kind: str, start_gateway: GatewayFactory, client: httpx.AsyncClient
) -> None:
    server, url = await _raw_upstream(b"HELLO THERE\r\n\r\n")
    try:
        gateway = await start_gateway(client=kind, registry_url=url)
        resp = await client.get(gateway + "/api/v1/forms")
        assert_problem(resp, 502)
    finally:
        server.close()
        await server.wait_closed()


@pytest.mark.parametrize("kind", ["native", "aiohttp"])
async def test_an_answer_cut_short_reaches_the_client_cut_short(
    kind: str, start_gateway: GatewayFactory, client: httpx.AsyncClient
) -> None:
    server, url = await _raw_upstream(
        b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 3000000\r\n\r\n"
        + b"x" * 1000
    )
    try:
        gateway = await start_gateway(client=kind, registry_url=url)
        with pytest.raises(httpx.RemoteProtocolError):
            await client.get(gateway + "/api/v1/forms")
    finally:
        server.close()
        await server.wait_closed()


@pytest.mark.parametrize("kind", ["native", "aiohttp"])
async def test_a_small_answer_cut_short_is_a_clean_502(
    kind: str, start_gateway: GatewayFactory, client: httpx.AsyncClient
) -> None:
    # A small answer is held until all of it is in, so the gateway can still say so.
    server, url = await _raw_upstream(
        b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 5000\r\n\r\n"
        + b"x" * 1000
    )
    try:
        gateway = await start_gateway(client=kind, registry_url=url)
        assert_problem(await client.get(gateway + "/api/v1/forms"), 502)
    finally:
        server.close()
        await server.wait_closed()
