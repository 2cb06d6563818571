"""The fast path (a request that is all in after one read, answered from callbacks without a
task, ``Gateway.fast_path``) against the ASGI path it bypasses: the same answers byte for
byte (but for ``Date``), the same access log lines; and the requests it does not take (a
chunked body, a token not verified yet, the gateway's own endpoints) still work."""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING

from tellonce_gateway.app import Gateway
from tellonce_gateway.main import create_app
from tellonce_shared.auth import TokenVerifier
from tellonce_shared.testing import eventually

if TYPE_CHECKING:
    from .conftest import PairFactory, Stack

RID = "fast-path-test-0001"


async def exchange(base_url: str, request: bytes) -> bytes:
    """Send one request in one write (``Connection: close``) and read the answer to the end,
    with its ``Date`` line taken out."""
    host, port = base_url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        writer.write(request)
        await writer.drain()
        answer = await asyncio.wait_for(reader.read(-1), 10)
    finally:
        writer.close()
    head, sep, body = answer.partition(b"\r\n\r\n")
    lines = [line for line in head.split(b"\r\n") if not line.lower().startswith(b"date:")]
    if b"transfer-encoding: chunked" in head.lower():  # chunk sizes follow the reads: decode
        body = dechunk(body)
    if body.startswith(b"{") and b'"client_port"' in body:  # the echo names its peer's port
        doc = json.loads(body)
        doc.pop("client_port")
        body = json.dumps(doc).encode()
    return b"\r\n".join(lines) + sep + body


def dechunk(body: bytes) -> bytes:
    out: list[bytes] = []
    while True:
        size_line, _, body = body.partition(b"\r\n")
        size = int(size_line, 16)
        if not size:
            return b"".join(out)
        out.append(body[:size])
        body = body[size + 2 :]


def request(
    method: str, target: str, body: bytes | None = None, headers: tuple[str, ...] = ()
) -> bytes:
    lines = [f"{method} {target} HTTP/1.1", "Host: gateway.test", f"X-Request-ID: {RID}"]
    lines += [*headers, "Connection: close"]
    if body is not None:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + (body or b"")


async def test_fast_and_asgi_paths_give_the_same_answers(
    stack: Stack, start_pair: PairFactory
) -> None:
    pair = await start_pair(cors_origins=["https://app.example"])
    token = stack.tokens.token("resident-1")
    bearer = f"Authorization: Bearer {token}"
    preflight = (
        "Origin: https://app.example",
        "Access-Control-Request-Method: POST",
    )
    cases = [
        request("GET", "/api/v1/forms/benefits"),
        request("GET", "/api/v1/forms/echo/a%20b?x=1&y=%C3%A9", headers=("Accept: */*",)),
        request("GET", "/api/v1/forms/fancy"),
        request("GET", "/api/v1/forms/missing"),
        request("HEAD", "/api/v1/forms/echo/head"),
        request("GET", "/"),
        request("GET", "/api/v1/forms/echo/cors", headers=("Origin: https://app.example",)),
        request("GET", "/api/v1/forms/echo/x", headers=("Connection: x-secret", "X-Secret: 1")),
        request("POST", "/api/v1/forms/echo/post", b'{"a": 1}', (bearer,)),
        request("POST", "/api/v1/forms/echo/post", b'{"a": 2}', (bearer,)),  # token known now
        request("POST", "/api/v1/forms/echo/post", b"{}"),  # 401: a token is required
        request("POST", "/api/v1/forms/echo/x", b"{}", ("Authorization: Basic eDp5",)),  # 401
        request("POST", "/api/v1/forms/echo/x", b"{}", (bearer, bearer)),  # 400: two of them
        request("GET", "/api/v1/forms/./x"),  # 400: dot segments
        request("OPTIONS", "/api/v1/forms", headers=preflight),  # 204
        request(
            "OPTIONS", "/api/v1/forms", headers=("Origin: https://evil.example", *preflight[1:])
        ),
        request("POST", "/api/v1/forms", b"x" * 10, ("Content-Length: 10",)),  # 400: two lengths
        request("GET", "/api/v1/forms/big?megabytes=1"),  # streamed: finished in a task
        request("GET", "/api/v1/forms/trickle"),
        request("GET", "/healthz"),
    ]
    for case in cases:
        fast = await exchange(pair.fast, case)
        slow = await exchange(pair.slow, case)
        assert fast == slow, case
    assert pair.taken.count(True) >= 12  # most of them took the fast path


async def test_a_service_that_is_down_is_a_503_either_way(
    stack: Stack, start_pair: PairFactory
) -> None:
    pair = await start_pair(portal_url="http://127.0.0.1:9")  # nothing listens there
    case = request("GET", "/about")
    fast = await exchange(pair.fast, case)
    assert fast.startswith(b"HTTP/1.1 503 ")
    assert fast == await exchange(pair.slow, case)
    assert pair.taken == [True]  # taken, then finished in a task (no idle connection)


