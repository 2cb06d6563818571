"""The gateway as a plain ASGI application: no framework on the hot path, because every
microsecond here is added to every request of every service (see docs/benchmarks.md).

Order of the edge checks for a proxied request: path sanity, CORS preflight, body size by
Content-Length, token (one Authorization field at most, verified when sent, demanded where
the route needs one), rate limit (by token, else by the address's network), then the
service. They live in one place, ``Gateway._admit``, used both by the ASGI entry point and
by the fast path the gateway's own server offers (``Gateway.fast_path``: a complete request
answered from callbacks, without a task or awaited receive and send); the answer's headers
(``Gateway._head``), the problem answers and the access line and metrics
(``Gateway._finish``) are shared the same way. Just before forwarding, both paths check the
service's cap of requests in flight and its breaker (``tellonce_gateway.breaker``: a 503 at
once when either refuses), and count the request, which the forwarder gives back at the
answer's head. The gateway's own endpoints are /healthz, /readyz, /metrics,
/openapi.json and /docs."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine
from functools import partial
from typing import Any, cast

import aiohttp
import orjson
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.types import Message, Receive, Scope, Send

from tellonce_gateway.accesslog import AccessLog
from tellonce_gateway.breaker import Breaker
from tellonce_gateway.clients import AddressKeys, TrustedProxies
from tellonce_gateway.config import Settings
from tellonce_gateway.cors import CorsPolicy
from tellonce_gateway.edge_auth import bearer_token
from tellonce_gateway.headers import REQUEST_DROP, SecurityHeaders, connection_tokens
from tellonce_gateway.lean import LeanPath
from tellonce_gateway.ledger import LEDGER
from tellonce_gateway.metrics import EDGE_REJECTIONS
from tellonce_gateway.native_proxy import Work, forward_native, forward_native_now, make_pool
from tellonce_gateway.openapi import (
    DOCS_HTML,
    DOCS_INIT_JS,
    SWAGGER_UI_TYPES,
    OpenAPICache,
    swagger_ui_file,
)
from tellonce_gateway.proxy import (
    ClientGone,
    StreamedBody,
    forward_aiohttp,
    make_session,
    read_whole_body,
)
from tellonce_gateway.ratelimit import RateLimiter
from tellonce_gateway.routes import API_UPSTREAMS, AUTH_ENDPOINTS, Route, RouteTable
from tellonce_gateway.server import BODY, CLIENT_GONE, EXTENSION, RENDERED, GatewayCycle
from tellonce_gateway.upstream_client import UpstreamPool
from tellonce_shared.app import settle_garbage_collector
from tellonce_shared.auth import Principal, TokenVerifier
from tellonce_shared.logging import request_id_var
from tellonce_shared.metrics import RequestMetrics
from tellonce_shared.middleware import accept_request_id, new_request_id
from tellonce_shared.problems import (
    BadRequest,
    Forbidden,
    InternalError,
    MethodNotAllowed,
    PayloadTooLarge,
    Problem,
    TooManyRequests,
    Unauthorized,
    problem_response,
)

log = logging.getLogger("tellonce.gateway")

OwnHandler = Callable[[Scope, Receive, Send], Awaitable[None]]
_Finished = tuple[float, float, str, str, str, int, str, str, str]
"""A finished request as the ledger holds it: when it finished (``time.time()``), how long it
took, method, route, path, status, upstream, client and request id."""
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
        self.address_keys = AddressKeys()
        self._address_keys = self.address_keys.keys
        """The rate-limit key of each client address (its network), remembered."""
        self.header_timeout = settings.header_timeout_seconds
        """Read by the gateway's server (``server.HEADER_TIMEOUT``): the time a connection
        has for its first request's head, and any request for its head once it began."""
        self.body_idle_timeout = settings.body_idle_timeout_seconds
        """Read by the gateway's server (``server.BODY_IDLE_TIMEOUT``): the time a request's
        body may go without a byte from the client while the server reads it."""
        self.max_body = settings.max_body_bytes
        self.max_target_bytes = settings.max_target_bytes
        """The longest request target (path and query, as sent) taken; longer is a 414. Read
        by the gateway's server too (``server.MAX_TARGET``), which holds no more of it."""
        self.max_header_bytes = settings.max_header_bytes
        """Read by the gateway's server (``server.MAX_HEADER``): the most bytes a request's
        header fields may take; past it the server answers 431 (:meth:`server_answer`)."""
        self.buffer_limit = min(settings.buffer_request_bytes, settings.max_body_bytes)
        self._session: aiohttp.ClientSession | None = None
        self.pools: dict[str, UpstreamPool] | None = None
        if settings.client == "native":
            self.pools = {
                name: make_pool(url, settings.connect_timeout, settings.keepalive_seconds)
                for name, url in self.table.upstreams.items()
            }
        self.breakers = {
            name: Breaker(
                name,
                max_in_flight=settings.upstream_max_in_flight,
                failures_to_open=settings.breaker_failures,
                open_seconds=settings.breaker_open_seconds,
            )
            for name in self.table.upstreams
        }
        """Requests in flight to each service and its breaker (tellonce_gateway.breaker)."""
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
            **{path: (self._swagger_ui, "docs") for path in SWAGGER_UI_TYPES},
        }
        self.lean_path = LeanPath(self) if self.pools is not None and settings.lean_path else None
        """Read by the gateway's server (``server.LEAN_PATH``): the usual request in one
        flat pass (tellonce_gateway.lean), before the fast path."""

    # -- lifecycle -------------------------------------------------------------------------

    @property
    def session(self) -> aiohttp.ClientSession:
        """Made on first use inside the running loop (tests may skip the lifespan)."""
        if self._session is None or self._session.closed:
            self._session = make_session(self.settings)
        return self._session

    async def close(self) -> None:
        LEDGER.settle()
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
        """A request as ASGI: the gateway's own endpoints, or the edge checks and the
        service (:meth:`_admit`, the same checks as :meth:`fast_path`)."""
        exchange = _Exchange(scope, self.cors)
        context = request_id_var.set(exchange.rid)
        send_out = self._sender(exchange, send, EXTENSION in (scope.get("extensions") or ()))
        try:
            work = self._serve(exchange, scope, receive, send_out)
            await self._guarded(exchange, work, send_out)
        finally:
            request_id_var.reset(context)

    async def _serve(self, exchange: _Exchange, scope: Scope, receive: Receive, send: Send) -> None:
        own = self.own.get(exchange.path)
        if own is not None:
            await self._own(exchange, own, scope, receive, send)
            return
        try:
            route = self._admit(exchange, None)
        except _Unverified as unverified:
            principal = await self._verify(exchange, unverified.token, unverified.address)
            route = self._admit(exchange, principal)
        if route is None:
            await _answer(204, self.cors.preflight_headers(), b"", send)
            return
        body: bytes | StreamedBody | None = None
        declared = exchange.declared
        if exchange.chunked is not None:
            body = StreamedBody(receive, self.max_body)
        elif declared:
            if declared <= self.buffer_limit:
                body = await read_whole_body(receive, declared)
            else:
                body = StreamedBody(receive, declared, declared)
        breaker = self.breakers[route.upstream]
        # One comparison while the service is well (the cap); anything else asks the breaker
        # (which raises the 503). The request is tagged with the breaker's generation.
        generation = breaker.admit() if breaker.in_flight >= breaker.limit else breaker.generation
        breaker.in_flight += 1  # given back by the forwarder (tellonce_gateway.breaker)
        await self._forwarding(exchange, route, body, send, breaker, generation)

    def fast_path(self, scope: Scope, body: bytes, cycle: GatewayCycle) -> bool:
        """The usual proxied request without a task (the gateway's own server calls this
        when a request is all in after one read): the same edge checks (:meth:`_admit`),
        then the request written to an idle pooled connection and a small answer written
        back from that connection's callback. Whatever cannot be done from a callback goes
        on in a task with the same code as :meth:`_http`. A service at its cap of requests
        in flight, or behind an open breaker, is answered 503 from here. Returns False,
        having done nothing, for what it does not take: the gateway's own endpoints, a body
        to stream, a token not verified recently, the aiohttp forwarder."""
        path: str = scope["path"]
        if self.pools is None or path in self.own:
            return False
        exchange = _Exchange(scope, self.cors)
        length = exchange.length
        if exchange.chunked is not None or (
            length is not None and not (length.isdigit() and int(length) <= self.buffer_limit)
        ):
            return False  # streamed, too large or invalid: the ASGI way
        context = request_id_var.set(exchange.rid)
        try:
            try:
                route = self._admit(exchange, None)
            except _Unverified:
                return False  # the token is verified in a task (nothing done yet)
            if route is None:
                self._answer_now(exchange, cycle, 204, self.cors.preflight_headers(), b"")
                return True
            pool = self.pools[route.upstream]
            breaker = self.breakers[route.upstream]
            generation = (  # as in _serve
                breaker.admit() if breaker.in_flight >= breaker.limit else breaker.generation
            )

            def later(work: Work) -> None:
                context = request_id_var.set(exchange.rid)
                try:
                    send = self._sender(exchange, cast(Send, cycle.send), True)
                    cycle.continue_in_task(self._guarded(exchange, work(send), send))
                finally:
                    request_id_var.reset(context)

            headers = exchange.upstream_headers
            method, target = exchange.method, exchange.target
            whole = partial(self._answer_now, exchange, cycle)
            breaker.in_flight += 1  # given back by the forwarder, at the answer's head
            try:
                forward_native_now(
                    pool, route, method, target, headers, body or None, whole, later,
                    breaker, generation,
                )  # fmt: skip
            except BaseException:
                breaker.ended_early(generation, failure=False)  # nothing was taken over
                raise
        except Exception as exc:
            self.fail_now(exchange, cycle, exc)
        finally:
            request_id_var.reset(context)
        return True

    def fail_now(self, exchange: _Exchange, cycle: GatewayCycle, exc: Exception) -> None:
        """An error out of a request of the fast path, answered from the callback (a problem
        answer, unless one cannot be sent any more), and the request logged."""
        problem = self._problem_for(exchange, exc)
        if problem is not None:
            self._answer_now(exchange, cycle, *_problem_answer(problem, exchange.path))
        else:
            cycle.done()
            self._finish(exchange)

    def exchange_for(self, scope: Scope) -> _Exchange:
        """The edge's view of a request (the lean path's, when it goes on as the fast
        path's)."""
        return _Exchange(scope, self.cors)

    # -- one request, both ways ------------------------------------------------------------

    def _admit(self, exchange: _Exchange, verified: Principal | None) -> Route | None:
        """The edge checks of a proxied request, in order: path sanity, route, CORS
        preflight (None: answer it), body size by Content-Length, token (``verified``: the
        token's principal when already checked; else one verified recently, or
        :class:`_Unverified` raised before anything was counted), rate limits; then the
        headers for the service. Raises a Problem for the answer to give instead."""
        if len(exchange.target) > self.max_target_bytes:
            raise self._target_too_long(exchange)
        path = exchange.path
        method = exchange.method
        if "/." in path and any(seg in (".", "..") for seg in path.split("/")):
            raise BadRequest("The path has dot segments.")
        route = self.table.match(path)
        exchange.route_label, exchange.upstream = route.prefix, route.upstream
        exchange.csp_kind = route.csp_kind
        listed = exchange.listed
        if listed:
            exchange.upstream_headers = [
                (k, v) for k, v in exchange.upstream_headers if k not in listed
            ]
        origin = exchange.origin
        if method == "OPTIONS" and origin is not None and exchange.preflight:
            if not self.cors.allows(origin):
                EDGE_REJECTIONS.labels("cors").inc()
                raise Forbidden("This origin may not call the API from a browser.")
            return None
        length = exchange.length
        declared = exchange.declared = None if length is None else _declared_length(length)
        if declared is not None and declared > self.max_body:
            EDGE_REJECTIONS.labels("body").inc()
            raise PayloadTooLarge(f"The request body is over the limit of {self.max_body} bytes.")
        peer = exchange.peer
        forwarded_for = exchange.forwarded_for
        address = (
            peer if forwarded_for is None else self.proxies.client_address(peer, forwarded_for)
        )
        principal = (
            None
            if exchange.authorization is None
            else self._principal(exchange, address, route.upstream == "identity", verified)
        )
        if principal is None and route.needs_token(method, path):
            EDGE_REJECTIONS.labels("auth").inc()
            raise Unauthorized("An access token is required.")
        if method == "POST" and path.rstrip("/") in AUTH_ENDPOINTS:
            self._limit_auth(address)
        self._limit(exchange, address, principal)
        # Passed: the headers for the service, in the order they have always had.
        headers = exchange.upstream_headers
        if exchange.chunked is None and declared and declared > self.buffer_limit:
            headers.append((b"content-length", str(declared).encode()))
        self.add_forwarding_fields(
            headers, exchange.rid_bytes, exchange.has_client, peer, exchange.scheme,
            forwarded_for, exchange.forwarded_proto, exchange.host,
        )  # fmt: skip
        return route

    def add_forwarding_fields(
        self,
        headers: list[tuple[bytes, bytes]],
        rid: bytes,
        has_client: bool,
        peer: str,
        scheme: str | None,
        forwarded_for: bytes | None,
        forwarded_proto: bytes | None,
        host: bytes | None,
    ) -> None:
        """The fields the gateway sets for the service, appended in the order they have always
        had: the request id, who called (``X-Forwarded-For``: the chain when a trusted proxy
        sent one), over what (``X-Forwarded-Proto``: a trusted proxy's word, else the
        connection's scheme) and the ``Host`` the client asked for (the lean path's requests
        and the others alike)."""
        headers.append((b"x-request-id", rid))
        chain = peer if forwarded_for is None else self._forwarded_for(peer, forwarded_for)
        headers.append((b"x-forwarded-for", chain.encode()))
        proto = None
        if forwarded_proto is not None and has_client and self.proxies.trusts(peer):
            value = forwarded_proto.split(b",")[0].strip().lower()
            if value in (b"http", b"https"):
                proto = value
        headers.append((b"x-forwarded-proto", proto or _SCHEME_PROTO.get(scheme, b"http")))
        if host is not None:
            headers.append((b"x-forwarded-host", host))

    def _forwarding(
        self,
        exchange: _Exchange,
        route: Route,
        body: bytes | StreamedBody | None,
        send: Send,
        breaker: Breaker,
        generation: int,
    ) -> Coroutine[Any, Any, int]:
        """The forwarder's work for this request (counted in ``breaker.in_flight``, given
        back by the forwarder), to be awaited at once."""
        request = (
            route,
            exchange.method,
            exchange.target,
            exchange.upstream_headers,
            body,
            send,
            breaker,
            generation,
        )
        if self.pools is not None:
            return forward_native(self.pools[route.upstream], *request)
        return forward_aiohttp(self.session, *request)

    async def _own(
        self,
        exchange: _Exchange,
        own: tuple[OwnHandler, str],
        scope: Scope,
        receive: Receive,
        send: Send,
    ) -> None:
        """One of the gateway's own endpoints (read-only; rate limited unless quiet)."""
        if len(exchange.target) > self.max_target_bytes:
            raise self._target_too_long(exchange)
        handler, exchange.csp_kind = own
        path = exchange.route_label = exchange.path
        method = exchange.method
        if method not in READ_METHODS:
            raise MethodNotAllowed(
                f"{method} is not allowed on {path}.", headers={"Allow": "GET, HEAD"}
            )
        if path not in QUIET_PATHS:
            address = self.proxies.client_address(exchange.peer, exchange.forwarded_for)
            self._limit(exchange, address, None)
        await handler(scope, receive, send)

    async def _guarded(self, exchange: _Exchange, work: Awaitable[object], send: Send) -> None:
        """A request's work (:meth:`_serve`, or the rest of a request of the fast path, in a
        task), its errors answered, then the request logged."""
        try:
            await work
        except Exception as exc:
            problem = self._problem_for(exchange, exc)
            if problem is not None:
                await self._answer_problem(exchange, problem, send)
        finally:
            self._finish(exchange)

    def _problem_for(self, exchange: _Exchange, exc: Exception) -> Problem | None:
        """The answer to an error out of the pipeline, None when none can be sent any more
        (an answer has started) or nobody is left to read it (the client left)."""
        if isinstance(exc, ClientGone):
            exchange.status = 499
            return None
        if isinstance(exc, Problem):
            problem = exc
        else:
            log.exception("unhandled error in the gateway", exc_info=exc)
            problem = InternalError()
        return problem if exchange.status is None else None

    def _finish(self, exchange: _Exchange) -> None:
        """The request is over: its access line and metrics are noted in the ledger, written
        a moment later with others (tellonce_gateway.ledger)."""
        LEDGER.add(
            self._account,
            (
                time.time(),
                time.perf_counter() - exchange.started,
                exchange.method,
                exchange.route_label,
                exchange.path,
                exchange.status or 500,
                exchange.upstream,
                exchange.client,
                exchange.rid,
            ),
        )

    def _account(self, entry: _Finished) -> None:
        """One finished request's access line and request metrics (from the ledger)."""
        at, elapsed, method, route_label, path, status, upstream, client, rid = entry
        if path not in QUIET_PATHS:
            self.access_log.request(
                {
                    "method": method,
                    "route": route_label,
                    "path": path,
                    "status": status,
                    "duration_ms": round(elapsed * 1000, 2),
                    "upstream": upstream,
                    "client": client,
                },
                request_id=rid,
                at=at,
            )
        self.metrics.observe(method, route_label, status, elapsed)

    # -- answers ---------------------------------------------------------------------------

    def _head(
        self, exchange: _Exchange, headers: list[tuple[bytes, bytes]], rendered: bool
    ) -> tuple[list[tuple[bytes, bytes]], bytes | None]:
        """An answer's headers with the gateway's own (security headers, request id, CORS);
        with ``rendered``, the security headers come back as written on the wire."""
        kind = exchange.csp_kind
        if rendered:  # the gateway's own server: security headers pre-rendered
            out, wire = self.security.apply_rendered(headers, kind)
        else:
            out, wire = self.security.apply(list(headers), kind), None
        out.append((b"x-request-id", exchange.rid_bytes))
        if exchange.cors_headers:
            out.extend(exchange.cors_headers)
        return out, wire

    def _sender(self, exchange: _Exchange, send: Send, rendered: bool) -> Send:
        """``send`` with the gateway's headers added to the answer's start (:meth:`_head`);
        under another server, a whole answer in one message is split in two."""

        async def send_out(message: Message) -> None:
            if message["type"] == "http.response.start":
                exchange.status = message["status"]
                headers, wire = self._head(exchange, message.get("headers", ()), rendered)
                message["headers"] = headers
                if wire is not None:
                    message[RENDERED] = wire
                if not rendered and BODY in message:  # another server: plain ASGI
                    body = message.pop(BODY)
                    await send(message)
                    await send({"type": "http.response.body", "body": body})
                    return
                await send(message)
                if CLIENT_GONE in message:  # nothing of the answer reached the client
                    exchange.status = 499
                return
            await send(message)

        return send_out

    async def _answer_problem(self, exchange: _Exchange, problem: Problem, send: Send) -> None:
        status, headers, body = _problem_answer(problem, exchange.path)
        await _answer(status, headers, body, send)

    def _answer_now(
        self,
        exchange: _Exchange,
        cycle: GatewayCycle,
        status: int,
        headers: list[tuple[bytes, bytes]],
        body: bytes,
    ) -> None:
        """A whole answer written from a callback (the fast path), then the request logged."""
        context = request_id_var.set(exchange.rid)
        try:
            exchange.status = status
            out, wire = self._head(exchange, headers, True)
            message = {
                "type": "http.response.start",
                "status": status,
                "headers": out,
                RENDERED: wire,
                BODY: body,
            }
            cycle.answer(message)
            if CLIENT_GONE in message:  # the client left before it: nothing reached it
                exchange.status = 499
        except Exception:
            log.exception("unhandled error in the gateway")
        finally:
            self._finish(exchange)
            request_id_var.reset(context)

    def server_answer(
        self, status: int, detail: str, request_id: bytes | None
    ) -> tuple[bytes, bytes]:
        """An answer the gateway's server makes itself, without a request to route
        (``server.SERVER_ANSWER``): 400 for a request it cannot parse, 408 for a head that
        did not come in time, 431 for header fields over the limit. Its header fields as
        written on the wire (problem+json, the security headers, the request id the head
        sent if well-formed, else a new one) and its body; counted as rejected (reason
        ``unparsable``, ``head-timeout`` or ``header-fields``) and logged under its request
        id."""
        if status == 408:
            problem = Problem(detail, status=408, title="Request timeout", slug="request-timeout")
            reason = "head-timeout"
        elif status == 431:
            problem = Problem(
                detail,
                status=431,
                title="Request header fields too large",
                slug="header-fields-too-large",
            )
            reason = "header-fields"
        else:
            problem = Problem(detail, status=status)
            reason = "unparsable"
        EDGE_REJECTIONS.labels(reason).inc()
        rid = (
            new_request_id()
            if request_id is None
            else accept_request_id(request_id.decode("latin-1"))
        )
        context = request_id_var.set(rid)
        try:
            log.log(logging.WARNING if status == 400 else logging.INFO, "%s %s", status, detail)
        finally:
            request_id_var.reset(context)
        fields = b"".join(
            (
                b"content-type: application/problem+json\r\n",
                self.security.rendered["api", False, False],
                b"x-request-id: ",
                rid.encode(),
                b"\r\n",
            )
        )
        return fields, orjson.dumps(problem.body())

    # -- edge checks -----------------------------------------------------------------------

    def _target_too_long(self, exchange: _Exchange) -> UriTooLong:
        """The 414 for a request target over ``GATEWAY_MAX_TARGET_BYTES``, counted; the path
        is shortened for the answer's ``instance`` and the access line."""
        EDGE_REJECTIONS.labels("target").inc()
        if len(exchange.path) > _LOGGED_PATH:
            exchange.path = exchange.path[:_LOGGED_PATH] + "..."
        return UriTooLong(
            f"The request target (path and query) is over the limit of "
            f"{self.max_target_bytes} bytes."
        )

    def _forwarded_for(self, peer: str, forwarded_for: bytes) -> str:
        if self.proxies.trusts(peer):
            return f"{forwarded_for.decode('latin-1')}, {peer}"
        return peer

    def _principal(
        self, exchange: _Exchange, address: str, basic_ok: bool, verified: Principal | None
    ) -> Principal | None:
        """The verified caller, if an Authorization header came. Two or more are a 400: the
        field holds one credential (RFC 9110 11.6.2, no list), and a service reading another
        one than the edge checked would act for someone else. Any header but Basic to the
        identity service (client credentials, RFC 6749 2.3.1) must be a valid Bearer token:
        ``verified`` when it was just checked, else one the verifier remembers; otherwise
        :class:`_Unverified` is raised for the caller to verify it (:meth:`_verify`)."""
        authorization = exchange.authorization
        if authorization is None:
            return None
        if exchange.authorization_repeated:
            raise BadRequest(
                "The request has more than one Authorization header; send one credential."
            )
        if basic_ok and authorization[:6].lower() == b"basic ":
            return None
        if verified is not None:
            return verified
        try:
            token = bearer_token(authorization)
        except Unauthorized:
            self._bad_token(exchange, address)
            raise
        principal = self.verifier.remembered(token)
        if principal is None:
            raise _Unverified(token, address)
        return principal

    async def _verify(self, exchange: _Exchange, token: str, address: str) -> Principal:
        try:
            return await self.verifier.verify(token)
        except Unauthorized:
            self._bad_token(exchange, address)
            raise

    def _bad_token(self, exchange: _Exchange, address: str) -> None:
        """A token that is not valid: counted, and against the address's rate limit, so
        guessing tokens is rate limited too (429 instead of the 401 when over it)."""
        EDGE_REJECTIONS.labels("auth").inc()
        exchange.client = key = self.address_keys(address)
        wait = self.limiter.retry_after(key)
        if wait is not None:
            EDGE_REJECTIONS.labels("rate").inc()
            raise TooManyRequests("Too many requests; slow down.", retry_after=wait) from None

    def _limit(self, exchange: _Exchange, address: str, principal: Principal | None) -> None:
        """The client's rate limit: by the token's subject, else by the address's network
        (:func:`tellonce_gateway.clients.address_key`, remembered: one look-up)."""
        if principal is not None:
            key = "sub:" + principal.sub
        else:
            key = self._address_keys.get(address) or self.address_keys(address)
        exchange.client = key
        wait = self.limiter.retry_after(key)
        if wait is not None:
            EDGE_REJECTIONS.labels("rate").inc()
            raise TooManyRequests("Too many requests; slow down.", retry_after=wait)

    def _limit_auth(self, address: str) -> None:
        wait = self.auth_limiter.retry_after(self.address_keys(address))
        if wait is not None:
            EDGE_REJECTIONS.labels("rate-auth").inc()
            raise TooManyRequests(
                "Too many sign-in or sign-up attempts from this address; wait and retry.",
                retry_after=wait,
            )

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
        LEDGER.settle()  # every request answered before the scrape is in it
        await _send_bytes(send, 200, generate_latest(), CONTENT_TYPE_LATEST.encode())

    async def _openapi(self, scope: Scope, receive: Receive, send: Send) -> None:
        await _send_json(send, 200, orjson.dumps(await self.openapi.document()))

    async def _docs(self, scope: Scope, receive: Receive, send: Send) -> None:
        await _send_bytes(send, 200, DOCS_HTML, b"text/html; charset=utf-8")

    async def _docs_js(self, scope: Scope, receive: Receive, send: Send) -> None:
        await _send_bytes(send, 200, DOCS_INIT_JS, b"text/javascript; charset=utf-8")

    async def _swagger_ui(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Swagger UI's stylesheet or bundle, served from the package (its path names the
        version, so a browser may keep it for a year)."""
        path: str = scope["path"]
        await _send_bytes(send, 200, swagger_ui_file(path), SWAGGER_UI_TYPES[path], cache=IMMUTABLE)


class _Exchange:
    """One request at the edge: what its headers say, and what the gateway learned about it
    on the way (for its answer and its access log line)."""

    # What most requests have, shared (an instance only stores what it sets).
    listed: frozenset[bytes] = frozenset()
    length: bytes | None = None
    declared: int | None = None
    chunked: bytes | None = None
    authorization: bytes | None = None
    authorization_repeated = False
    origin: bytes | None = None
    preflight = False
    forwarded_for: bytes | None = None
    forwarded_proto: bytes | None = None
    host: bytes | None = None
    cors_headers: list[tuple[bytes, bytes]] | None = None
    csp_kind = "api"
    status: int | None = None
    client = "-"
    route_label = "unmatched"
    upstream = "-"

    def __init__(self, scope: Scope, cors: CorsPolicy) -> None:
        """The request as the edge checks see it: its headers sorted into those the gateway
        reads, drops or passes on, and its request id."""
        self.started = time.perf_counter()
        self.method: str = scope["method"]
        self.path: str = scope["path"]
        query: bytes = scope.get("query_string", b"")
        target: bytes = scope.get("raw_path") or self.path.encode()
        self.target = target + b"?" + query if query else target
        client = scope.get("client")
        self.has_client = bool(client)
        self.peer: str = client[0] if client else "unknown"
        self.scheme: str | None = scope.get("scheme")
        self.upstream_headers: list[tuple[bytes, bytes]] = []
        upstream_headers = self.upstream_headers
        request_id = None
        for key, value in scope["headers"]:
            if key in REQUEST_DROP:
                if key == b"x-request-id":
                    request_id = value
                elif key == b"transfer-encoding":
                    self.chunked = value
                elif key == b"x-forwarded-for":
                    self.forwarded_for = value
                elif key == b"x-forwarded-proto":
                    self.forwarded_proto = value
                elif key == b"host":
                    self.host = value
                elif key == b"connection":  # every Connection field counts (a union)
                    self.listed = self.listed | connection_tokens(((key, value),))
                continue
            if key == b"content-length":
                self.length = value
                continue
            if key == b"authorization":
                if self.authorization is not None:
                    self.authorization_repeated = True
                self.authorization = value
            elif key == b"origin":
                self.origin = value
            elif key == b"access-control-request-method":
                self.preflight = True
            upstream_headers.append((key, value))
        self.rid = rid = (
            new_request_id()
            if request_id is None
            else accept_request_id(request_id.decode("latin-1"))
        )
        self.rid_bytes = rid.encode()
        origin = self.origin
        if origin is not None and cors.allows(origin):
            self.cors_headers = cors.response_headers(origin)


_SCHEME_PROTO: dict[str | None, bytes] = {"https": b"https"}
"""X-Forwarded-Proto by the request's own scheme (anything but https is http)."""


class UriTooLong(Problem):
    status, slug, title = 414, "uri-too-long", "Request target too long"


_LOGGED_PATH = 256
"""Of a path refused as too long, what the answer and the access line show."""


class _Unverified(Exception):
    """The request's token is not one verified recently: verify it (asynchronously)."""

    def __init__(self, token: str, address: str) -> None:
        super().__init__()
        self.token = token
        self.address = address


async def _answer(status: int, headers: list[tuple[bytes, bytes]], body: bytes, send: Send) -> None:
    """A whole answer the gateway makes itself, in one message (see ``Gateway._sender``)."""
    await send({"type": "http.response.start", "status": status, "headers": headers, BODY: body})


def _problem_answer(problem: Problem, path: str) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    """A problem+json answer as status, headers and body (``problem_response``'s)."""
    response = problem_response(problem, path)
    return response.status_code, response.raw_headers, bytes(response.body)


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


IMMUTABLE = b"public, max-age=31536000, immutable"


async def _send_bytes(
    send: Send, status: int, body: bytes, content_type: bytes, *, cache: bytes | None = None
) -> None:
    headers = [(b"content-type", content_type), (b"content-length", str(len(body)).encode())]
    if cache is not None:
        headers.append((b"cache-control", cache))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
