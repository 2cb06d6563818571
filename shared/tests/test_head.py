"""HEAD wherever GET is answered (``middleware.HeadAsGetMiddleware``, in every service built
with ``create_service_app``): the GET's status and header fields, no content; 405 where GET
is not answered; the access line under HEAD and the route's template."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio
import uvicorn
from fastapi import APIRouter
from fastapi.responses import StreamingResponse

from tellonce_shared.app import create_service_app
from tellonce_shared.http_protocol import CoalescingHttpProtocol
from tellonce_shared.settings import ServiceSettings
from tellonce_shared.testing import TokenFactory, asgi_client, eventually, static_verifier

router = APIRouter()


@router.get("/things/{name}")
async def read_thing(name: str) -> dict[str, str]:
    return {"name": name, "colour": "green"}


@router.post("/things")
async def make_thing() -> dict[str, str]:
    return {"made": "yes"}


@router.get("/stream")
async def stream() -> StreamingResponse:
    async def parts() -> AsyncIterator[bytes]:
        for i in range(3):
            yield b"part %d\n" % i

    return StreamingResponse(parts(), media_type="text/plain")


def make_app() -> object:
    return create_service_app(
        service="test",
        settings=ServiceSettings(),
        routers=[router],
        verifier=static_verifier(TokenFactory()),
    )


@pytest.fixture
def client() -> httpx.AsyncClient:
    return asgi_client(make_app(), headers={"x-request-id": "head-test-0001"})


async def test_head_answers_as_get_without_content(client: httpx.AsyncClient) -> None:
    got = await client.get("/things/kettle")
    head = await client.head("/things/kettle")
    assert got.status_code == head.status_code == 200
    assert head.content == b""
    for field in ("content-type", "content-length", "x-request-id"):
        assert head.headers[field] == got.headers[field], field
    assert int(head.headers["content-length"]) == len(got.content) > 0


async def test_head_where_get_is_not_answered(client: httpx.AsyncClient) -> None:
    not_allowed = await client.head("/things")  # POST only
    assert not_allowed.status_code == 405
    assert not_allowed.content == b""
    missing = await client.head("/nowhere")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    assert missing.content == b""
    health = await client.head("/healthz")
    assert health.status_code == 200


async def test_the_access_line_names_head_and_the_route(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="tellonce.access"):
        await client.head("/things/kettle")
    lines = [r for r in caplog.records if r.name == "tellonce.access"]
    assert [(r.method, r.route, r.status) for r in lines] == [  # type: ignore[attr-defined]
        ("HEAD", "/things/{name}", 200)
    ]


@pytest_asyncio.fixture
async def served() -> AsyncIterator[int]:
    """The app under uvicorn with the services' own protocol, on a free port."""
    config = uvicorn.Config(
        make_app(),  # type: ignore[arg-type]
        host="127.0.0.1",
        port=0,
        http=CoalescingHttpProtocol,
        log_config=None,
        access_log=False,
        lifespan="off",
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    await eventually(lambda: server.started)
    port: int = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield port
    finally:
        server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(task, 5)


async def test_head_on_a_kept_alive_connection_leaves_nothing_behind(served: int) -> None:
    """On the wire: a HEAD answer carries the GET's Content-Length and no content, so the
    next answer on the same connection is read from its first byte (a stray body would be
    taken for it); a streamed GET's HEAD too."""
    reader, writer = await asyncio.open_connection("127.0.0.1", served)
    try:
        for target in ("/things/kettle", "/stream"):
            writer.write(f"HEAD {target} HTTP/1.1\r\nHost: t\r\n\r\n".encode())
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
            assert head.startswith(b"HTTP/1.1 200 "), head
        writer.write(b"GET /things/kettle HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        answer = await asyncio.wait_for(reader.read(), 5)
        head, _, body = answer.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200 "), answer
        assert json.loads(body) == {"name": "kettle", "colour": "green"}
    finally:
        writer.close()
