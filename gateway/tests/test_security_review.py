"""The fixes of the security review of 2026-11-26 (docs/gateway.md, "Security review"), each
on the fast path and the ASGI path alike (``start_pair``: two gateways, one with the fast
path off): per-address limits by network (an IPv6 /64 is one client), two Authorization
fields refused, every Connection field's names dropped, the deadline for request heads,
the server's own answers with the security headers, and /docs pinned with integrity."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
import re
import time
from typing import TYPE_CHECKING

from tellonce_gateway.clients import AddressKeys, address_key
from tellonce_gateway.config import Settings
from tellonce_shared.testing import eventually

if TYPE_CHECKING:
    from .conftest import GatewayFactory, PairFactory, Stack


def _split(base_url: str) -> tuple[str, int]:
    host, port = base_url.removeprefix("http://").split(":")
    return host, int(port)


async def talk(base_url: str, data: bytes) -> bytes:
    """Send ``data`` in one write and read until the gateway closes the connection."""
    reader, writer = await asyncio.open_connection(*_split(base_url))
    try:
        writer.write(data)
        await writer.drain()
        return await asyncio.wait_for(reader.read(-1), 5)
    finally:
        writer.close()


def status_of(answer: bytes) -> int:
    return int(answer[9:12])


def fields_of(answer: bytes) -> dict[str, str]:
    head = answer.partition(b"\r\n\r\n")[0].decode("latin-1")
    fields: dict[str, str] = {}
    for line in head.split("\r\n")[1:]:
        name, _, value = line.partition(":")
        fields[name.strip().lower()] = value.strip()
    return fields


def body_of(answer: bytes) -> bytes:
    return answer.partition(b"\r\n\r\n")[2]


def get(path: str, *fields: str, body: bytes | None = None, method: str = "GET") -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: gateway.test", *fields, "Connection: close"]
    if body is not None:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + (body or b"")


def sign_up(forwarded_for: str) -> bytes:
    return get(
        "/api/v1/identity/residents",
        "Content-Type: application/json",
        f"X-Forwarded-For: {forwarded_for}",  # the test client, 127.0.0.1, is a trusted proxy
        body=b"{}",
        method="POST",
    )


# -- 1. limits by network --------------------------------------------------------------------


def test_an_address_counts_by_its_network() -> None:
    assert address_key("192.0.2.7") == "addr:192.0.2.7"
    assert address_key("2001:db8:1:3::7") == "addr:2001:db8:1:3::/64"
    assert address_key("2001:0db8:0001:0003:ffff:ffff:ffff:ffff") == "addr:2001:db8:1:3::/64"
    assert address_key("2001:db8:1:4::7") == "addr:2001:db8:1:4::/64"
    assert address_key("::ffff:192.0.2.7") == "addr:192.0.2.7"  # a dual-stack socket's IPv4
    assert address_key("fe80::1%eth0") == "addr:fe80::/64"
    assert address_key("unknown") == "addr:unknown"
    keys = AddressKeys(max_size=2)
    for address in ("192.0.2.1", "2001:db8::1", "2001:db8::2", "192.0.2.1"):
        assert keys(address) == address_key(address)
        assert len(keys.keys) <= 2


async def test_addresses_inside_one_ipv6_slash64_share_the_limits(
    start_pair: PairFactory, access_lines: list[str]
) -> None:
    pair = await start_pair(auth_rate_limit_burst=3, rate_limit_burst=4, rate_limit_per_second=0.01)
    for base in (pair.fast, pair.slow):
        # The sign-up limit: three from three addresses of one /64, then the fourth refused.
        codes = [status_of(await talk(base, sign_up(f"2001:db8:1:3::{i}"))) for i in (1, 2, 3)]
        assert codes == [201, 201, 201]
        refused = await talk(base, sign_up("2001:db8:1:3:ffff:ffff:ffff:4"))
        assert status_of(refused) == 429
        assert int(fields_of(refused)["retry-after"]) >= 1
        assert status_of(await talk(base, sign_up("2001:db8:1:4::1"))) == 201  # another /64
        # An IPv4-mapped address is the IPv4 address.
        for _ in range(3):
            assert status_of(await talk(base, sign_up("::ffff:192.0.2.9"))) == 201
        assert status_of(await talk(base, sign_up("192.0.2.9"))) == 429
        # The general per-address limit (a burst of 4), another /64.
        answers = [
            status_of(await talk(base, get("/api/v1/forms/x", f"X-Forwarded-For: 2001:db8:9::{i}")))
            for i in range(1, 6)
        ]
        assert answers == [200, 200, 200, 200, 429]
        # Guessed tokens count against the network too.
        guess = get(
            "/api/v1/submissions", "Authorization: Bearer nope", "X-Forwarded-For: 2001:db8:9::99"
        )
        assert status_of(await talk(base, guess)) == 429
    assert True in pair.taken  # the fast path took its share
    await eventually(lambda: len(access_lines) >= 2 * 15, seconds=2.0)
    clients = {json.loads(line)["client"] for line in access_lines}
    assert "addr:2001:db8:1:3::/64" in clients
    assert "addr:2001:db8:9::/64" in clients
    assert "addr:192.0.2.9" in clients
    assert not any(client.startswith("addr:::ffff:") for client in clients)


# -- 3. two Authorization fields ---------------------------------------------------------------


async def test_two_authorization_fields_are_a_400_on_both_paths(
    stack: Stack, start_pair: PairFactory
) -> None:
    pair = await start_pair()
    alice, mallory = stack.tokens.token("alice"), stack.tokens.token("mallory")
    for base in (pair.fast, pair.slow):
        # Known tokens (so the fast path takes them): one is fine.
        one = get("/api/v1/submissions/echo/x", f"Authorization: Bearer {mallory}")
        assert status_of(await talk(base, one)) == 200
        one = get("/api/v1/submissions/echo/x", f"Authorization: Bearer {alice}")
        assert status_of(await talk(base, one)) == 200
        seen = len(stack.submissions.seen)
        two = get(
            "/api/v1/submissions/echo/x",
            f"Authorization: Bearer {alice}",
            f"Authorization: Bearer {mallory}",
        )
        answer = await talk(base, two)
        assert status_of(answer) == 400
        assert fields_of(answer)["content-type"] == "application/problem+json"
        assert b"more than one Authorization" in body_of(answer)
        # Basic (allowed to the identity service) next to a Bearer token: refused too.
        mixed = get(
            "/api/v1/identity/echo/x",
            "Authorization: Basic eDp5",
            f"Authorization: Bearer {alice}",
        )
        assert status_of(await talk(base, mixed)) == 400
        assert len(stack.submissions.seen) == seen  # the service never saw them
    assert pair.taken.count(True) == 2  # the two 400s (the tokens were new: verified in a task)


# -- 4. every Connection field -------------------------------------------------------------------


async def test_names_in_every_connection_field_are_hop_by_hop(
    stack: Stack, start_pair: PairFactory
) -> None:
    pair = await start_pair()
    for base in (pair.fast, pair.slow):
        request = get(
            "/api/v1/forms/echo/hop",
            "Connection: x-one",
            "Connection: keep-alive, X-Two",
            "X-One: 1",
            "X-Two: 2",
            "X-Three: 3",
        )
        answer = await talk(base, request)
        assert status_of(answer) == 200
        headers = json.loads(body_of(answer))["headers"]
        assert "x-one" not in headers
        assert "x-two" not in headers
        assert headers["x-three"] == "3"
    assert pair.taken == [True]


# -- 2. the deadline for request heads ----------------------------------------------------------


async def _closed_within(reader: asyncio.StreamReader, seconds: float) -> bytes:
    return await asyncio.wait_for(reader.read(-1), seconds)


def _assert_408(answer: bytes, request_id: str | None = None) -> None:
    assert answer.startswith(b"HTTP/1.1 408 Request Timeout\r\n")
    fields = fields_of(answer)
    assert fields["content-type"] == "application/problem+json"
    assert fields["connection"] == "close"
    assert fields["x-content-type-options"] == "nosniff"
    assert fields["x-frame-options"] == "DENY"
    assert "content-security-policy" in fields
    if request_id is None:
        assert re.fullmatch(r"[0-9a-f]{32}", fields["x-request-id"])
    else:
        assert fields["x-request-id"] == request_id
    problem = json.loads(body_of(answer))
    assert (problem["status"], problem["title"]) == (408, "Request timeout")


async def test_a_connection_that_sends_no_head_in_time_is_closed(
    start_pair: PairFactory,
) -> None:
    pair = await start_pair(header_timeout_seconds=0.3)
    for base in (pair.fast, pair.slow):
        # Nothing at all: closed, without an answer (there was no request to answer).
        reader, writer = await asyncio.open_connection(*_split(base))
        started = time.monotonic()
        assert await _closed_within(reader, 3) == b""
        assert time.monotonic() - started >= 0.25
        writer.close()
        # Half a head: a 408 (with the head's request id), then closed.
        reader, writer = await asyncio.open_connection(*_split(base))
        writer.write(b"GET /api/v1/forms/x HTTP/1.1\r\nX-Request-ID: review-0002\r\nHost: ")
        answer = await _closed_within(reader, 3)
        _assert_408(answer, "review-0002")
        writer.close()
        # A head trickling in, each piece in time: the deadline is the head's, not a piece's.
        reader, writer = await asyncio.open_connection(*_split(base))
        writer.write(b"GET /api/v1/forms/x HTTP/1.1\r\n")
        started = time.monotonic()

        async def trickle(writer: asyncio.StreamWriter = writer) -> None:
            with contextlib.suppress(ConnectionError):
                for _ in range(30):
                    await asyncio.sleep(0.1)
                    writer.write(b"X-Slow: 1\r\n")
                    await writer.drain()

        trickling = asyncio.create_task(trickle())
        _assert_408(await _closed_within(reader, 3))
        assert time.monotonic() - started < 1.5
        trickling.cancel()
        writer.close()
    assert pair.taken == []


async def test_the_head_deadline_leaves_requests_and_idle_kept_alive_connections_be(
    start_pair: PairFactory,
) -> None:
    pair = await start_pair(header_timeout_seconds=0.3)
    one = b"GET /api/v1/forms/one HTTP/1.1\r\nHost: gateway.test\r\n\r\n"
    slow = b"GET /api/v1/forms/slow?seconds=0.8 HTTP/1.1\r\nHost: gateway.test\r\n\r\n"
    for base in (pair.fast, pair.slow):
        reader, writer = await asyncio.open_connection(*_split(base))
        try:
            writer.write(one)
            assert (await _answer(reader)).startswith(b"HTTP/1.1 200 ")
            await asyncio.sleep(0.7)  # idle between requests: the keep-alive's business (30 s)
            writer.write(one)
            assert (await _answer(reader)).startswith(b"HTTP/1.1 200 ")
            # An answer that takes longer than the deadline, with half a head pipelined
            # behind it: the answer comes, then the late head gets its 408.
            writer.write(slow + b"GET /api/v1/forms/two HTTP/1.1\r\n")
            assert (await _answer(reader)).startswith(b"HTTP/1.1 200 ")
            _assert_408(await _closed_within(reader, 3))
        finally:
            writer.close()


async def _answer(reader: asyncio.StreamReader) -> bytes:
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    length = int(fields_of(head)["content-length"])
    return head + await reader.readexactly(length)


async def test_the_default_deadline_is_a_setting(start_gateway: GatewayFactory) -> None:
    assert Settings.model_fields["header_timeout_seconds"].default == 10.0
    base = await start_gateway()  # the default: a connection is not cut at once
    reader, writer = await asyncio.open_connection(*_split(base))
    writer.write(b"GET /api/v1/forms/x HTTP/1.1\r\n")
    await asyncio.sleep(0.5)
    writer.write(b"Host: gateway.test\r\nConnection: close\r\n\r\n")
    answer = await _closed_within(reader, 5)
    writer.close()
    assert answer.startswith(b"HTTP/1.1 200 ")


# -- 5b. the server's own answers ------------------------------------------------------------


async def test_the_servers_own_400_has_the_security_headers_and_a_request_id(
    start_pair: PairFactory,
) -> None:
    pair = await start_pair()
    for base in (pair.fast, pair.slow):
        answer = await talk(base, b"GET /api/v1/forms/x HTTP/1.1\r\nHost: x\r\nX-A : b\r\n\r\n")
        assert answer.startswith(b"HTTP/1.1 400 Bad Request\r\n")
        fields = fields_of(answer)
        assert fields["content-type"] == "application/problem+json"
        assert fields["x-content-type-options"] == "nosniff"
        assert fields["x-frame-options"] == "DENY"
        assert fields["referrer-policy"] == "same-origin"
        assert fields["content-security-policy"].startswith("default-src 'none'")
        assert re.fullmatch(r"[0-9a-f]{32}", fields["x-request-id"])
        assert int(fields["content-length"]) == len(body_of(answer))
        assert json.loads(body_of(answer))["status"] == 400
        # A well-formed request id the server had read before the garbled part is kept (a
        # field is read once the next one begins).
        garbled = b"GET / HTTP/1.1\r\nX-Request-ID: review-0001\r\nHost: x\r\nX-A : b\r\n\r\n"
        answer = await talk(base, garbled)
        assert fields_of(answer)["x-request-id"] == "review-0001"


# -- 5c. /docs ---------------------------------------------------------------------------------


async def test_docs_load_an_exact_swagger_ui_from_the_gateway_with_integrity(
    start_pair: PairFactory,
) -> None:
    """Swagger UI comes from the gateway itself, at a path naming its exact version, each
    file with Subresource Integrity that matches the bytes served; nothing from another
    origin (the CDN it came from before is out of reach where the internet is, and sent
    every visitor's address to a third party)."""
    pair = await start_pair()
    for base in (pair.fast, pair.slow):
        answer = await talk(base, get("/docs"))
        assert status_of(answer) == 200
        page = body_of(answer).decode()
        assert "https://" not in page
        tags = re.findall(r"<(?:script|link)\b[^>]*\bintegrity=[^>]*>", page)
        assert len(tags) == 2  # the stylesheet and the bundle
        for tag in tags:
            found = re.search(r'(?:src|href)="([^"]+)"', tag)
            assert found, tag
            url = found.group(1)
            assert re.fullmatch(r"/docs/swagger-ui-\d+\.\d+\.\d+/swagger-ui[-a-z]*\.(js|css)", url)
            integrity = re.search(r'integrity="sha384-([A-Za-z0-9+/]{64})"', tag)
            assert integrity, tag
            served = await talk(base, get(url))
            assert status_of(served) == 200, url
            fields = fields_of(served)
            assert fields["cache-control"] == "public, max-age=31536000, immutable"
            kind = "text/css" if url.endswith(".css") else "text/javascript"
            assert fields["content-type"].startswith(kind)
            digest = base64.b64encode(hashlib.sha384(body_of(served)).digest()).decode()
            assert digest == integrity.group(1), url  # what the browser will check
        csp = fields_of(answer)["content-security-policy"]
        assert "https:" not in csp
        assert "script-src 'self';" in csp
        assert "style-src 'self';" in csp
