"""Review of the header-field limit and the server's pipelined refusals (docs/gateway.md,
"The limit on header fields"): empty lines before a request line do not hide a head over the
limit; a pipelined request whose body the server cannot read is refused after the answers
before it, not left waiting for a body that never comes; once a refusal is decided, nothing
more the client sends is read as requests."""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import TYPE_CHECKING

import pytest

from .test_fuzz_review import (
    LIMIT,
    RID,
    Start,
    _assert_431,
    _split,
    big_field,
    fields_of,
    get,
    one,
    read_answer,
    start,
)

if TYPE_CHECKING:
    from .conftest import Stack

__all__ = ["start"]  # the fixture, imported for the tests here


@pytest.mark.parametrize("path", ["fast", "asgi"])
async def test_empty_lines_before_a_head_do_not_hide_its_fields(
    path: str, start: Start, stack: Stack
) -> None:
    """An empty line before the request line (which the parser skips) once made the
    search for the head's end stop there: the head's fields were taken as four bytes, and
    a head over the limit read in one piece reached the service."""
    served = (await start())[path]
    before = len(stack.registry.seen)
    for prefix in (b"\r\n\r\n", b"\r\n\r\n\r\n"):
        data = prefix + get("/api/v1/forms/echo/x", big_field(LIMIT + 1000))
        _assert_431(*await one(served.url, data))
    assert len(stack.registry.seen) == before  # none reached the service


@pytest.mark.parametrize("path", ["fast", "asgi"])
async def test_a_broken_body_pipelined_behind_a_request_is_a_400_after_its_answer(
    path: str, start: Start, stack: Stack
) -> None:
    """A pipelined request whose chunked body cannot be read: the request before it is
    answered, then the 400 follows (the broken request was run and waited for the rest of
    its body until the body timeout, 30 s, then got a 408)."""
    served = (await start())[path]
    token = stack.tokens.headers("broken-body", role="admin")["Authorization"]
    broken = (
        "POST /api/v1/forms/echo/x HTTP/1.1\r\nHost: gateway.test\r\n"
        f"X-Request-ID: {RID}\r\nAuthorization: {token}\r\n"
        "Transfer-Encoding: chunked\r\n\r\nzz\r\n"
    ).encode()
    reader, writer = await asyncio.open_connection(*_split(served.url))
    try:
        writer.write(get("/api/v1/forms/slow?seconds=0.3") + broken)
        await writer.drain()
        first, _ = await read_answer(reader)
        assert first.startswith(b"HTTP/1.1 200 "), first
        refused, problem = await read_answer(reader)
        assert refused.startswith(b"HTTP/1.1 400 "), refused
        assert fields_of(refused)["content-type"] == "application/problem+json"
        assert json.loads(problem)["status"] == 400
        with contextlib.suppress(ConnectionError):
            assert await asyncio.wait_for(reader.read(), 5) == b""
    finally:
        writer.close()


@pytest.mark.parametrize("path", ["fast", "asgi"])
async def test_nothing_is_read_after_a_refusal_is_decided(
    path: str, start: Start, stack: Stack
) -> None:
    """A head refused while requests before it are answered (here counted with the 40 KB
    body read before it, as documented): the POST before it reading its body started the
    reading again, so the rest of that head was parsed, the request sent to the service
    and answered, and then an answer for no request (the 431) followed."""
    served = (await start())[path]
    payload = json.dumps({"x": "p" * 40_000}).encode()
    token = stack.tokens.headers("head-count", role="admin")["Authorization"]
    post = (
        f"POST /api/v1/forms/echo/b HTTP/1.1\r\nHost: gateway.test\r\nX-Request-ID: {RID}\r\n"
        f"Authorization: {token}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n\r\n"
    ).encode() + payload
    third = get("/api/v1/forms/echo/c")
    split = third.index(b"X-Request-ID")
    before = len(stack.registry.seen)  # the service is the session's, shared by tests
    reader, writer = await asyncio.open_connection(*_split(served.url))
    try:
        writer.write(get("/api/v1/forms/slow?seconds=0.3") + post + third[:split])
        await writer.drain()
        await asyncio.sleep(0.1)  # read apart (the server waits for the first answer)
        writer.write(third[split:])
        await writer.drain()
        first, _ = await read_answer(reader)
        assert first.startswith(b"HTTP/1.1 200 "), first
        second, body = await read_answer(reader)
        assert second.startswith(b"HTTP/1.1 200 "), second
        assert b"/api/v1/forms/echo/b" in body
        refused, _ = await read_answer(reader)
        assert refused.startswith(b"HTTP/1.1 431 "), refused
        with contextlib.suppress(ConnectionError):
            assert await asyncio.wait_for(reader.read(), 5) == b""
    finally:
        writer.close()
    seen_now = stack.registry.seen[before:]
    assert not any("/api/v1/forms/echo/c" in json.dumps(seen) for seen in seen_now), (
        "the refused request never reaches the service"
    )
