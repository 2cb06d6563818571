"""Real servers on 127.0.0.1: small FastAPI upstreams standing in for the services, and the
gateway in front of them under uvicorn, so every test goes over real sockets."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, ParamSpec, TypeVar

import httpx
import pytest
import pytest_asyncio
import uvicorn
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse, StreamingResponse

from tellonce_gateway.config import Settings
from tellonce_gateway.main import create_app
from tellonce_gateway.server import GatewayHttpProtocol
from tellonce_shared.logging import JSONFormatter
from tellonce_shared.testing import TokenFactory

P = ParamSpec("P")
R = TypeVar("R")


@dataclass
class Upstream:
    name: str
    url: str = ""
    seen: list[dict[str, Any]] = field(default_factory=list)
    """Every request the upstream answered: method, path, query, headers, body digest."""
    completed_bodies: int = 0


@dataclass
class Running:
    url: str
    server: uvicorn.Server
    task: asyncio.Task[None]

    async def stop(self) -> None:
        self.server.should_exit = True
        await self.task


async def serve(app: Any, *, gateway: bool = False, keep_alive: int = 30) -> Running:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app,
        log_config=None,
        access_log=False,
        ws="none",
        http=GatewayHttpProtocol if gateway else "httptools",  # as the CLI serves it
        lifespan="on",
        timeout_keep_alive=keep_alive,
        proxy_headers=False,
        server_header=not gateway,  # as the gateway's own CLI runs it
    )
    server = uvicorn.Server(config)
    server.capture_signals = _no_signals  # type: ignore[method-assign]
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    return Running(f"http://127.0.0.1:{port}", server, task)


@contextlib.contextmanager
def _no_signals() -> Iterator[None]:
    """Stands in for ``uvicorn.Server.capture_signals``: the tests' servers leave the
    process's signal handlers alone."""
    yield


