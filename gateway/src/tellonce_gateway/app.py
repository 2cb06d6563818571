"""The gateway as a plain ASGI application: no framework on the hot path, because every
microsecond here is added to every request of every service (see docs/benchmarks.md).

Order of the edge checks for a proxied request: path sanity, CORS preflight, body size by
Content-Length, token (verified when sent, demanded where the route needs one), rate limit,
then the service. The gateway's own endpoints are /healthz, /readyz, /metrics,
/openapi.json and /docs."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import orjson
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.types import Message, Receive, Scope, Send

from tellonce_gateway.accesslog import AccessLog
from tellonce_gateway.clients import TrustedProxies
from tellonce_gateway.config import Settings
from tellonce_gateway.cors import CorsPolicy
from tellonce_gateway.edge_auth import bearer_token
from tellonce_gateway.headers import REQUEST_DROP, SecurityHeaders, connection_tokens
from tellonce_gateway.metrics import EDGE_REJECTIONS
from tellonce_gateway.native_proxy import forward_native, make_pool
from tellonce_gateway.openapi import DOCS_HTML, DOCS_INIT_JS, OpenAPICache
from tellonce_gateway.proxy import (
    ClientGone,
    StreamedBody,
    forward_aiohttp,
    make_session,
    read_whole_body,
)
from tellonce_gateway.ratelimit import RateLimiter
from tellonce_gateway.routes import API_UPSTREAMS, AUTH_ENDPOINTS, RouteTable
from tellonce_gateway.server import BODY, EXTENSION, RENDERED
from tellonce_gateway.upstream_client import UpstreamPool
from tellonce_shared.app import settle_garbage_collector
from tellonce_shared.auth import Principal, TokenVerifier
from tellonce_shared.logging import request_id_var
from tellonce_shared.metrics import RequestMetrics
from tellonce_shared.middleware import accept_request_id
from tellonce_shared.problems import (
    BadRequest,
    Forbidden,
    MethodNotAllowed,
    PayloadTooLarge,
    Problem,
    TooManyRequests,
    Unauthorized,
    problem_response,
)

log = logging.getLogger("tellonce.gateway")

OwnHandler = Callable[[Scope, Receive, Send], Awaitable[None]]
QUIET_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
READ_METHODS = frozenset({"GET", "HEAD"})
"""The gateway's own pages (health, metrics, the merged OpenAPI document) only answer these."""


