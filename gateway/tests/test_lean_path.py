"""The lean path (a read that is one whole, plain request, answered without the parser's
request state, a scope or a cycle: ``tellonce_gateway.lean``) against the ASGI path: the
same answers byte for byte (but for ``Date``), the same access lines; what it leaves (and
what it hands on after forwarding) still answered as before; the connection's state kept
right (keep-alive, requests sent while one is answered)."""

from __future__ import annotations

import asyncio
import hashlib
import json
import random
from typing import TYPE_CHECKING

import httptools
import pytest

from tellonce_gateway.app import Gateway
from tellonce_gateway.lean import (
    LeanPath,
    _answer_line,
    _Head,
    _LeanRequest,
    _read_head,
    _request_line,
    _status_of,
)
from tellonce_gateway.main import create_app
from tellonce_shared.testing import eventually

from .conftest import recorded, serve
from .test_fast_path import dechunk

if TYPE_CHECKING:
    from .conftest import PairFactory, Stack

RID = "lean-path-test-0001"


async def read_answer(reader: asyncio.StreamReader, head_request: bool = False) -> bytes:
    """One answer off a kept-alive connection (framed by Content-Length or chunks; none for
    a HEAD), with its ``Date`` line taken out and a chunked body decoded."""
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
    lower = head.lower()
    if head_request:
        body = b""
    elif b"transfer-encoding: chunked" in lower:
        raw = b""
        while not raw.endswith(b"0\r\n\r\n"):
            raw += await asyncio.wait_for(reader.read(65536), 10)
        body = dechunk(raw)
    elif b"content-length: " in lower and not head.startswith(b"HTTP/1.1 304"):
        length = int(lower.split(b"content-length: ")[1].split(b"\r\n")[0])
        body = await asyncio.wait_for(reader.readexactly(length), 10)
    else:
        body = b""
    lines = [line for line in head.split(b"\r\n") if not line.lower().startswith(b"date:")]
    if body.startswith(b"{") and b'"client_port"' in body:  # the echo names its peer's port
        doc = json.loads(body)
        doc.pop("client_port")
        body = json.dumps(doc).encode()
    return b"\r\n".join(lines) + body


async def kept_exchange(base_url: str, request: bytes) -> bytes:
    """One request in one write on a kept-alive connection (what the lean path takes)."""
    host, port = base_url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        writer.write(request)
        await writer.drain()
        return await read_answer(reader, request.startswith(b"HEAD "))
    finally:
        writer.close()


def request(
    method: str, target: str, body: bytes | None = None, headers: tuple[str, ...] = ()
) -> bytes:
    lines = [f"{method} {target} HTTP/1.1", "Host: gateway.test", *headers]
    if body is not None:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + (body or b"")