def upstream_app(up: Upstream, tokens: TokenFactory) -> FastAPI:
    app = FastAPI(title=f"Tell-Once {up.name}")

    def record(request: Request, digest: str | None = None, size: int = 0) -> dict[str, Any]:
        entry = {
            "method": request.method,
            "path": request.url.path,
            "raw_path": request.scope.get("raw_path", b"").decode("latin-1"),
            "query": request.url.query,
            "headers": {k.decode("latin-1"): v.decode("latin-1") for k, v in request.headers.raw},
            "sha256": digest,
            "client_port": request.client.port if request.client else None,
            "size": size,
        }
        up.seen.append(entry)
        return entry

    @app.get("/readyz", include_in_schema=False)
    async def readyz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/.well-known/jwks.json")
    async def jwks() -> dict[str, Any]:
        return tokens.jwks

    @app.get("/.well-known/openid-configuration")
    async def discovery() -> dict[str, Any]:
        return {"issuer": tokens.issuer, "jwks_uri": tokens.issuer + "/.well-known/jwks.json"}

    @app.get("/")
    async def home(request: Request) -> Response:
        record(request)
        return Response(b"<!doctype html><title>Portal</title>", media_type="text/html")

    async def echo(request: Request) -> Response:
        digest = hashlib.sha256()
        size = 0
        async for chunk in request.stream():
            digest.update(chunk)
            size += len(chunk)
        up.completed_bodies += 1
        entry = record(request, digest.hexdigest(), size)
        return JSONResponse(entry, headers={"x-upstream": up.name})

    for prefix in ("/api/v1/forms", "/api/v1/identity", "/api/v1/submissions", "/api/v1/drafts"):
        for method in ("GET", "POST", "PUT", "DELETE", "HEAD"):
            app.add_api_route(
                prefix + "/echo/{rest:path}",
                echo,
                methods=[method],
                operation_id=f"echo_{method}_{prefix}",
            )
        for method in ("GET", "POST"):
            app.add_api_route(prefix, echo, methods=[method], operation_id=f"{method}_{prefix}")

    @app.post("/api/v1/identity/token")
    async def token(request: Request) -> JSONResponse:
        record(request)
        return JSONResponse({"access_token": "x", "token_type": "Bearer"})

    @app.post("/api/v1/identity/residents", status_code=201)
    async def sign_up(request: Request) -> dict[str, str]:
        record(request)
        return {"id": "r1"}

    @app.get("/api/v1/forms/slow")
    async def slow(seconds: float = 2.0) -> dict[str, str]:
        await asyncio.sleep(seconds)
        return {"status": "late"}

    @app.get("/api/v1/forms/trickle")
    async def trickle() -> StreamingResponse:
        async def parts() -> AsyncIterator[bytes]:
            yield b"first,"
            await asyncio.sleep(0.6)
            yield b"second"

        return StreamingResponse(parts(), media_type="text/plain")

    @app.get("/api/v1/forms/big")
    async def big(megabytes: int = 3) -> StreamingResponse:
        async def parts() -> AsyncIterator[bytes]:
            for i in range(megabytes * 16):
                yield bytes([i % 256]) * 65536

        return StreamingResponse(parts(), media_type="application/octet-stream")

    @app.get("/api/v1/forms/fancy")
    async def fancy() -> Response:
        resp = Response(b'{"ok":true}', status_code=203, media_type="application/json")
        resp.headers["x-custom"] = "kept"
        resp.headers["x-hop"] = "dropped"
        resp.headers["connection"] = "x-hop"
        resp.headers["keep-alive"] = "timeout=99"
        resp.headers["cache-control"] = "no-store"
        resp.set_cookie("a", "1")
        resp.set_cookie("b", "2")
        return resp

    @app.get("/api/v1/forms/missing")
    async def missing() -> Response:
        return Response(
            b'{"type":"about:blank","title":"Not found","status":404}',
            status_code=404,
            media_type="application/problem+json",
        )

    @app.post("/api/v1/forms/{slug}/versions", status_code=201)
    async def new_version(slug: str) -> dict[str, str]:
        return {"slug": slug}

    @app.get("/api/v1/forms/{slug}")
    async def form(slug: str) -> dict[str, str]:
        return {"slug": slug, "service": up.name}

    return app


@dataclass
class Stack:
    identity: Upstream
    registry: Upstream
    submissions: Upstream
    portal: Upstream
    tokens: TokenFactory

    def settings(self, **overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "identity_url": self.identity.url,
            "registry_url": self.registry.url,
            "submissions_url": self.submissions.url,
            "portal_url": self.portal.url,
            "issuer": self.tokens.issuer,
            "log_level": "INFO",
        }
        values.update(overrides)
        return Settings(**values)


@pytest.fixture(scope="session")
def tokens() -> TokenFactory:
    return TokenFactory()


@pytest_asyncio.fixture(scope="session")
async def stack(tokens: TokenFactory) -> AsyncIterator[Stack]:
    ups = {n: Upstream(n) for n in ("identity", "registry", "submissions", "portal")}
    running = []
    for up in ups.values():
        server = await serve(upstream_app(up, tokens))
        up.url = server.url
        running.append(server)
    yield Stack(tokens=tokens, **ups)
    for server in running:
        await server.stop()


GatewayFactory = Callable[..., Awaitable[str]]
"""``start_gateway``: settings overrides in, the gateway's base URL out."""
GatewayServer = Callable[[Any], Awaitable[str]]
"""``serve_gateway``: an application the test made in, its base URL out."""
UpstreamFactory = Callable[..., Awaitable[Upstream]]
"""``extra_upstream``: ``name`` and ``keep_alive`` in, the running upstream out."""
RawRequest = Callable[..., Awaitable[bytes]]
"""``raw``: :func:`raw_request` (base URL, the exact bytes, optional read timeout)."""


@pytest_asyncio.fixture
async def start_gateway(stack: Stack) -> AsyncIterator[GatewayFactory]:
    """Start a gateway (real uvicorn, real JWKS fetch from the identity upstream) with
    settings overrides; returns its base URL."""
    running: list[Running] = []

    async def start(**overrides: Any) -> str:
        server = await serve(create_app(stack.settings(**overrides)), gateway=True)
        running.append(server)
        return server.url

    yield start
    for server in running:
        await server.stop()