class Gateway:
    def __init__(self, settings: Settings, verifier: TokenVerifier) -> None:
        self.settings = settings
        self.table = RouteTable(settings)
        self.verifier = verifier
        self.limiter = RateLimiter(settings.rate_limit_per_second, settings.rate_limit_burst)
        self.auth_limiter = RateLimiter(
            settings.auth_rate_limit_per_minute / 60.0, settings.auth_rate_limit_burst
        )
        self.security = SecurityHeaders(settings)
        self.cors = CorsPolicy(settings.cors_origins)
        self.proxies = TrustedProxies(settings.trusted_proxies)
        self.max_body = settings.max_body_bytes
        self.buffer_limit = min(settings.buffer_request_bytes, settings.max_body_bytes)
        self._session: aiohttp.ClientSession | None = None
        self.pools: dict[str, UpstreamPool] | None = None
        if settings.client == "native":
            self.pools = {
                name: make_pool(url, settings.connect_timeout, settings.keepalive_seconds)
                for name, url in self.table.upstreams.items()
            }
        self.metrics = RequestMetrics("gateway")
        self.access_log = AccessLog()
        self.openapi = OpenAPICache(
            {name: self.table.upstreams[name] for name in API_UPSTREAMS},
            self._fetch_json,
            lambda service, path: self.table.match(path).upstream == service,
            ttl=settings.openapi_cache_seconds,
        )
        self.own: dict[str, tuple[OwnHandler, str]] = {
            "/healthz": (self._healthz, "api"),
            "/readyz": (self._readyz, "api"),
            "/metrics": (self._metrics, "api"),
            "/openapi.json": (self._openapi, "api"),
            "/docs": (self._docs, "docs"),
            "/docs/init.js": (self._docs_js, "docs"),
        }

    # -- lifecycle -------------------------------------------------------------------------

    @property
    def session(self) -> aiohttp.ClientSession:
        """Made on first use inside the running loop (tests may skip the lifespan)."""
        if self._session is None or self._session.closed:
            self._session = make_session(self.settings)
        return self._session

    async def close(self) -> None:
        self.access_log.flush()
        for pool in (self.pools or {}).values():
            pool.close()
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                _ = self.session
                settle_garbage_collector()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.close()
                await send({"type": "lifespan.shutdown.complete"})
                return

    # -- entry point -----------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            await self._http(scope, receive, send)
        elif kind == "lifespan":
            await self._lifespan(receive, send)
        else:  # websockets are not part of the public API
            await send({"type": "websocket.close", "code": 1008})

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        request_id = length = chunked = authorization = origin = forwarded_for = None
        forwarded_proto = host = None
        upstream_headers: list[tuple[bytes, bytes]] = []
        listed: frozenset[bytes] = frozenset()
        for key, value in scope["headers"]:
            if key in REQUEST_DROP:
                if key == b"x-request-id":
                    request_id = value
                elif key == b"transfer-encoding":
                    chunked = value
                elif key == b"x-forwarded-for":
                    forwarded_for = value
                elif key == b"x-forwarded-proto":
                    forwarded_proto = value
                elif key == b"host":
                    host = value
                elif key == b"connection":
                    listed = connection_tokens(((key, value),))
                continue
            if key == b"content-length":
                length = value
                continue
            if key == b"authorization":
                authorization = value
            elif key == b"origin":
                origin = value
            upstream_headers.append((key, value))
        rid = accept_request_id(request_id.decode("latin-1") if request_id else None)
        context = request_id_var.set(rid)
        path: str = scope["path"]
        method: str = scope["method"]
        exchange = _Exchange(rid)
        cors_headers: list[tuple[bytes, bytes]] = []
        if origin is not None and self.cors.allows(origin):
            cors_headers = self.cors.response_headers(origin)
        security = self.security
        csp_kind = "api"
        extensions = scope.get("extensions")
        rendered = extensions is not None and EXTENSION in extensions

        async def send_out(message: Message) -> None:
            if message["type"] == "http.response.start":
                exchange.status = message["status"]
                if rendered:  # the gateway's own server: security headers pre-rendered
                    headers, message[RENDERED] = security.apply_rendered(
                        message.get("headers", ()), csp_kind
                    )
                else:
                    headers = security.apply(list(message.get("headers", ())), csp_kind)
                headers.append((b"x-request-id", exchange.rid_bytes))
                if cors_headers:
                    headers.extend(cors_headers)
                message["headers"] = headers
                if not rendered and BODY in message:  # another server: plain ASGI
                    body = message.pop(BODY)
                    await send(message)
                    await send({"type": "http.response.body", "body": body})
                    return
            await send(message)

        route_label = "unmatched"
        upstream = "-"
        try:
            own = self.own.get(path)
            if own is not None:
                handler, csp_kind = own
                route_label = path
                if method not in READ_METHODS:
                    raise MethodNotAllowed(
                        f"{method} is not allowed on {path}.", headers={"Allow": "GET, HEAD"}
                    )
                if path not in QUIET_PATHS:
                    self._limit(exchange, self._address(scope, forwarded_for), None)
                await handler(scope, receive, send_out)
                return
            if "/." in path and any(seg in (".", "..") for seg in path.split("/")):
                raise BadRequest("The path has dot segments.")
            route = self.table.match(path)
            route_label, upstream = route.prefix, route.upstream
            if upstream == "portal":
                csp_kind = "portal"
            if listed:
                upstream_headers = [(k, v) for k, v in upstream_headers if k not in listed]
            if (
                method == "OPTIONS"
                and origin is not None
                and scope_has(scope, b"access-control-request-method")
            ):
                await self._preflight(origin, send_out)
                return
            declared = None if length is None else _declared_length(length)
            if declared is not None and declared > self.max_body:
                EDGE_REJECTIONS.labels("body").inc()
                raise PayloadTooLarge(
                    f"The request body is over the limit of {self.max_body} bytes."
                )
            client = scope.get("client")
            peer: str = client[0] if client else "unknown"
            address = (
                peer if forwarded_for is None else self.proxies.client_address(peer, forwarded_for)
            )
            principal = (
                None
                if authorization is None
                else await self._principal(
                    exchange, authorization, address, route.upstream == "identity"
                )
            )
            if principal is None and route.needs_token(method, path):
                EDGE_REJECTIONS.labels("auth").inc()
                raise Unauthorized("An access token is required.")
            if method == "POST" and path.rstrip("/") in AUTH_ENDPOINTS:
                self._limit_auth(address)
            self._limit(exchange, address, principal)
            body: bytes | StreamedBody | None = None
            if chunked is not None:
                body = StreamedBody(receive, self.max_body)
            elif declared:
                if declared <= self.buffer_limit:
                    body = await read_whole_body(receive, declared)
                else:
                    body = StreamedBody(receive, declared, declared)
                    upstream_headers.append((b"content-length", str(declared).encode()))
            upstream_headers.append((b"x-request-id", exchange.rid_bytes))
            chain = peer if forwarded_for is None else self._forwarded_for(scope, forwarded_for)
            upstream_headers.append((b"x-forwarded-for", chain.encode()))
            upstream_headers.append((b"x-forwarded-proto", self._proto(scope, forwarded_proto)))
            if host is not None:
                upstream_headers.append((b"x-forwarded-host", host))
            query: bytes = scope.get("query_string", b"")
            target: bytes = scope.get("raw_path") or path.encode()
            if query:
                target += b"?" + query
            if self.pools is not None:
                await forward_native(
                    self.pools[upstream], route, method, target, upstream_headers, body, send_out
                )
            else:
                await forward_aiohttp(
                    self.session, route, method, target, upstream_headers, body, send_out
                )
        except Problem as problem:
            if exchange.status is None:
                await problem_response(problem, path)(scope, receive, send_out)
        except ClientGone:
            exchange.status = 499
        except Exception:
            log.exception("unhandled error in the gateway")
            if exchange.status is None:
                internal = Problem(
                    "An unexpected error occurred; it has been logged with the request id.",
                    status=500,
                    title="Internal server error",
                    slug="internal",
                )
                await problem_response(internal, path)(scope, receive, send_out)
        finally:
            elapsed = time.perf_counter() - started
            status = exchange.status or 500
            if path not in QUIET_PATHS:
                self.access_log.request(
                    {
                        "method": method,
                        "route": route_label,
                        "path": path,
                        "status": status,
                        "duration_ms": round(elapsed * 1000, 2),
                        "upstream": upstream,
                        "client": exchange.client,
                    }
                )
            self.metrics.observe(method, route_label, status, elapsed)
            request_id_var.reset(context)

    # -- edge checks -----------------------------------------------------------------------

    def _address(self, scope: Scope, forwarded_for: bytes | None) -> str:
        client = scope.get("client")
        peer = client[0] if client else "unknown"
        return self.proxies.client_address(peer, forwarded_for)

    def _forwarded_for(self, scope: Scope, forwarded_for: bytes | None) -> str:
        client = scope.get("client")
        peer = client[0] if client else "unknown"
        if forwarded_for is not None and self.proxies.trusts(peer):
            return f"{forwarded_for.decode('latin-1')}, {peer}"
        return peer

    def _proto(self, scope: Scope, forwarded_proto: bytes | None) -> bytes:
        if forwarded_proto is not None:
            client = scope.get("client")
            if client and self.proxies.trusts(client[0]):
                value = forwarded_proto.split(b",")[0].strip().lower()
                if value in (b"http", b"https"):
                    return value
        return b"https" if scope.get("scheme") == "https" else b"http"

    async def _principal(
        self, exchange: _Exchange, authorization: bytes | None, address: str, basic_ok: bool
    ) -> Principal | None:
        """The verified caller, if an Authorization header came. Any header but Basic to the
        identity service (client credentials, RFC 6749 2.3.1) must be a valid Bearer token."""
        if authorization is None:
            return None
        if basic_ok and authorization[:6].lower() == b"basic ":
            return None
        try:
            principal = await self.verifier.verify(bearer_token(authorization))
        except Unauthorized:
            EDGE_REJECTIONS.labels("auth").inc()
            exchange.client = "addr:" + address
            # Bad tokens count against the address, so guessing them is rate limited too.
            wait = self.limiter.retry_after("addr:" + address)
            if wait is not None:
                EDGE_REJECTIONS.labels("rate").inc()
                raise TooManyRequests("Too many requests; slow down.", retry_after=wait) from None
            raise
        return principal

    def _limit(self, exchange: _Exchange, address: str, principal: Principal | None) -> None:
        key = "sub:" + principal.sub if principal is not None else "addr:" + address
        exchange.client = key
        wait = self.limiter.retry_after(key)
        if wait is not None:
            EDGE_REJECTIONS.labels("rate").inc()
            raise TooManyRequests("Too many requests; slow down.", retry_after=wait)

    def _limit_auth(self, address: str) -> None:
        wait = self.auth_limiter.retry_after("addr:" + address)
        if wait is not None:
            EDGE_REJECTIONS.labels("rate-auth").inc()
            raise TooManyRequests(
                "Too many sign-in or sign-up attempts from this address; wait and retry.",
                retry_after=wait,
            )

    async def _preflight(self, origin: bytes, send: Send) -> None:
        if not self.cors.allows(origin):
            EDGE_REJECTIONS.labels("cors").inc()
            raise Forbidden("This origin may not call the API from a browser.")
        await send(
            {
                "type": "http.response.start",
                "status": 204,
                "headers": self.cors.preflight_headers(),
            }
        )
        await send({"type": "http.response.body", "body": b""})

    # -- the gateway's own endpoints -------------------------------------------------------

    async def _fetch_json(self, url: str) -> dict[str, Any]:
        timeout = aiohttp.ClientTimeout(total=self.settings.readiness_timeout)
        headers = {"X-Request-ID": request_id_var.get() or ""}
        async with self.session.get(url, timeout=timeout, headers=headers) as resp:
            resp.raise_for_status()
            doc = orjson.loads(await resp.read())
        if not isinstance(doc, dict):
            raise ValueError(f"{url} did not return a JSON object")
        return doc

    async def _upstream_ready(self, url: str) -> str:
        timeout = aiohttp.ClientTimeout(total=self.settings.readiness_timeout)
        try:
            async with self.session.get(url + "/readyz", timeout=timeout) as resp:
                await resp.read()
                return "ok" if resp.status == 200 else f"unavailable: status {resp.status}"
        except (aiohttp.ClientError, TimeoutError) as exc:
            return f"unavailable: {type(exc).__name__}"

    async def _healthz(self, scope: Scope, receive: Receive, send: Send) -> None:
        await _send_json(send, 200, b'{"status":"ok"}')

    async def _readyz(self, scope: Scope, receive: Receive, send: Send) -> None:
        names = list(self.table.upstreams)
        results = await asyncio.gather(
            *(self._upstream_ready(self.table.upstreams[n]) for n in names)
        )
        checks = dict(zip(names, results, strict=True))
        ok = all(r == "ok" for r in results)
        body = {"status": "ok" if ok else "unavailable", "checks": checks}
        await _send_json(send, 200 if ok else 503, orjson.dumps(body))

    async def _metrics(self, scope: Scope, receive: Receive, send: Send) -> None:
        await _send_bytes(send, 200, generate_latest(), CONTENT_TYPE_LATEST.encode())

    async def _openapi(self, scope: Scope, receive: Receive, send: Send) -> None:
        await _send_json(send, 200, orjson.dumps(await self.openapi.document()))

    async def _docs(self, scope: Scope, receive: Receive, send: Send) -> None:
        await _send_bytes(send, 200, DOCS_HTML, b"text/html; charset=utf-8")

    async def _docs_js(self, scope: Scope, receive: Receive, send: Send) -> None:
        await _send_bytes(send, 200, DOCS_INIT_JS, b"text/javascript; charset=utf-8")


class _Exchange:
    """What the gateway learned about one request, for its access log line."""

    __slots__ = ("client", "rid_bytes", "status")

    def __init__(self, rid: str) -> None:
        self.rid_bytes = rid.encode()
        self.status: int | None = None
        self.client = "-"


def scope_has(scope: Scope, name: bytes) -> bool:
    return any(key == name for key, _ in scope["headers"])


def _declared_length(value: bytes | None) -> int | None:
    if value is None:
        return None
    try:
        declared = int(value)
    except ValueError:
        raise BadRequest("The Content-Length header is not a number.") from None
    if declared < 0:
        raise BadRequest("The Content-Length header is negative.")
    return declared


async def _send_json(send: Send, status: int, body: bytes) -> None:
    await _send_bytes(send, status, body, b"application/json")


async def _send_bytes(send: Send, status: int, body: bytes, content_type: bytes) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", content_type),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