async def test_lean_and_asgi_paths_give_the_same_answers(
    stack: Stack, start_pair: PairFactory
) -> None:
    pair = await start_pair(lean_path=True, trusted_proxies=["127.0.0.1/32"])
    token = stack.tokens.token("resident-1")
    bearer = f"Authorization: Bearer {token}"
    rid = f"X-Request-ID: {RID}"
    cases = [
        # taken by the lean path
        request("GET", "/api/v1/forms/benefits", headers=(rid,)),
        request("GET", "/api/v1/forms/echo/x?a=1&b=two", headers=(rid, "Accept: */*")),
        request("GET", "/api/v1/forms/echo/x?q=a%20b&r=%C3%A9", headers=(rid,)),
        request("GET", "/api/v1/forms/echo/x", headers=(rid, "Connection: keep-alive")),
        request(
            "GET",
            "/api/v1/forms/echo/fwd",
            headers=(rid, "X-Forwarded-For: 203.0.113.9", "X-Forwarded-Proto: https"),
        ),
        request("POST", "/api/v1/forms/echo/post", b'{"a": 1}', (rid, bearer)),  # verified now
        request("POST", "/api/v1/forms/echo/post", b'{"a": 2}', (rid, bearer)),  # remembered
        request("PUT", "/api/v1/forms/echo/put", b"", (rid, bearer)),
        request("DELETE", "/api/v1/forms/echo/del", headers=(rid, bearer)),
        request("GET", "/", headers=(rid,)),  # the portal's policy
        request("GET", "/api/v1/forms/missing", headers=(rid,)),  # 404, passed on
        # taken, then answered as the fast path answers (a field the gateway rewrites,
        # hop-by-hop fields, an answer to stream)
        request("GET", "/api/v1/forms/fancy", headers=(rid,)),
        request("GET", "/api/v1/forms/big?megabytes=1", headers=(rid,)),
        request("GET", "/api/v1/forms/trickle", headers=(rid,)),
        # left to the fast path
        request("POST", "/api/v1/forms/echo/x", b"{}", (rid,)),  # 401: a token is required
        request("POST", "/api/v1/forms/echo/x", b"{}", (rid, bearer, bearer)),  # 400
        request("GET", "/api/v1/identity/me", headers=(rid, "Authorization: Basic eDp5")),  # 401
        request("GET", "/api/v1/forms/./x", headers=(rid,)),  # 400: dot segments
        request("GET", "/api/v1/forms/echo/a%20b", headers=(rid,)),
        request("HEAD", "/api/v1/forms/echo/head", headers=(rid,)),
        request("GET", "/api/v1/forms/echo/cors", headers=(rid, "Origin: https://app.example")),
        request("GET", "/api/v1/forms/echo/x", headers=(rid, "Connection: x-secret")),
        request("POST", "/api/v1/forms", b"x" * 10, (rid, "Content-Length: 10")),  # 400
        request("GET", "/healthz", headers=(rid,)),
        request("POST", "/api/v1/identity/token", b"grant_type=x", (rid,)),  # stricter limit
        # a second request after the body, in the same read (the lean path reads the head
        # alone, then weighs what follows it against the Content-Length)
        request("POST", "/api/v1/forms/echo/post", b'{"a": 3}', (rid, bearer))
        + request("GET", "/api/v1/forms/benefits", headers=(rid,)),
    ]
    for case in cases:
        lean = await kept_exchange(pair.fast, case)
        asgi = await kept_exchange(pair.slow, case)
        assert lean == asgi, case
    assert pair.lean.count(True) == 13  # the 11 plain ones and the 3 handed on, but the
    # first POST (its token not verified yet)
    assert pair.taken.count(True) >= 8  # most of the rest: the fast path


async def test_a_service_that_is_down_is_a_503_from_the_lean_path(
    stack: Stack, start_pair: PairFactory
) -> None:
    pair = await start_pair(lean_path=True, portal_url="http://127.0.0.1:9")
    case = request("GET", "/about", headers=(f"X-Request-ID: {RID}",))
    lean = await kept_exchange(pair.fast, case)
    assert lean.startswith(b"HTTP/1.1 503 ")
    assert lean == await kept_exchange(pair.slow, case)
    assert pair.lean == [True]  # taken, then finished as the fast path would (no connection)


async def test_requests_sent_while_the_lean_path_answers_wait_their_turn(
    start_pair: PairFactory,
) -> None:
    """A request sent on the connection while one of the lean path is being answered is read
    after that answer, in order; then the lean path takes the next one again."""
    pair = await start_pair(lean_path=True)
    host, port = pair.fast.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    slow = b"GET /api/v1/forms/slow?seconds=0.3 HTTP/1.1\r\nHost: gateway.test\r\n\r\n"
    one = b"GET /api/v1/forms/one HTTP/1.1\r\nHost: gateway.test\r\n\r\n"
    two = b"GET /api/v1/forms/two HTTP/1.1\r\nHost: gateway.test\r\n\r\n"
    try:
        writer.write(one)
        await read_answer(reader)  # a connection to the service now waits in the pool
        writer.write(slow)
        await writer.drain()
        await asyncio.sleep(0.05)  # the slow one is with the service
        writer.write(one + two)
        answers = [await read_answer(reader) for _ in range(3)]
        writer.write(one)  # the connection is between requests again
        answers.append(await read_answer(reader))
    finally:
        writer.close()
    bodies = [json.loads(a[a.index(b"{") :]) for a in answers]
    assert bodies[0] == {"status": "late"}
    assert [b["slug"] for b in bodies[1:]] == ["one", "two", "one"]
    assert all(a.startswith(b"HTTP/1.1 200 ") for a in answers)
    # The two sent together were held, then offered as one read and left to the parser (the
    # fast path took the first, the second waited its turn).
    assert pair.lean == [True, True, False, True]
    assert pair.taken == [True]


