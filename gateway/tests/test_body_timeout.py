"""The idle timeout for request bodies (docs/gateway.md, "The idle timeout for request
bodies"): a client that sends a whole head declaring a body and then stops sending gets a
408 (with the security headers and the request id) and its connection closed, on the fast
path, the ASGI path and with the aiohttp forwarder alike, releasing what the request held at
the service; an upload that keeps sending, however slowly, is never cut."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest
from pydantic import ValidationError

from tellonce_gateway.app import Gateway
from tellonce_gateway.config import Settings
from tellonce_gateway.main import create_app
from tellonce_gateway.server import BODY_LATE
from tellonce_shared.testing import eventually

from .conftest import recorded

if TYPE_CHECKING:
    from .conftest import GatewayServer, Stack

TIMEOUT = 0.3
"""The body idle timeout in these tests (seconds)."""
KINDS = pytest.mark.parametrize("kind", ["fast", "asgi", "aiohttp"])
"""fast: the native forwarder as served (the fast path first); asgi: the native forwarder
with the fast path off; aiohttp: the other forwarder (always ASGI)."""


@dataclass
class Served:
    app: Gateway
    url: str
    offered: list[bool]
    """What the fast path answered for each request it was offered (kind ``fast``)."""


Start = Callable[..., Awaitable[Served]]


@pytest.fixture
def start(stack: Stack, serve_gateway: GatewayServer) -> Start:
    async def start(kind: str, **overrides: Any) -> Served:
        overrides.setdefault("body_idle_timeout_seconds", TIMEOUT)
        if kind == "aiohttp":
            overrides["client"] = "aiohttp"
        app = create_app(stack.settings(**overrides))
        assert isinstance(app, Gateway)
        offered: list[bool] = []
        if kind == "fast":
            app.fast_path = recorded(app.fast_path, offered)  # type: ignore[method-assign]
        else:
            app.fast_path = None  # type: ignore[assignment,method-assign]
        return Served(app, await serve_gateway(app), offered)

    return start


async def connect(url: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    host, port = url.removeprefix("http://").split(":")
    return await asyncio.open_connection(host, int(port))


def head(path: str, *fields: str) -> bytes:
    lines = [f"POST {path} HTTP/1.1", "Host: gateway.test", *fields]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def fields_of(answer: bytes) -> dict[str, str]:
    text = answer.partition(b"\r\n\r\n")[0].decode("latin-1")
    fields: dict[str, str] = {}
    for line in text.split("\r\n")[1:]:
        name, _, value = line.partition(":")
        fields[name.strip().lower()] = value.strip()
    return fields


def assert_408(answer: bytes, request_id: str) -> None:
    assert answer.startswith(b"HTTP/1.1 408 Request Timeout\r\n"), answer[:200]
    fields = fields_of(answer)
    assert fields["content-type"] == "application/problem+json"
    assert fields["connection"] == "close"
    assert fields["x-content-type-options"] == "nosniff"
    assert fields["x-frame-options"] == "DENY"
    assert fields["content-security-policy"].startswith("default-src 'none'")
    assert fields["x-request-id"] == request_id
    body = answer.partition(b"\r\n\r\n")[2]
    assert int(fields["content-length"]) == len(body)
    problem = json.loads(body)
    assert (problem["status"], problem["title"]) == (408, "Request timeout")


async def stalled(url: str, data: bytes) -> bytes:
    """Send ``data`` (a head and part of its body), then nothing: what the gateway answers
    before it closes the connection (the read fails the test if it never closes)."""
    reader, writer = await connect(url)
    try:
        writer.write(data)
        await writer.drain()
        return await asyncio.wait_for(reader.read(-1), 5)
    finally:
        writer.close()


async def trickled(url: str, data: bytes, pieces: list[bytes], gap: float) -> bytes:
    """Send ``data``, then each piece ``gap`` seconds after the last; read the answer."""
    reader, writer = await connect(url)
    try:
        writer.write(data)
        for piece in pieces:
            await writer.drain()
            await asyncio.sleep(gap)
            writer.write(piece)
        await writer.drain()
        answer = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        length = int(fields_of(answer)["content-length"])
        return answer + await asyncio.wait_for(reader.readexactly(length), 5)
    finally:
        writer.close()


def access(lines: list[str], request_id: str) -> list[dict[str, Any]]:
    found = [json.loads(line) for line in lines]
    return [line for line in found if line.get("request_id") == request_id]


@KINDS
async def test_a_stalled_body_with_a_content_length_gets_a_408(
    kind: str, start: Start, stack: Stack, access_lines: list[str]
) -> None:
    gw = await start(kind)
    completed = stack.identity.completed_bodies
    # A small body (read whole before forwarding; the fast path waits for such a body).
    rid = f"stall-small-{kind}"
    fields = ("Content-Length: 1000", f"X-Request-ID: {rid}")
    assert_408(await stalled(gw.url, head("/api/v1/identity/echo/x", *fields) + b"x" * 10), rid)
    # No byte of the body at all.
    rid = f"stall-none-{kind}"
    fields = ("Content-Length: 1000", f"X-Request-ID: {rid}")
    assert_408(await stalled(gw.url, head("/api/v1/identity/echo/x", *fields)), rid)
    # A large body (streamed to the service as it comes): 300,000 declared, 100,000 sent.
    rid = f"stall-large-{kind}"
    fields = ("Content-Length: 300000", f"X-Request-ID: {rid}")
    data = head("/api/v1/identity/echo/x", *fields) + b"y" * 100_000
    assert_408(await stalled(gw.url, data), rid)
    assert stack.identity.completed_bodies == completed  # the service got no whole body
    assert gw.offered == []  # never all in: the fast path was never offered them
    for rid in (f"stall-small-{kind}", f"stall-none-{kind}", f"stall-large-{kind}"):
        await eventually(lambda rid=rid: access(access_lines, rid))  # type: ignore[misc]
        (line,) = access(access_lines, rid)  # one access line each
        assert (line["status"], line["route"], line["upstream"]) == (
            408,
            "/api/v1/identity",
            "identity",
        )
    await eventually(lambda: gw.app.breakers["identity"].in_flight == 0)


@KINDS
async def test_a_stalled_chunked_body_gets_a_408(
    kind: str, start: Start, stack: Stack, access_lines: list[str]
) -> None:
    gw = await start(kind)
    completed = stack.identity.completed_bodies
    rid = f"stall-chunked-{kind}"
    fields = ("Transfer-Encoding: chunked", f"X-Request-ID: {rid}")
    data = head("/api/v1/identity/echo/x", *fields) + b"5\r\nhello\r\n"
    assert_408(await stalled(gw.url, data), rid)
    # Half a chunk: framing in, its data stopped.
    rid = f"stall-half-chunk-{kind}"
    fields = ("Transfer-Encoding: chunked", f"X-Request-ID: {rid}")
    data = head("/api/v1/identity/echo/x", *fields) + b"400\r\n" + b"z" * 100
    assert_408(await stalled(gw.url, data), rid)
    assert stack.identity.completed_bodies == completed
    await eventually(lambda: len(access(access_lines, rid)) == 1)
    assert access(access_lines, rid)[0]["status"] == 408
    await eventually(lambda: gw.app.breakers["identity"].in_flight == 0)


@KINDS
async def test_an_upload_that_keeps_sending_is_never_cut(kind: str, start: Start) -> None:
    gw = await start(kind)
    gap = TIMEOUT / 3  # each piece in time; the whole upload takes several timeouts
    # A small body with a Content-Length, in 20 pieces.
    body = bytes(range(256)) * 4
    pieces = [body[i : i + 50] for i in range(50, len(body), 50)]
    fields = (f"Content-Length: {len(body)}", "Connection: close")
    answer = await trickled(
        gw.url, head("/api/v1/identity/echo/x", *fields) + body[:50], pieces, gap
    )
    assert answer.startswith(b"HTTP/1.1 200 "), answer[:200]
    echoed = json.loads(answer.partition(b"\r\n\r\n")[2])
    assert echoed["sha256"] == hashlib.sha256(body).hexdigest()
    # A chunked body, one small chunk at a time.
    chunks = [b"%x\r\n%b\r\n" % (len(p), p) for p in (b"one", b"two", b"three", b"four")] * 3
    fields = ("Transfer-Encoding: chunked", "Connection: close")
    answer = await trickled(
        gw.url, head("/api/v1/identity/echo/x", *fields), [*chunks, b"0\r\n\r\n"], gap
    )
    assert answer.startswith(b"HTTP/1.1 200 "), answer[:200]
    echoed = json.loads(answer.partition(b"\r\n\r\n")[2])
    assert echoed["sha256"] == hashlib.sha256(b"onetwothreefour" * 3).hexdigest()
    # A large body (streamed to the service), its tail trickling in.
    body = b"q" * 300_000
    tail = [body[-10_000:][i : i + 1000] for i in range(0, 10_000, 1000)]
    fields = (f"Content-Length: {len(body)}", "Connection: close")
    data = head("/api/v1/identity/echo/x", *fields) + body[:-10_000]
    answer = await trickled(gw.url, data, tail, gap)
    assert answer.startswith(b"HTTP/1.1 200 "), answer[:200]
    assert json.loads(answer.partition(b"\r\n\r\n")[2])["size"] == len(body)


@KINDS
async def test_the_service_connection_is_not_reused_half_written_and_its_place_is_freed(
    kind: str, start: Start, stack: Stack
) -> None:
    gw = await start(kind, upstream_max_in_flight=1)
    seen = len(stack.identity.seen)
    probe = head("/api/v1/identity/echo/p", "Content-Length: 5", "Connection: close") + b"probe"
    first = await stalled(gw.url, probe)
    assert first.startswith(b"HTTP/1.1 200 ")
    pool = gw.app.pools["identity"] if gw.app.pools is not None else None
    pooled = list(pool.idle) if pool is not None else []
    if pool is not None:
        assert len(pooled) == 1  # the stalled upload below will be written to this one
    # A streamed upload whose client stops half-way: the service has half a request.
    fields = ("Content-Length: 300000", "X-Request-ID: half-written")
    data = head("/api/v1/identity/echo/x", *fields) + b"h" * 100_000
    assert_408(await stalled(gw.url, data), "half-written")
    if pool is not None:
        assert pooled[0].closed  # closed, never put back in the pool
        assert all(conn is not pooled[0] for conn in pool.idle)
    assert gw.app.breakers["identity"].in_flight == 0  # its place under the cap given back
    # The next request (with a cap of 1: it would be refused if the place were still held)
    # reaches the service whole, on a connection of its own.
    body = b"the next request, whole"
    request = head("/api/v1/identity/echo/n", f"Content-Length: {len(body)}", "Connection: close")
    answer = await stalled(gw.url, request + body)
    assert answer.startswith(b"HTTP/1.1 200 "), answer[:300]
    echoed = json.loads(answer.partition(b"\r\n\r\n")[2])
    assert echoed["path"] == "/api/v1/identity/echo/n"
    assert echoed["sha256"] == hashlib.sha256(body).hexdigest()
    paths = [entry["path"] for entry in stack.identity.seen[seen:]]
    assert paths == ["/api/v1/identity/echo/p", "/api/v1/identity/echo/n"]  # never the half


@KINDS
async def test_a_body_still_owed_after_the_answer_does_not_keep_the_connection(
    kind: str, start: Start
) -> None:
    gw = await start(kind, max_body_bytes=1000)
    # Over the limit by its Content-Length: 413 before the body is read, on a connection
    # kept alive; the client then sends a little of the body and stops.
    reader, writer = await connect(gw.url)
    try:
        writer.write(head("/api/v1/identity/echo/x", "Content-Length: 5000") + b"a" * 10)
        answer = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        assert answer.startswith(b"HTTP/1.1 413 ")
        await reader.readexactly(int(fields_of(answer)["content-length"]))
        writer.write(b"b" * 10)
        await writer.drain()
        assert await asyncio.wait_for(reader.read(-1), 5) == b""  # closed, nothing more
    finally:
        writer.close()


async def test_the_default_is_a_setting_and_must_be_positive(start: Start) -> None:
    assert Settings.model_fields["body_idle_timeout_seconds"].default == 30.0
    for bad in (0, -1):
        with pytest.raises(ValidationError):
            Settings(body_idle_timeout_seconds=bad)
    gw = await start("fast", body_idle_timeout_seconds=30.0)
    assert gw.app.body_idle_timeout == 30.0
    # With the default, a pause longer than the tests' timeout is not cut.
    reader, writer = await connect(gw.url)
    try:
        fields = ("Content-Length: 4", "Connection: close")
        writer.write(head("/api/v1/identity/echo/x", *fields) + b"ab")
        await asyncio.sleep(TIMEOUT * 2)
        writer.write(b"cd")
        answer = await asyncio.wait_for(reader.read(-1), 5)
        assert answer.startswith(b"HTTP/1.1 200 ")
        assert re.search(rb'"size":4', answer)
    finally:
        with contextlib.suppress(ConnectionError):
            writer.close()


class _Echo:
    """An application reading the whole body (a late one is answered 408), then echoing
    its size; ``body_idle_timeout`` as the gateway has it (``server.BODY_IDLE_TIMEOUT``)."""

    def __init__(self, body_idle_timeout: float) -> None:
        self.body_idle_timeout = body_idle_timeout

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                assert message.get(BODY_LATE)
                await send({"type": "http.response.start", "status": 408,
                            "headers": [(b"content-length", b"0")]})  # fmt: skip
                await send({"type": "http.response.body", "body": b""})
                return
            size += len(message.get("body", b""))
            if not message.get("more_body"):
                break
        text = str(size).encode()
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-length", str(len(text)).encode())]})  # fmt: skip
        await send({"type": "http.response.body", "body": text})


async def test_bodies_in_pieces_make_no_timer() -> None:
    from .test_units import _CountingLoop, _protocol, _turns

    protocol, transport = _protocol(_Echo(5.0))
    loop = protocol.loop = _CountingLoop(protocol.loop)
    post = b"POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 6\r\n\r\n"
    for _ in range(20):
        protocol.data_received(post + b"abc")
        await _turns()
        protocol.data_received(b"def")
        await _turns()
    assert transport.wire.count(b"HTTP/1.1 200 OK") == 20
    assert loop.timers == 1  # the keep-alive's, once; the body's is the connection's timer
    protocol.connection_lost(None)


async def test_the_clock_stands_while_the_server_is_not_reading() -> None:
    from .test_units import _protocol, _turns

    async def slow_reader(scope: Any, receive: Any, send: Any) -> None:
        pieces = [await receive()]  # the first piece, then not reading for a while
        await asyncio.sleep(TIMEOUT * 2)
        while pieces[-1].get("more_body"):
            pieces.append(await receive())
        assert not any(piece["type"] == "http.disconnect" for piece in pieces)
        size = str(sum(len(piece.get("body", b"")) for piece in pieces)).encode()
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-length", str(len(size)).encode())]})  # fmt: skip
        await send({"type": "http.response.body", "body": size})

    slow_reader.body_idle_timeout = TIMEOUT  # type: ignore[attr-defined]
    protocol, transport = _protocol(slow_reader)
    body = b"w" * 200_000
    protocol.data_received(b"POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 200000\r\n\r\n")
    await _turns()
    protocol.data_received(body[:100_000])  # over 64 KiB buffered: reading pauses
    await _turns()
    assert protocol.flow.read_paused
    await asyncio.sleep(TIMEOUT * 2.5)  # longer than the timeout, the server not reading
    assert not transport.closing
    protocol.data_received(body[100_000:])
    await asyncio.sleep(TIMEOUT)
    assert transport.wire.startswith(b"HTTP/1.1 200 OK"), transport.wire[:100]
    assert transport.wire.endswith(b"200000")
    # The client's own silence (the server reading): a 408, then the connection closed.
    protocol, transport = _protocol(_Echo(TIMEOUT))
    protocol.data_received(b"POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\nabc")
    await asyncio.sleep(TIMEOUT * 2.5)
    assert transport.wire.startswith(b"HTTP/1.1 408 Request Timeout\r\n")
    assert b"connection: close\r\n" in transport.wire
    assert transport.closing
