"""Two findings of the API fuzzing review (docs/gateway.md, "Fuzzing review"), each on the
fast path and the ASGI path alike (two gateways, one with the fast path off): a client that
hangs up on pipelined requests is a normal event (no error logged, the service's connection
back in the pool, the next client served), and an over-long request target is a 414 at the
edge, never forwarded (header fields over their limit: a 431); a service's own plain-text
400 for a request it cannot read is never passed on as it is."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest
import pytest_asyncio
import uvloop

from tellonce_gateway.app import Gateway
from tellonce_gateway.main import create_app
from tellonce_shared.testing import eventually

from .conftest import serve

if TYPE_CHECKING:
    from .conftest import GatewayServer, Stack

RID = "fuzz-review-0001"


@dataclass
class Served:
    url: str
    app: Gateway


Start = Callable[..., Awaitable[dict[str, Served]]]


@pytest.fixture
def start(stack: Stack, serve_gateway: GatewayServer) -> Start:
    """Two gateways with the same settings, kept with their applications: ``fast`` as
    served, ``asgi`` with the fast path off."""

    async def go(**overrides: Any) -> dict[str, Served]:
        fast = create_app(stack.settings(**overrides))
        asgi = create_app(stack.settings(**overrides))
        asgi.fast_path = None  # type: ignore[assignment,method-assign]
        return {
            "fast": Served(await serve_gateway(fast), fast),
            "asgi": Served(await serve_gateway(asgi), asgi),
        }

    return go


@pytest.fixture
def start_uvloop(stack: Stack) -> Iterator[Start]:
    """As :func:`start`, but each gateway on a uvloop event loop of its own thread, as the
    CLI runs it (uvloop refuses a write on a closed transport, where asyncio's is silent)."""
    threads: list[tuple[threading.Thread, asyncio.AbstractEventLoop, Any]] = []

    def serve_in_thread(app: Gateway) -> str:
        ready = threading.Event()
        box: dict[str, Any] = {}

        async def main() -> None:
            running = await serve(app, gateway=True)
            box["url"], box["server"] = running.url, running.server
            ready.set()
            await running.task

        loop = uvloop.new_event_loop()
        thread = threading.Thread(target=loop.run_until_complete, args=(main(),), daemon=True)
        thread.start()
        assert ready.wait(10)
        threads.append((thread, loop, box["server"]))
        return str(box["url"])

    async def go(**overrides: Any) -> dict[str, Served]:
        fast = create_app(stack.settings(**overrides))
        asgi = create_app(stack.settings(**overrides))
        asgi.fast_path = None  # type: ignore[assignment,method-assign]
        return {
            "fast": Served(serve_in_thread(fast), fast),
            "asgi": Served(serve_in_thread(asgi), asgi),
        }

    yield go
    for thread, loop, server in threads:
        loop.call_soon_threadsafe(setattr, server, "should_exit", True)
        thread.join(10)
        loop.close()


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def watch_logs() -> Iterator[Callable[[], list[logging.LogRecord]]]:
    """``watch()``: from then on, every record at WARNING or above, from any logger, until
    the test ends. (Called once the gateways run: making one configures logging, which
    replaces the root logger's handlers.)"""
    handler = _Collect()
    root = logging.getLogger()

    def watch() -> list[logging.LogRecord]:
        root.addHandler(handler)
        return handler.records

    try:
        yield watch
    finally:
        root.removeHandler(handler)


def _split(url: str) -> tuple[str, int]:
    host, port = url.removeprefix("http://").split(":")
    return host, int(port)


def get(target: str, *fields: str) -> bytes:
    lines = [f"GET {target} HTTP/1.1", "Host: gateway.test", f"X-Request-ID: {RID}", *fields]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


async def read_answer(reader: asyncio.StreamReader) -> tuple[bytes, bytes]:
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
    return head, await asyncio.wait_for(reader.readexactly(length), 5)


async def one(url: str, data: bytes) -> tuple[bytes, bytes]:
    reader, writer = await asyncio.open_connection(*_split(url))
    try:
        writer.write(data)
        await writer.drain()
        return await read_answer(reader)
    finally:
        writer.close()


def fields_of(head: bytes) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in head.decode("latin-1").split("\r\n")[1:]:
        if line:
            name, _, value = line.partition(":")
            out[name.strip().lower()] = value.strip()
    return out


def errors(records: list[logging.LogRecord]) -> list[str]:
    return [f"{r.name}: {r.getMessage()}" for r in records if r.levelno >= logging.ERROR]


# -- a client that hangs up on pipelined requests ------------------------------------------


@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
@pytest.mark.parametrize("path", ["fast", "asgi"])
@pytest.mark.parametrize("moment", ["before-any-answer", "in-the-first", "after-the-first"])
async def test_a_client_hanging_up_on_pipelined_requests_logs_no_error(
    loop: str,
    path: str,
    moment: str,
    start: Start,
    start_uvloop: Start,
    access_lines: list[str],
    watch_logs: Callable[[], list[logging.LogRecord]],
) -> None:
    served = (await (start_uvloop if loop == "uvloop" else start)())[path]
    warnings_logged = watch_logs()
    quick, slow = "/api/v1/forms/quick", "/api/v1/forms/slow?seconds=0.3"
    first = slow if moment == "before-any-answer" else quick
    pipelined = get(first) + get(slow) + get(quick) + get(quick, "Connection: close")
    for _ in range(3):
        reader, writer = await asyncio.open_connection(*_split(served.url))
        writer.write(pipelined)
        await writer.drain()
        if moment == "in-the-first":  # a few bytes, the rest unread: the close resets
            assert await asyncio.wait_for(reader.readexactly(5), 5) == b"HTTP/"
        elif moment == "after-the-first":
            head, body = await read_answer(reader)
            assert head.startswith(b"HTTP/1.1 200 ")
            assert b'"slug":"quick"' in body
        writer.close()  # gone while the slow one waits on the service
        await asyncio.sleep(0.8)  # its answer comes, for nobody (the two slow ones: 0.6 s)
    await eventually(lambda: len(access_lines) >= 6)
    await asyncio.sleep(0.1)
    # The server stops reading while pipelined requests wait, so it hears of the client's
    # leaving once the first answer is out: that one is logged as sent (200), the one in
    # progress then as 499 (nothing of it reached the client), and those never begun
    # (still waiting their turn) not at all.
    assert errors(warnings_logged) == []
    statuses = sorted(json.loads(line)["status"] for line in access_lines)
    assert statuses == [200] * 3 + [499] * 3
    # The requests to the service went one after the other: one connection, used by each
    # in turn, is what is left in the pool (a connection closed for a client's leaving
    # would have left it empty, and the next client would open a new one).
    assert served.app.breakers["registry"].in_flight == 0
    pool = served.app.pools["registry"] if served.app.pools else None
    assert pool is not None
    await eventually(lambda: len(pool.idle) == 1)
    kept = pool.idle[0]
    head, body = await one(served.url, get("/api/v1/forms/echo/next", "Connection: close"))
    assert head.startswith(b"HTTP/1.1 200 ")
    assert b'"path":"/api/v1/forms/echo/next"' in body
    await eventually(lambda: list(pool.idle) == [kept])  # reused, and back
    assert errors(warnings_logged) == []


# -- an over-long request target ----------------------------------------------------------


def _assert_414(head: bytes, body: bytes) -> None:
    assert head.startswith(b"HTTP/1.1 414 "), head
    fields = fields_of(head)
    assert fields["content-type"] == "application/problem+json"
    assert fields["x-request-id"] == RID
    assert fields["x-content-type-options"] == "nosniff"
    assert "content-security-policy" in fields
    doc = json.loads(body)
    assert doc["status"] == 414
    assert "8192" in doc["detail"]
    assert len(doc.get("instance", "")) < 300


@pytest.mark.parametrize("path", ["fast", "asgi"])
async def test_a_request_target_over_the_limit_is_a_414_at_the_edge(
    path: str, start: Start, stack: Stack, access_lines: list[str]
) -> None:
    served = (await start())[path]
    before = len(stack.registry.seen)
    long_path = "/api/v1/forms/echo/" + "a" * 9000
    long_query = "/api/v1/forms?" + "&".join(f"q={i}" for i in range(20000))
    huge = "/api/v1/forms/echo/" + "b" * 1_000_000
    reader, writer = await asyncio.open_connection(*_split(served.url))
    try:
        for target in (long_path, long_query, huge, "/docs?" + "x" * 9000):
            writer.write(get(target))
            await writer.drain()
            _assert_414(*await read_answer(reader))  # and the connection is kept
        # At the limit exactly: passed on.
        at_limit = "/api/v1/forms/echo/x?"
        at_limit += "y" * (8192 - len(at_limit))
        writer.write(get(at_limit, "Connection: close"))
        head, body = await read_answer(reader)
        assert head.startswith(b"HTTP/1.1 200 "), head
        assert json.loads(body)["query"] == "y" * (8192 - len("/api/v1/forms/echo/x?"))
    finally:
        writer.close()
    assert len(stack.registry.seen) == before + 1  # the over-long ones never reached it
    await eventually(lambda: len(access_lines) >= 5)
    docs = [json.loads(line) for line in access_lines]
    assert [d["status"] for d in docs] == [414, 414, 414, 414, 200]
    assert all(d["request_id"] == RID for d in docs)
    assert all(len(d["path"]) < 300 for d in docs)


async def test_the_server_keeps_no_more_of_a_long_target_than_the_limit(start: Start) -> None:
    served = (await start(max_target_bytes=2048))["fast"]
    assert served.app.max_target_bytes == 2048
    head, body = await one(served.url, get("/api/v1/forms/" + "c" * 5000))
    assert head.startswith(b"HTTP/1.1 414 ")
    assert "2048" in json.loads(body)["detail"]


async def test_the_limit_is_a_setting_with_a_floor(stack: Stack) -> None:
    assert stack.settings().max_target_bytes == 8192
    with pytest.raises(ValueError, match="max_target_bytes"):
        stack.settings(max_target_bytes=100)


# -- header fields over the limit -----------------------------------------------------------

# What ``get`` sends besides a test's own fields, as the limit counts it (name, value and
# four bytes each): ``Host: gateway.test`` and ``X-Request-ID: fuzz-review-0001``.
BASE_FIELDS = (4 + 12 + 4) + (12 + len(RID) + 4)
LIMIT = 32768


def big_field(size: int) -> str:
    """One field that brings ``get``'s fields to ``size`` bytes as the limit counts them."""
    return "X-Big: " + "v" * (size - BASE_FIELDS - len("X-Big") - 4)


def _assert_431(head: bytes, body: bytes) -> None:
    assert head.startswith(b"HTTP/1.1 431 "), head
    fields = fields_of(head)
    assert fields["content-type"] == "application/problem+json"
    assert fields["connection"] == "close"
    assert fields["x-request-id"] == RID
    assert fields["x-content-type-options"] == "nosniff"
    doc = json.loads(body)
    assert doc["status"] == 431
    assert doc["title"] == "Request header fields too large"
    assert str(LIMIT) in doc["detail"]


async def _send_in_pieces(url: str, data: bytes, piece: int) -> tuple[bytes, bytes]:
    """Sends ``data`` a piece at a time, letting each go out, and reads the answer (which
    may come before the client has sent everything: what it cannot send then is dropped)."""
    reader, writer = await asyncio.open_connection(*_split(url))
    try:
        for start in range(0, len(data), piece):
            if reader.at_eof() or len(reader._buffer) > 0:  # type: ignore[attr-defined]
                break  # answered already
            writer.write(data[start : start + piece])
            try:
                await writer.drain()
            except ConnectionError:
                break
            await asyncio.sleep(0.001)
        return await read_answer(reader)
    finally:
        writer.close()


@pytest.mark.parametrize("path", ["fast", "asgi"])
async def test_header_fields_at_the_limit_pass_and_over_it_are_a_431(
    path: str, start: Start, stack: Stack
) -> None:
    served = (await start())[path]
    before = len(stack.registry.seen)
    target = "/api/v1/forms/echo/x"
    # At the limit exactly, in one write and in pieces: passed on, whole.
    for piece in (None, 4096):
        data = get(target, big_field(LIMIT))
        if piece is None:
            head, _ = await one(served.url, data)
        else:
            head, _ = await _send_in_pieces(served.url, data, piece)
        assert head.startswith(b"HTTP/1.1 200 "), head
    assert len(stack.registry.seen) == before + 2
    # One byte over, in one write and in pieces; and many small fields over it.
    many = [f"X-F{i}: {'w' * 10}" for i in range(LIMIT // 20 + 1)]
    for data, piece in (
        (get(target, big_field(LIMIT + 1)), None),
        (get(target, big_field(LIMIT + 1)), 4096),
        (get(target, *many), None),
        (get(target, *many), 1000),
    ):
        if piece is None:
            _assert_431(*await one(served.url, data))
        else:
            _assert_431(*await _send_in_pieces(served.url, data, piece))
    assert len(stack.registry.seen) == before + 2  # none of those reached the service


async def test_a_head_that_never_ends_is_refused_without_holding_it(start: Start) -> None:
    """A field of 8 MiB sent a piece at a time: refused once the fields pass the limit
    (the server holds no more than that and one read), long before the client is done."""
    served = (await start())["fast"]
    data = get("/api/v1/forms/echo/x", "X-Big: " + "v" * (8 << 20))
    reader, writer = await asyncio.open_connection(*_split(served.url))
    sent = 0
    try:
        while sent < len(data) and not reader._buffer:  # type: ignore[attr-defined]
            writer.write(data[sent : sent + 16384])
            sent += 16384
            try:
                await writer.drain()
            except ConnectionError:
                break
            await asyncio.sleep(0.0005)
        _assert_431(*await read_answer(reader))
        assert sent < 1 << 20, sent  # answered before a megabyte was sent
        with contextlib.suppress(ConnectionError):  # then the connection ends
            assert await asyncio.wait_for(reader.read(), 5) == b""
    finally:
        writer.close()


@pytest.mark.parametrize("path", ["fast", "asgi"])
async def test_heads_read_with_other_bytes_are_counted_each(
    path: str, start: Start, stack: Stack
) -> None:
    """A head read together with a body, or behind another request in the same read, is
    still counted on its own: a 40 KB POST whose head is small passes; a small request with
    a head over the limit pipelined behind it is answered, then the 431."""
    served = (await start())[path]
    payload = json.dumps({"x": "p" * 40_000}).encode()
    post = (
        f"POST /api/v1/forms/echo/x HTTP/1.1\r\nHost: gateway.test\r\nX-Request-ID: {RID}\r\n"
        f"Authorization: {stack.tokens.headers('head-count', role='admin')['Authorization']}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n\r\n"
    ).encode() + payload
    reader, writer = await asyncio.open_connection(*_split(served.url))
    try:
        writer.write(post + get("/api/v1/forms/echo/y", big_field(LIMIT + 1)))
        await writer.drain()
        first, _ = await read_answer(reader)
        assert first.startswith(b"HTTP/1.1 200 "), first
        _assert_431(*await read_answer(reader))
    finally:
        writer.close()
    # And a head over the limit read with its body: refused, the body never forwarded.
    over = post.replace(
        b"Host: gateway.test\r\n", b"Host: gateway.test\r\n" + big_field(LIMIT).encode() + b"\r\n"
    )
    _assert_431(*await one(served.url, over))


@pytest.mark.parametrize("path", ["fast", "asgi"])
async def test_garbage_behind_a_request_is_refused_after_its_answer(
    path: str, start: Start, stack: Stack
) -> None:
    """Bytes that are no request, pipelined behind one that is: the request is answered,
    then the 400 problem follows and the connection closes (refused at once, the 400 had
    cut the answer off, and a POST's outcome was lost to its client)."""
    served = (await start())[path]
    before = len(stack.registry.seen)
    reader, writer = await asyncio.open_connection(*_split(served.url))
    try:
        writer.write(get("/api/v1/forms/echo/first") + b"NOT HTTP AT ALL\r\n\r\n")
        await writer.drain()
        first, body = await read_answer(reader)
        assert first.startswith(b"HTTP/1.1 200 "), first
        assert b"/api/v1/forms/echo/first" in body
        refused, problem = await read_answer(reader)
        assert refused.startswith(b"HTTP/1.1 400 "), refused
        assert fields_of(refused)["content-type"] == "application/problem+json"
        assert json.loads(problem)["status"] == 400
        with contextlib.suppress(ConnectionError):
            assert await asyncio.wait_for(reader.read(), 5) == b""
    finally:
        writer.close()
    assert len(stack.registry.seen) == before + 1


def _send_all_then_read(url: str, data: bytes) -> bytes:
    """A client that sends everything before it reads (blocking, in a thread): what it
    receives, up to the end of the connection or its reset."""
    with socket.create_connection(_split(url), timeout=10) as sock:
        with contextlib.suppress(ConnectionError):  # refused half-way: the answer may
            sock.sendall(data)  # still be there to read
        received = b""
        try:
            while chunk := sock.recv(65536):
                received += chunk
        except ConnectionError:
            pass
        return received


async def test_a_client_sending_its_whole_head_before_reading_gets_the_431(
    start: Start,
) -> None:
    """The 431 leaves while the client is still sending the rest of a 4 MiB head, and the
    connection is closed under it (the bytes still coming make the peer's kernel reset it):
    a client that reads only once it has tried to send everything still finds the answer."""
    served = (await start())["fast"]
    data = get("/api/v1/forms/echo/x", "X-Big: " + "v" * (4 << 20))
    for _ in range(3):
        answer = await asyncio.to_thread(_send_all_then_read, served.url, data)
        head, _, body = answer.partition(b"\r\n\r\n")
        _assert_431(head + b"\r\n\r\n", body)


async def test_the_over_long_target_is_still_a_414_not_a_431(start: Start) -> None:
    """The target has its own limit, and its bytes do not count as header fields: a
    target of a megabyte sent in pieces is a 414, and the connection is kept."""
    served = (await start())["fast"]
    reader, writer = await asyncio.open_connection(*_split(served.url))
    try:
        data = get("/api/v1/forms/echo/" + "t" * 1_000_000)
        for start_at in range(0, len(data), 8192):
            writer.write(data[start_at : start_at + 8192])
            await writer.drain()
        _assert_414(*await read_answer(reader))
        writer.write(get("/api/v1/forms/echo/next", "Connection: close"))
        head, _ = await read_answer(reader)
        assert head.startswith(b"HTTP/1.1 200 "), head
    finally:
        writer.close()


async def test_the_header_limit_is_a_setting_with_a_floor(start: Start, stack: Stack) -> None:
    assert stack.settings().max_header_bytes == LIMIT
    with pytest.raises(ValueError, match="max_header_bytes"):
        stack.settings(max_header_bytes=1000)
    served = (await start(max_header_bytes=8192))["asgi"]
    head, body = await one(served.url, get("/api/v1/forms/echo/x", big_field(8193)))
    assert head.startswith(b"HTTP/1.1 431 ")
    assert "8192" in json.loads(body)["detail"]


# -- a service's plain-text 400 for a request it cannot read -------------------------------


UVICORN_400 = (
    b"HTTP/1.1 400 Bad Request\r\ncontent-type: text/plain; charset=utf-8\r\n"
    b"connection: close\r\ncontent-length: 30\r\n\r\nInvalid HTTP request received."
)


@pytest_asyncio.fixture
async def refusing_service() -> AsyncIterator[str]:
    """A service whose server answers every request as uvicorn answers one it cannot parse."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(UVICORN_400)
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    yield f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    server.close()
    await server.wait_closed()


@pytest.mark.parametrize("client", ["native", "aiohttp"])
@pytest.mark.parametrize("path", ["fast", "asgi"])
async def test_a_services_plain_text_400_for_an_unreadable_request_is_not_passed_on(
    client: str, path: str, start: Start, refusing_service: str, access_lines: list[str]
) -> None:
    served = (await start(client=client, registry_url=refusing_service))[path]
    for _ in range(2):  # a fresh connection, then (native) the same way again
        head, body = await one(served.url, get("/api/v1/forms", "Connection: close"))
        assert head.startswith(b"HTTP/1.1 400 "), head
        fields = fields_of(head)
        assert fields["content-type"] == "application/problem+json"
        assert fields["x-request-id"] == RID
        assert b"Invalid HTTP request received." not in body
        assert "registry service could not read the request" in json.loads(body)["detail"]
    await eventually(lambda: len(access_lines) >= 2)
    assert [json.loads(line)["status"] for line in access_lines] == [400, 400]
    assert served.app.breakers["registry"].in_flight == 0