async def test_a_client_gone_before_the_answer_is_logged_and_the_gateway_goes_on(
    start_pair: PairFactory, access_lines: list[str]
) -> None:
    pair = await start_pair(lean_path=True)
    await kept_exchange(pair.fast, request("GET", "/api/v1/forms/warm"))  # a pooled connection
    host, port = pair.fast.removeprefix("http://").split(":")
    _, writer = await asyncio.open_connection(host, int(port))
    writer.write(
        b"GET /api/v1/forms/slow?seconds=0.3 HTTP/1.1\r\nHost: gateway.test\r\n"
        b"X-Request-ID: lean-gone-0001\r\n\r\n"
    )
    await writer.drain()
    await asyncio.sleep(0.05)
    writer.close()
    await eventually(
        lambda: any('"request_id":"lean-gone-0001"' in line for line in access_lines), seconds=5
    )
    line = next(json.loads(x) for x in access_lines if '"request_id":"lean-gone-0001"' in x)
    assert line["status"] == 499
    after = await kept_exchange(pair.fast, request("GET", "/api/v1/forms/after"))
    assert after.startswith(b"HTTP/1.1 200 ")
    assert pair.lean == [True, True, True]
    assert pair.taken == []  # none of them went on as the fast path's


async def test_the_lean_path_logs_the_same_access_lines(
    stack: Stack, start_pair: PairFactory, access_lines: list[str]
) -> None:
    pair = await start_pair(lean_path=True)
    token = stack.tokens.token("resident-2")
    rid = f"X-Request-ID: {RID}"
    cases = [
        request("GET", "/api/v1/forms/benefits", headers=(rid,)),
        request("GET", "/api/v1/forms/missing", headers=(rid,)),
        request("GET", "/api/v1/forms/fancy", headers=(rid,)),
    ]
    # the token verified once (the first request with it is the fast path's), then remembered
    await kept_exchange(
        pair.fast, request("GET", "/api/v1/forms/x", headers=(f"Authorization: Bearer {token}",))
    )
    await kept_exchange(
        pair.slow, request("GET", "/api/v1/forms/x", headers=(f"Authorization: Bearer {token}",))
    )
    cases.append(
        request("POST", "/api/v1/forms/echo/p", b"{}", (rid, f"Authorization: Bearer {token}"))
    )
    await eventually(lambda: len(access_lines) >= 2)
    access_lines.clear()
    for base in (pair.fast, pair.slow):
        for case in cases:
            await kept_exchange(base, case)
    await eventually(lambda: len(access_lines) >= 8)
    docs = [json.loads(line) for line in access_lines]
    for doc in docs:
        assert doc.pop("duration_ms") >= 0
        doc.pop("ts")
    assert docs[:4] == docs[4:]
    assert [d["status"] for d in docs[:4]] == [200, 404, 203, 200]
    assert docs[3]["client"] == "sub:resident-2"
    assert all(d["request_id"] == RID for d in docs)
    assert pair.lean[-4:] == [True] * 4


async def test_a_malformed_request_id_is_replaced_on_the_lean_path(
    stack: Stack, start_pair: PairFactory
) -> None:
    pair = await start_pair(lean_path=True)
    answer = await kept_exchange(
        pair.fast, request("GET", "/api/v1/forms/echo/x", headers=("X-Request-ID: bad id!",))
    )
    assert pair.lean == [True]
    head, _, body = answer.partition(b"\r\n\r\n")
    sent = json.loads(body[body.index(b"{") :] if body else answer[answer.index(b"{") :])
    rid = [line for line in head.split(b"\r\n") if line.startswith(b"x-request-id: ")]
    assert len(rid) == 1
    new = rid[0].removeprefix(b"x-request-id: ").decode()
    assert new != "bad id!"
    assert len(new) == 32
    assert sent["headers"]["x-request-id"] == new  # the service saw the same one


async def test_a_shutdown_lets_the_lean_paths_answer_finish_then_closes(stack: Stack) -> None:
    """uvicorn's graceful shutdown closes idle connections and lets a request in progress
    finish: one of the lean path (which has no cycle) gets its whole answer, marked
    ``Connection: close``, and its connection is closed after it."""
    app = create_app(stack.settings())
    assert isinstance(app, Gateway)
    assert app.lean_path is not None
    running = await serve(app, gateway=True)
    host, port = running.url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        writer.write(b"GET /api/v1/forms/warm HTTP/1.1\r\nHost: gateway.test\r\n\r\n")
        await read_answer(reader)  # a connection to the service now waits in the pool
        writer.write(b"GET /api/v1/forms/slow?seconds=0.4 HTTP/1.1\r\nHost: gateway.test\r\n\r\n")
        await writer.drain()
        await asyncio.sleep(0.1)  # with the service
        answer = await answered_then_closed(reader, asyncio.create_task(running.stop()))
    finally:
        writer.close()
    assert json.loads(answer[answer.index(b"{") :]) == {"status": "late"}