@pytest_asyncio.fixture
async def serve_gateway() -> AsyncIterator[GatewayServer]:
    """Serve a gateway application the test made itself, as the CLI serves it; returns its
    base URL."""
    running: list[Running] = []

    async def start(app: Any) -> str:
        server = await serve(app, gateway=True)
        running.append(server)
        return server.url

    yield start
    for server in running:
        await server.stop()


@dataclass
class Pair:
    fast: str
    slow: str
    taken: list[bool] = field(default_factory=list)
    """What the fast gateway's fast path answered for each request it was offered."""
    lean: list[bool] = field(default_factory=list)
    """What its lean path took of each read it was offered (``lean_path=True`` only)."""


PairFactory = Callable[..., Awaitable[Pair]]
"""``start_pair``: settings overrides in, the two gateways out."""


def recorded(call: Callable[P, R], outcomes: list[R]) -> Callable[P, R]:
    """``call``, each outcome appended to ``outcomes`` (what a fast or lean path took of
    what it was offered); a function, so it also stands in for a method on a class."""

    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        outcome = call(*args, **kwargs)
        outcomes.append(outcome)
        return outcome

    return wrapper


@pytest.fixture
def start_pair(stack: Stack, serve_gateway: GatewayServer) -> PairFactory:
    """Two gateways with the same settings: one with the fast path on, one with it off, so
    every request takes the ASGI path. The lean path (before the fast path) is off unless
    the test asks for it (``lean_path=True``)."""

    async def start(**overrides: Any) -> Pair:
        overrides.setdefault("lean_path", False)
        fast_app = create_app(stack.settings(**overrides))
        slow_app = create_app(stack.settings(**overrides))
        taken: list[bool] = []
        lean: list[bool] = []
        fast_app.fast_path = recorded(fast_app.fast_path, taken)  # type: ignore[method-assign]
        if fast_app.lean_path is not None:
            fast_app.lean_path = recorded(fast_app.lean_path, lean)  # type: ignore[assignment]
        slow_app.fast_path = None  # type: ignore[assignment,method-assign]
        return Pair(await serve_gateway(fast_app), await serve_gateway(slow_app), taken, lean)

    return start


@pytest_asyncio.fixture
async def gateway(start_gateway: GatewayFactory) -> str:
    return await start_gateway()


@pytest_asyncio.fixture
async def extra_upstream(tokens: TokenFactory) -> AsyncIterator[UpstreamFactory]:
    """Start one more test upstream, e.g. with a short keep-alive of its own."""
    running: list[Running] = []

    async def start(name: str = "registry", keep_alive: int = 30) -> Upstream:
        up = Upstream(name)
        server = await serve(upstream_app(up, tokens), keep_alive=keep_alive)
        up.url = server.url
        running.append(server)
        return up

    yield start
    for server in running:
        await server.stop()


async def raw_request(base_url: str, request: bytes, read_timeout: float = 5.0) -> bytes:
    """Send bytes exactly as given (no client normalising the path) and read the answer."""
    host, port = base_url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        writer.write(request)
        await writer.drain()
        return await asyncio.wait_for(reader.read(65536), read_timeout)
    finally:
        writer.close()


@pytest.fixture
def raw() -> RawRequest:
    return raw_request


@pytest_asyncio.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=10.0) as c:
        yield c


class _AccessLines(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []
        self.json = JSONFormatter("gateway")

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.json.format(record))


@pytest.fixture
def access_lines() -> Iterator[list[str]]:
    """The gateway's access lines as written (JSON), collected while the test runs."""
    handler = _AccessLines()
    logger = logging.getLogger("tellonce.access")
    logger.addHandler(handler)
    try:
        yield handler.lines
    finally:
        logger.removeHandler(handler)
