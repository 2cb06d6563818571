"""The framing of a chunked request body is bounded too (review finding, 2026-11-27): trailer
fields are header fields that come after the body, and a chunk extension can be as long as
a client likes; both were held, and copied as they grew, by the parser without a bound,
since the header limit only counts heads. Past ``GATEWAY_MAX_HEADER_BYTES`` plus a few bytes
per chunk (``server.CHUNK_FRAMING``) the request is a 431 and the connection closes; an
honest chunked upload, even of tiny chunks, passes whole."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
from typing import TYPE_CHECKING

import pytest

from .test_fuzz_review import RID, Start, _assert_431, _split, read_answer, start

if TYPE_CHECKING:
    from .conftest import Stack

__all__ = ["start"]


def _head(token: str) -> bytes:
    return (
        "POST /api/v1/forms/echo/x HTTP/1.1\r\nHost: gateway.test\r\n"
        f"X-Request-ID: {RID}\r\nAuthorization: {token}\r\n"
        "Transfer-Encoding: chunked\r\n\r\n"
    ).encode()


async def _flood(url: str, start: bytes, piece: bytes) -> tuple[int, bytes, bytes]:
    """Sends ``start``, then ``piece`` again and again (up to 8 MiB) until an answer comes:
    how much was sent, and the answer."""
    reader, writer = await asyncio.open_connection(*_split(url))
    sent = 0
    try:
        writer.write(start)
        while sent < 8 << 20 and not reader._buffer and not reader.at_eof():  # type: ignore[attr-defined]
            writer.write(piece)
            sent += len(piece)
            try:
                await writer.drain()
            except ConnectionError:
                break
            await asyncio.sleep(0.0005)
        head, body = await read_answer(reader)
        with contextlib.suppress(ConnectionError):  # then the connection ends
            assert await asyncio.wait_for(reader.read(), 5) == b""
        return sent, head, body
    finally:
        writer.close()


@pytest.mark.parametrize("path", ["fast", "asgi"])
@pytest.mark.parametrize(
    "opening",
    [b"5\r\nhello\r\n0\r\nX-Trailer: ", b"5\r\nhello\r\n5;name="],
    ids=["a trailer field", "a chunk extension"],
)
async def test_framing_that_never_ends_is_a_431(
    path: str, opening: bytes, start: Start, stack: Stack
) -> None:
    """A trailer field, or a chunk extension, sent 16 KiB at a time: refused long before
    the client is done (before 1 MiB), with the request's own id."""
    served = (await start())[path]
    token = stack.tokens.headers("trailers", role="admin")["Authorization"]
    sent, head, body = await _flood(served.url, _head(token) + opening, b"v" * 16384)
    _assert_431(head, body)
    assert "chunk framing and trailer fields" in json.loads(body)["detail"]
    assert sent < 1 << 20, f"{sent} bytes taken before the refusal"


@pytest.mark.parametrize("path", ["fast", "asgi"])
async def test_tiny_chunks_and_a_small_trailer_pass_whole(
    path: str, start: Start, stack: Stack
) -> None:
    """20,000 chunks of one byte (100 KB of framing, three times the header limit, in many
    reads) and a trailer field: the service receives the whole body."""
    served = (await start())[path]
    token = stack.tokens.headers("trailers", role="admin")["Authorization"]
    payload = bytes(range(256)) * 78 + b"x" * 32  # 20,000 bytes
    chunks = b"".join(b"1\r\n%b\r\n" % payload[i : i + 1] for i in range(len(payload)))
    data = _head(token) + chunks + b"0\r\nX-Checksum: fine\r\n\r\n"
    reader, writer = await asyncio.open_connection(*_split(served.url))
    try:
        for at in range(0, len(data), 4096):
            writer.write(data[at : at + 4096])
            await writer.drain()
            await asyncio.sleep(0)
        head, body = await read_answer(reader)
    finally:
        writer.close()
    assert head.startswith(b"HTTP/1.1 200 "), head
    seen = json.loads(body)
    assert seen["size"] == len(payload)
    assert seen["sha256"] == hashlib.sha256(payload).hexdigest()