async def answered_then_closed(reader: asyncio.StreamReader, stopping: asyncio.Task[None]) -> bytes:
    """The answer a graceful shutdown (``stopping``) let finish: a 200 marked
    ``Connection: close``, then the connection closed and the server stopped."""
    answer = await asyncio.wait_for(read_answer(reader), 5)
    assert await asyncio.wait_for(reader.read(), 5) == b""  # closed after it
    await asyncio.wait_for(stopping, 10)
    assert answer.startswith(b"HTTP/1.1 200 ")
    assert b"\r\nconnection: close" in answer.lower()
    return answer


def _random_head(rng: random.Random) -> bytes:
    """A request head, often plain, often with something odd in it."""

    def odd(plain: str, *others: str) -> str:
        return rng.choice(others) if rng.random() < 0.12 else plain

    weird = ("%41", "#f", '"', " ", "\t", "\x7f", "\xc3\xa9", "\r", "\n", "\x00", "<", "{")
    method = odd(rng.choice(["GET", "POST", "PUT", "PATCH", "DELETE"]), "get", "OPTIONS", "HEAD")
    target = odd(rng.choice(["/api/v1/forms/x", "/", "/a/b?c=d&e=f", "/a??b"]), "*", "http://h/x")
    target += odd("", *weird) + rng.choice(["", "/y", "?q=1", "?q=a%20b%", "/:@!$&'()*+,;=-._~"])
    version = odd("HTTP/1.1", "HTTP/1.0", "http/1.1", "HTTP/1.10", "HTTP/2.0")
    line = f"{method}{odd(' ', '  ', chr(9))}{target} {version}"
    names = [
        "Host", "host", "X-Request-ID", "Content-Length", "Authorization", "Accept",
        "X-Forwarded-For", "X-Forwarded-Proto", "X-Custom_1", "x-a.b~c", "Connection",
    ]  # fmt: skip
    values = ["h.test", "keep-alive", "Bearer abc.def", "12", "", "a, b", "192.0.2.1", "*/*"]
    fields = []
    for _ in range(rng.randrange(0, 6)):
        name = odd(rng.choice(names), "Bad Name", "Bad\x7fName", "", "X(y)", "Transfer-Encoding")
        value = odd(rng.choice(values), "close", "1 2", "chunked", "", "\t")
        value = odd("", " ", "\t") + value + odd("", *weird)
        fields.append(name + odd(": ", ":", ":\t", " : ", ":  ") + value)
        fields.append(odd("", " folded", "\tfolded", "X: a\rb"))
    return "\r\n".join([line, *filter(None, fields)]).encode("latin-1") + b"\r\n\r\n"


class _Reading:
    """httptools' callbacks, sorting the fields as the lean path does."""

    def __init__(self) -> None:
        self.url = b""
        self.head = _Head()

    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        self.head.on_header(name.lower(), value)


def test_the_lean_paths_reading_of_a_head_is_httptools_reading_of_it() -> None:
    """Where the lean path reads a head itself (``_request_line``, ``_read_head``),
    httptools (the server's parser) reads it too, and gets the same method, target and
    fields; heads it leaves to the parser include ones httptools refuses."""
    rng = random.Random(20261127)
    taken = left = 0
    for _ in range(4000):
        data = _random_head(rng)
        first = data.find(b"\r\n")
        end = data.find(b"\r\n\r\n", first)
        line = _request_line(data[:first])
        head = _read_head(data, first, end)
        if line is None or head is None or head.leave:  # (leave: a field for the fast path)
            left += 1
            continue
        taken += 1
        method, target = line
        callbacks = _Reading()
        parser = httptools.HttpRequestParser(callbacks)
        parser.feed_data(data)  # raises if httptools refuses what the lean path read
        assert (parser.get_method(), callbacks.url) == (method, target), data
        assert parser.get_http_version() == "1.1", data
        assert vars(head) == vars(callbacks.head), data
    assert taken > 800
    assert left > 800