async def test_requests_the_fast_path_leaves_still_work(
    stack: Stack, start_pair: PairFactory
) -> None:
    pair = await start_pair()
    token = stack.tokens.token("resident-2")
    chunked = (
        b"POST /api/v1/forms/echo/chunked HTTP/1.1\r\nHost: gateway.test\r\n"
        b"Authorization: Bearer " + token.encode() + b"\r\nConnection: close\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
    )
    answer = await exchange(pair.fast, chunked)
    assert answer.startswith(b"HTTP/1.1 200 ")
    assert json.loads(answer.partition(b"\r\n\r\n")[2])["size"] == 5
    unknown = request("GET", "/api/v1/submissions", headers=("Authorization: Bearer nope",))
    assert (await exchange(pair.fast, unknown)).startswith(b"HTTP/1.1 401 ")
    assert pair.taken == [False, False]  # a body to stream, a token to verify
    # Expect: 100-continue (even with the body already sent) gets its interim answer.
    expecting = request(
        "POST",
        "/api/v1/forms/echo/x",
        b"{}",
        (f"Authorization: Bearer {token}", "Expect: 100-continue"),
    )
    answer = await exchange(pair.fast, expecting)
    assert answer.startswith(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 ")
    assert pair.taken == [False, False]
    # A small body that comes in a later read is waited for, then the request is taken whole.
    late = request(
        "POST", "/api/v1/forms/echo/late", b"0123456789", (f"Authorization: Bearer {token}",)
    )
    assert (await split_exchange(pair.fast, late, 10)).startswith(b"HTTP/1.1 200 ")
    assert pair.taken == [False, False, True]
    # A body over 64 KiB starts at once and streams (the fast path never sees it).
    big = request(
        "POST", "/api/v1/forms/echo/big", b"x" * 100_000, (f"Authorization: Bearer {token}",)
    )
    answer = await split_exchange(pair.fast, big, 50_000)
    assert answer.startswith(b"HTTP/1.1 200 ")
    assert json.loads(answer.partition(b"\r\n\r\n")[2])["size"] == 100_000
    assert pair.taken == [False, False, True]


async def test_a_client_gone_before_its_body_came_is_logged(
    start_pair: PairFactory, access_lines: list[str]
) -> None:
    pair = await start_pair()
    host, port = pair.fast.removeprefix("http://").split(":")
    _, writer = await asyncio.open_connection(host, int(port))
    writer.write(request("POST", "/api/v1/identity/echo/gone", b"0123456789")[:-10])
    await writer.drain()
    await asyncio.sleep(0.05)
    writer.close()
    await eventually(lambda: access_lines, seconds=2.0)
    docs = [json.loads(line) for line in access_lines]
    assert [(d["path"], d["status"]) for d in docs] == [("/api/v1/identity/echo/gone", 499)]
    assert pair.taken == []


async def split_exchange(base_url: str, whole: bytes, tail: int) -> bytes:
    """Send a request with its last ``tail`` bytes in a second write, a moment later."""
    host, port = base_url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        writer.write(whole[:-tail])
        await writer.drain()
        await asyncio.sleep(0.05)
        writer.write(whole[-tail:])
        return await asyncio.wait_for(reader.read(-1), 10)
    finally:
        writer.close()


async def test_keep_alive_and_pipelined_requests_on_the_fast_path(start_pair: PairFactory) -> None:
    pair = await start_pair()
    host, port = pair.fast.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    one = b"GET /api/v1/forms/one HTTP/1.1\r\nHost: gateway.test\r\n\r\n"
    two = b"GET /api/v1/forms/two HTTP/1.1\r\nHost: gateway.test\r\n\r\n"
    try:
        for _ in range(3):  # one after the other on a kept-alive connection
            writer.write(one)
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
            length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
            assert b'"slug":"one"' in await reader.readexactly(length)
        writer.write(one + two)  # pipelined: the second waits for the first's answer
        bodies = []
        for _ in range(2):
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
            length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
            bodies.append(await reader.readexactly(length))
    finally:
        writer.close()
    assert [json.loads(b)["slug"] for b in bodies] == ["one", "two"]
    assert pair.taken == [True] * 4  # the pipelined second one went the ASGI way


async def test_the_fast_path_logs_the_same_access_lines(
    stack: Stack, start_pair: PairFactory, access_lines: list[str]
) -> None:
    pair = await start_pair()
    cases = [
        request("GET", "/api/v1/forms/benefits"),
        request("POST", "/api/v1/forms/echo/x", b"{}"),  # 401
        request("GET", "/api/v1/forms/missing"),
    ]
    for base in (pair.fast, pair.slow):
        for case in cases:
            await exchange(base, case)
    assert pair.taken == [True, True, True]
    await eventually(lambda: len(access_lines) >= 6)
    access_docs = [json.loads(line) for line in access_lines]
    for doc in access_docs:
        assert doc.pop("duration_ms") >= 0
        doc.pop("ts")
    assert access_docs[:3] == access_docs[3:]
    assert [d["status"] for d in access_docs[:3]] == [200, 401, 404]
    assert all(d["request_id"] == RID for d in access_docs)


async def test_remembered_is_what_verify_returns_from_memory(stack: Stack) -> None:
    app = create_app(stack.settings())
    assert isinstance(app, Gateway)
    verifier: TokenVerifier = app.verifier
    token = stack.tokens.token("resident-3")
    assert verifier.remembered(token) is None
    principal = await verifier.verify(token)
    assert verifier.remembered(token) == principal
    assert verifier.remembered(token + "x") is None
    await app.close()