def test_the_flat_reading_takes_plain_status_lines_only() -> None:
    assert _status_of(b"HTTP/1.1 200 OK") == 200
    assert _status_of(b"HTTP/1.1 404 Not Found") == 404
    assert _status_of(b"HTTP/1.1 201") == 201
    for line in (
        b"HTTP/1.0 200 OK",  # another version: the parser's
        b"HTTP/1.1 100 Continue",  # informational
        b"HTTP/1.1 204 No Content",  # no body
        b"HTTP/1.1 304 Not Modified",
        b"HTTP/1.1 400 Bad Request",  # looked at by the fast path (never the service's text)
        b"HTTP/1.1 20 OK",
        b"HTTP/1.1 200 OK\n",
        b"HTTP/1.1  200 OK",
    ):
        assert _status_of(line) is None, line


def test_the_flat_reading_passes_plain_fields_and_leaves_the_rest() -> None:
    assert _answer_line(b"Content-Type: application/json") == b"content-type: application/json\r\n"
    assert _answer_line(b"x-upstream:registry") == b"x-upstream: registry\r\n"
    assert _answer_line(b"date: Fri, 27 Nov 2026 07:48:48 GMT") == b""  # dropped
    assert _answer_line(b"Server: uvicorn") == b""
    assert _answer_line(b"x-request-id: theirs") == b""  # the gateway's own is written
    for raw in (
        b"connection: close",  # hop-by-hop: the parser's (the connection is not reused)
        b"transfer-encoding: chunked",
        b"keep-alive: timeout=5",
        b"referrer-policy: no-referrer",  # weighed by the gateway (Gateway._head)
        b"content-security-policy: default-src 'self'",
        b"x-frame-options: SAMEORIGIN",  # the gateway's word wins
        b"x-odd : value",  # white space before the colon
        b" folded: value",  # obsolete line folding
        b"x-trailing: value ",  # white space the parser would keep
        b"x-bare: a\nb",
        b"x-nul: a\x00b",
        b"no-colon",
    ):
        assert _answer_line(raw) is None, raw


RAW_ANSWERS = {
    b"/api/v1/forms/plain": b"HTTP/1.1 200 OK\r\ndate: Fri, 27 Nov 2026 08:00:00 GMT\r\n"
    b"server: raw\r\ncontent-type: application/json\r\nx-upstream: raw\r\n"
    b'content-length: 11\r\n\r\n{"ok":true}',
    b"/api/v1/forms/gone": b"HTTP/1.1 404 Not Found\r\ncontent-type: application/problem+json"
    b'\r\nContent-Length: 14\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\n\r\n{"status":404}',
    b"/api/v1/forms/folded": b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nx-a: 1\r\n b\r\n\r\nok",
    b"/api/v1/forms/closing": b"HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 2"
    b"\r\n\r\nok",
    b"/api/v1/forms/framed": b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nokEXTRA",
    b"/api/v1/forms/chunked": b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n"
    b"2\r\nok\r\n0\r\n\r\n",
    b"/api/v1/forms/spaced": b"HTTP/1.1 200 OK\r\ncontent-length: 2 \r\n\r\nok",
}
"""What a raw service answers, by path, each in one write (the flat reading's case)."""


async def raw_service(heads: list[bytes] | None = None) -> tuple[asyncio.Server, str, list[int]]:
    """A service that writes each answer in one piece (``RAW_ANSWERS``, by path; the query
    ignored); counts connections, and keeps the request heads it read in ``heads``."""
    connections: list[int] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(1)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                if heads is not None:
                    heads.append(head)
                target = head.split(b" ")[1].partition(b"?")[0]
                writer.write(RAW_ANSWERS[target])
                await writer.drain()
                if target == b"/api/v1/forms/closing":
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    return server, f"http://127.0.0.1:{port}", connections


async def test_the_flat_reading_answers_as_the_parser_does(
    start_pair: PairFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Answers the lean path reads whole from their first read (not with the upstream
    connection's parser) are the same bytes as the ASGI path's; those it leaves to the parser
    (a folded line, ``Connection: close``, bytes after the answer, chunks) too; and the
    pooled connection is reused after a flat reading."""
    taken: list[bool] = []
    monkeypatch.setattr(_LeanRequest, "flat", recorded(_LeanRequest.flat, taken))
    server, url, connections = await raw_service()
    try:
        pair = await start_pair(lean_path=True, registry_url=url)
        rid = f"X-Request-ID: {RID}"
        for path in ("plain", "gone", "plain"):
            case = request("GET", f"/api/v1/forms/{path}", headers=(rid,))
            assert await kept_exchange(pair.fast, case) == await kept_exchange(pair.slow, case)
        assert taken == [True, True]  # (the first found no pooled connection: in a task)
        assert len(connections) == 2  # one per gateway, reused after each flat reading
        plain = request("GET", "/api/v1/forms/plain", headers=(rid,))
        for path in ("folded", "closing", "framed", "chunked", "spaced"):
            await kept_exchange(pair.fast, plain)  # a pooled connection again
            before = len(taken)
            case = request("GET", f"/api/v1/forms/{path}", headers=(rid,))
            assert await kept_exchange(pair.fast, case) == await kept_exchange(pair.slow, case)
            assert taken[before:] == [False], path
        case = request("GET", "/api/v1/forms/plain", headers=(rid,))
        answer = await kept_exchange(pair.fast, case)
        assert answer == await kept_exchange(pair.slow, case)
        assert taken[-1] is True
        assert answer.startswith(b"HTTP/1.1 200 OK\r\n")
        assert b"x-upstream: raw\r\n" in answer
        assert b"server: raw" not in answer
    finally:
        server.close()


async def test_an_empty_query_is_dropped_as_the_other_paths_drop_it(
    start_pair: PairFactory,
) -> None:
    """``GET /x?`` reaches the service as ``GET /x`` on every path (the other paths rebuild
    the target from the path and a query that is not empty)."""
    heads: list[bytes] = []
    server, url, _ = await raw_service(heads)
    try:
        pair = await start_pair(lean_path=True, registry_url=url)
        case = request("GET", "/api/v1/forms/plain?", headers=(f"X-Request-ID: {RID}",))
        for _ in range(2):  # the second finds a pooled connection: all of it the lean path's
            assert await kept_exchange(pair.fast, case) == await kept_exchange(pair.slow, case)
    finally:
        server.close()
    assert pair.lean == [True, True]
    assert [h.split(b"\r\n")[0] for h in heads] == [b"GET /api/v1/forms/plain HTTP/1.1"] * 4


async def test_a_failure_of_the_lean_path_before_it_takes_a_read_leaves_it_to_the_parser(
    start_pair: PairFactory, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    """A bug in the lean path (an error before it took the read) costs the request nothing:
    the read goes to the parser, the fast path answers it, and the error is logged."""

    def broken(self: LeanPath, protocol: object, data: bytes) -> bool:
        raise RuntimeError("a bug")

    monkeypatch.setattr(LeanPath, "__call__", broken)
    pair = await start_pair(lean_path=True)
    case = request("GET", "/api/v1/forms/benefits", headers=(f"X-Request-ID: {RID}",))
    assert await kept_exchange(pair.fast, case) == await kept_exchange(pair.slow, case)
    assert pair.taken == [True]
    assert "the lean path failed" in capfd.readouterr().out  # (the JSON log lines)


async def split_exchange(base_url: str, request: bytes, cuts: list[int]) -> bytes:
    """One request sent in pieces (``cuts``: where each write ends), a moment apart, on a
    new connection; its answer."""
    host, port = base_url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        sent = 0
        for cut in [*cuts, len(request)]:
            writer.write(request[sent:cut])
            await writer.drain()
            await asyncio.sleep(0.05)  # (read on its own)
            sent = cut
        return await read_answer(reader)
    finally:
        writer.close()


@pytest.mark.parametrize(
    ("cuts", "offered"),
    [
        ([0], [True, True]),  # the head, then the body: held, then taken with it
        ([100], [True, True]),  # the head and the body's start, then its rest
        ([100, 3000], [True, False]),  # the body in two more reads: the parser's
        ([-10], [False]),  # a head in two reads: the parser's
    ],
)
async def test_a_body_that_comes_after_its_head_is_waited_for(
    stack: Stack, start_pair: PairFactory, cuts: list[int], offered: list[bool]
) -> None:
    """A POST whose head comes in one read and the rest of its body in the next (Python's
    http.client sends a body over 2,920 bytes after its head): the lean path holds the first
    read and takes the two together. A body in more reads goes to the parser after the
    second. Both are answered as the ASGI path answers them."""
    pair = await start_pair(lean_path=True)
    bearer = f"Authorization: Bearer {stack.tokens.token('resident-1')}"
    warm = request("POST", "/api/v1/forms/echo/warm", b"{}", (bearer,))
    assert (await kept_exchange(pair.fast, warm)).startswith(b"HTTP/1.1 200 ")  # verified now
    body = json.dumps({"answers": "x" * 6000}).encode()
    case = request("POST", "/api/v1/forms/echo/post", body, (f"X-Request-ID: {RID}", bearer))
    start = case.index(b"\r\n\r\n") + 4
    lean = await split_exchange(pair.fast, case, [start + cut for cut in cuts])
    asgi = await split_exchange(pair.slow, case, [start + cut for cut in cuts])
    assert lean == asgi
    assert lean.startswith(b"HTTP/1.1 200 ")
    seen = json.loads(lean[lean.index(b"\r\n\r\n") + 4 :])
    assert (seen["size"], seen["sha256"]) == (len(body), hashlib.sha256(body).hexdigest())
    assert pair.lean == [False, *offered]  # (the warm-up's token not verified yet)
    assert pair.taken == [False, *([] if offered == [True, True] else [True])]


async def test_a_body_that_stops_after_its_head_gets_the_408_as_on_the_other_paths(
    stack: Stack, start_pair: PairFactory
) -> None:
    """Held for the lean path, the start of a body whose rest never comes is read by the
    parser once the body idle timeout has passed since it came: the same 408."""
    pair = await start_pair(lean_path=True, body_idle_timeout_seconds=0.3)
    bearer = f"Authorization: Bearer {stack.tokens.token('resident-1')}"
    await kept_exchange(pair.fast, request("POST", "/api/v1/forms/echo/warm", b"{}", (bearer,)))
    case = request("POST", "/api/v1/forms/echo/post", b"{" + b" " * 98 + b"}", (bearer,))
    case = case.replace(b"Content-Length: 100", b"Content-Length: 200")
    answers = []
    for base in (pair.fast, pair.slow):
        host, port = base.removeprefix("http://").split(":")
        reader, writer = await asyncio.open_connection(host, int(port))
        try:
            writer.write(case)
            answers.append(await asyncio.wait_for(read_answer(reader), 5))
            assert await asyncio.wait_for(reader.read(), 5) == b""  # and closed
        finally:
            writer.close()
    assert answers[0].startswith(b"HTTP/1.1 408 ")
    assert answers[0].split(b"x-request-id: ")[0] == answers[1].split(b"x-request-id: ")[0]
    assert pair.lean == [False, True]  # held
    assert pair.taken == [False]  # the warm-up (its token verified in a task)


async def test_a_shutdown_answers_a_request_held_for_its_body(stack: Stack) -> None:
    """A graceful shutdown while the lean path holds a request's head for its body: the
    parser reads what came, so the request is in progress, and it is answered when the rest
    comes (as on the other paths), then the connection is closed."""
    app = create_app(stack.settings())
    assert isinstance(app, Gateway)
    running = await serve(app, gateway=True)
    bearer = f"Authorization: Bearer {stack.tokens.token('resident-1')}"
    warm = request("POST", "/api/v1/forms/echo/warm", b"{}", (bearer,))
    await kept_exchange(running.url, warm)  # the token verified now
    body = b'{"a": "' + b"x" * 4000 + b'"}'
    case = request("POST", "/api/v1/forms/echo/post", body, (bearer,))
    start = case.index(b"\r\n\r\n") + 4
    host, port = running.url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        writer.write(case[:start])
        await writer.drain()
        await asyncio.sleep(0.1)  # held
        stopping = asyncio.create_task(running.stop())
        await asyncio.sleep(0.1)
        writer.write(case[start:])
        answer = await answered_then_closed(reader, stopping)
    finally:
        writer.close()
    assert json.loads(answer[answer.index(b"\r\n\r\n") + 4 :])["size"] == len(body)


async def test_a_client_gone_while_its_request_is_held_is_logged_and_counted(
    stack: Stack, start_pair: PairFactory, access_lines: list[str]
) -> None:
    """A client that leaves while the lean path holds its request's head: the parser reads
    what came, so the request is logged as gone (499) and counted by the rate limit, as on
    the other paths (with a burst of 2: the warm-up and the held one, then a 429)."""
    pair = await start_pair(lean_path=True, rate_limit_per_second=0.01, rate_limit_burst=2)
    bearer = f"Authorization: Bearer {stack.tokens.token('resident-1')}"
    results = []
    for n, base in enumerate((pair.fast, pair.slow)):
        await kept_exchange(base, request("POST", "/api/v1/forms/echo/warm", b"{}", (bearer,)))
        rid = f"lean-held-gone-{n}"
        case = request(
            "POST", "/api/v1/forms/echo/p", b"{}" * 100, (bearer, f"X-Request-ID: {rid}")
        )
        host, port = base.removeprefix("http://").split(":")
        _, writer = await asyncio.open_connection(host, int(port))
        writer.write(case[:-50])
        await writer.drain()
        await asyncio.sleep(0.1)  # held (on the lean path's gateway)
        writer.close()

        def logged(rid: str = rid) -> bool:
            return any(rid in line for line in access_lines)

        await eventually(logged, seconds=5)
        line = next(json.loads(x) for x in access_lines if rid in x)
        after = await kept_exchange(base, request("GET", "/api/v1/forms/after", headers=(bearer,)))
        results.append((line["status"], after[:12]))
    assert results[0] == results[1] == (499, b"HTTP/1.1 429")
    assert pair.lean[:2] == [False, True]  # (the warm-up's token not verified yet), held


async def test_a_joined_read_the_lean_path_declines_is_read_as_the_two_reads_it_was(
    stack: Stack, start_pair: PairFactory
) -> None:
    """The rest of a held body and the start of the next request in one read: the lean path
    declines the joined read, and the parser reads the held read and the new one as they
    came (counted together, the next head would have been over the header limit: a 431)."""
    pair = await start_pair(lean_path=True)
    bearer = f"Authorization: Bearer {stack.tokens.token('resident-1')}"
    one = request("POST", "/api/v1/forms/echo/one", b"x" * 41000, (bearer, f"X-Request-ID: {RID}"))
    two = request("GET", "/api/v1/forms/echo/two", headers=(f"X-Request-ID: {RID}",))
    cut = len(one) - 1000
    answers = []
    for base in (pair.fast, pair.slow):
        await kept_exchange(base, request("POST", "/api/v1/forms/echo/warm", b"{}", (bearer,)))
        host, port = base.removeprefix("http://").split(":")
        reader, writer = await asyncio.open_connection(host, int(port))
        try:
            for piece in (one[:cut], one[cut:] + two[:20], two[20:]):
                writer.write(piece)
                await writer.drain()
                await asyncio.sleep(0.1)
            answers.append([await read_answer(reader), await read_answer(reader)])
        finally:
            writer.close()
    assert answers[0] == answers[1]
    assert [a[:12] for a in answers[0]] == [b"HTTP/1.1 200", b"HTTP/1.1 200"]
    assert pair.lean == [False, True, False]  # held, then declined joined


async def test_a_body_over_the_high_water_mark_is_not_held(
    stack: Stack, start_pair: PairFactory
) -> None:
    """A body larger than uvicorn's high-water mark (64 KiB) starts on the ASGI path at once
    and streams, so its refusal (here a 429) comes at once: the lean path does not hold it
    (the rest of this body never comes; held, the 429 would wait for the body timeout)."""
    pair = await start_pair(lean_path=True, rate_limit_per_second=0.01, rate_limit_burst=1)
    bearer = f"Authorization: Bearer {stack.tokens.token('resident-1')}"
    await kept_exchange(pair.fast, request("POST", "/api/v1/forms/echo/warm", b"{}", (bearer,)))
    case = request("POST", "/api/v1/forms/echo/big", b"b" * 100_000, (bearer,))
    host, port = pair.fast.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        writer.write(case[: case.index(b"\r\n\r\n") + 504])
        answer = await asyncio.wait_for(read_answer(reader), 5)
    finally:
        writer.close()
    assert answer.startswith(b"HTTP/1.1 429 ")
    assert pair.lean == [False, False]


async def test_a_request_held_for_its_body_owes_no_head(
    stack: Stack, start_pair: PairFactory
) -> None:
    """The head of a request held for its body has come: the deadline for heads (shorter
    here than the pause before the body) does not close its connection; the body idle
    timeout is the one that applies, as on the other paths."""
    pair = await start_pair(
        lean_path=True, header_timeout_seconds=0.2, body_idle_timeout_seconds=5.0
    )
    bearer = f"Authorization: Bearer {stack.tokens.token('resident-1')}"
    await kept_exchange(pair.fast, request("POST", "/api/v1/forms/echo/warm", b"{}", (bearer,)))
    case = request("POST", "/api/v1/forms/echo/post", b"[" + b"1," * 500 + b"1]", (bearer,))
    start = case.index(b"\r\n\r\n") + 4
    host, port = pair.fast.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        writer.write(case[: start + 10])  # the first request on this connection
        await writer.drain()
        await asyncio.sleep(0.6)  # past the head deadline
        writer.write(case[start + 10 :])
        answer = await asyncio.wait_for(read_answer(reader), 5)
    finally:
        writer.close()
    assert answer.startswith(b"HTTP/1.1 200 ")
    assert pair.lean == [False, True, True]
