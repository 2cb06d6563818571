"""The reverse proxy itself: one aiohttp ClientSession with a pooled, keep-alive connector,
bodies streamed both ways without re-encoding, and every failure of a service turned into a
problem+json answer (503 down, 504 slow, 502 broken) instead of a hang or a 500."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import aiohttp
from starlette.types import Message, Receive, Send
from yarl import URL

from tellonce_gateway.config import Settings
from tellonce_gateway.headers import RESPONSE_DROP, connection_tokens
from tellonce_gateway.metrics import EDGE_REJECTIONS, UPSTREAM_ERRORS, UPSTREAM_LATENCY
from tellonce_gateway.routes import Route
from tellonce_gateway.server import BODY_LATE
from tellonce_shared.problems import BadRequest, PayloadTooLarge, Problem, ServiceUnavailable

if TYPE_CHECKING:
    from tellonce_gateway.breaker import Breaker

log = logging.getLogger("tellonce.gateway.proxy")

# aiohttp adds these when absent; a proxy must send only what the client sent.
SKIP_AUTO_HEADERS = frozenset({"Accept", "Accept-Encoding", "User-Agent", "Content-Type"})
WHOLE_RESPONSE_BYTES = 64 * 1024
"""A response with a Content-Length up to this size is read whole and sent in one piece."""


class BadGateway(Problem):
    status, slug, title = 502, "bad-gateway", "Bad gateway"


class UpstreamTimeout(Problem):
    status, slug, title = 504, "gateway-timeout", "Gateway timeout"


class UpstreamDown(ServiceUnavailable):
    """The service refused or did not accept a connection (both forwarders raise it, so the
    breaker counts it as a failure, unlike the gateway's other 503s)."""

    def __init__(self, upstream: str) -> None:
        super().__init__(
            f"The {upstream} service is not answering; try again shortly.",
            headers={"Retry-After": "5"},
        )


UNREADABLE = b"Invalid HTTP request received."
"""The whole body of uvicorn's 400 (text/plain) for a request it cannot parse: what a
service's server answers to what it will not read (a request line or a header field past
its own limits). Never passed on as it is: see :func:`unreadable`."""


def unreadable(status: int, body: bytes, upstream: str) -> Problem | None:
    """The gateway's own 400 problem in place of a service's server refusing the request as
    unparsable (its plain-text ``UNREADABLE``), None for any other answer."""
    if status != 400 or body != UNREADABLE:
        return None
    EDGE_REJECTIONS.labels("unreadable").inc()
    return BadRequest(
        f"The {upstream} service could not read the request as sent "
        "(a request line or a header field too long?)."
    )


class ClientGone(Exception):
    """The client hung up while sending its body."""


class BodyTimeout(Problem):
    """The client stopped sending its request's body: no byte of it for the body idle
    timeout (``GATEWAY_BODY_IDLE_TIMEOUT_SECONDS``; the gateway's server tells it with
    ``server.BODY_LATE``). The answer is a 408 and the connection is closed after it."""

    status, slug, title = 408, "request-timeout", "Request timeout"

    def __init__(self) -> None:
        super().__init__("The request's body stopped coming; send it again.")


def _disconnected(message: Message) -> Exception:
    """What an ``http.disconnect`` while reading a body means: the client left, or (with
    ``BODY_LATE``) it stopped sending and waits for the 408."""
    if message.get(BODY_LATE):
        EDGE_REJECTIONS.labels("body-timeout").inc()
        return BodyTimeout()
    return ClientGone()


def make_session(settings: Settings) -> aiohttp.ClientSession:
    connector = aiohttp.TCPConnector(
        limit=settings.pool_limit,
        limit_per_host=0,
        keepalive_timeout=settings.keepalive_seconds,
        ttl_dns_cache=60,
        use_dns_cache=True,
        enable_cleanup_closed=False,
    )
    return aiohttp.ClientSession(
        connector=connector,
        auto_decompress=False,
        cookie_jar=aiohttp.DummyCookieJar(),
        timeout=aiohttp.ClientTimeout(total=None, sock_connect=settings.connect_timeout),
        skip_auto_headers=SKIP_AUTO_HEADERS,
        trust_env=False,
    )


async def read_whole_body(receive: Receive, limit: int) -> bytes:
    """Read a body already known (by Content-Length) to be small."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise _disconnected(message)
        chunk = message.get("body", b"")
        if chunk:
            size += len(chunk)
            if size > limit:
                raise PayloadTooLarge(f"The request body is over the limit of {limit} bytes.")
            chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


class StreamedBody:
    """A request body passed on as it arrives, counted against the limit on the way."""

    def __init__(self, receive: Receive, limit: int, declared: int | None = None) -> None:
        self.receive = receive
        self.limit = limit
        self.declared = declared
        """The Content-Length the client sent (forwarded as is), or None for chunked."""
        self.too_large = False
        self.client_gone = False
        self.timed_out = False

    async def chunks(self) -> AsyncIterator[bytes]:
        size = 0
        while True:
            message = await self.receive()
            if message["type"] == "http.disconnect":
                error = _disconnected(message)
                if isinstance(error, BodyTimeout):
                    self.timed_out = True
                else:
                    self.client_gone = True
                raise error
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.limit:
                self.too_large = True
                raise PayloadTooLarge(f"The request body is over the limit of {self.limit} bytes.")
            if chunk:
                yield chunk
            if not message.get("more_body", False):
                return


async def forward_aiohttp(
    session: aiohttp.ClientSession,
    route: Route,
    method: str,
    target: bytes,
    raw_headers: list[tuple[bytes, bytes]],
    body: bytes | StreamedBody | None,
    send: Send,
    breaker: Breaker,
    generation: int,
) -> int:
    """Send the request to the route's service and stream its answer back; returns the
    status sent. Raises a Problem (nothing sent yet) when the service cannot answer.
    ``breaker``: the service's, whose ``in_flight`` already counts this request (its caller
    counted it when it admitted it, tagged ``generation``): given back, the outcome told,
    once ``session.request`` has returned the answer's head or failed. aiohttp writes a
    streamed body inside that call, so here (unlike the native forwarder) an upload counts
    from its start."""
    upstream = route.upstream
    try:
        data = body.chunks() if isinstance(body, StreamedBody) else body
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in raw_headers]
        url = URL(route.base_url + target.decode("latin-1"), encoded=True)
        sent_at = time.perf_counter()
        resp = await session.request(
            method,
            url,
            headers=headers,
            data=data,
            allow_redirects=False,
            timeout=route.client_timeout,
            skip_auto_headers=SKIP_AUTO_HEADERS,
        )
    except BaseException as exc:
        problem = _problem_for(exc, upstream, body) if isinstance(exc, Exception) else exc
        breaker.ended_early(generation, isinstance(problem, UpstreamDown | UpstreamTimeout))
        if problem is exc:
            raise
        raise problem from exc
    breaker.in_flight -= 1  # the answer's head is in
    if breaker.failures:
        breaker.succeeded(generation)
    try:
        UPSTREAM_LATENCY.labels(upstream).observe(time.perf_counter() - sent_at)
        out: list[tuple[bytes, bytes]] = []
        listed: frozenset[bytes] = frozenset()
        status = resp.status
        if status < 200:  # a 101 Switching Protocols: the gateway does not tunnel upgrades
            UPSTREAM_ERRORS.labels(upstream, "broken").inc()
            resp.close()
            raise BadGateway(f"The {upstream} service answered with status {status}.")
        bodiless = status in (204, 304)
        for key, value in resp.raw_headers:
            name = key.lower()
            if name in RESPONSE_DROP:
                if name == b"connection":  # every Connection field counts (a union)
                    listed = listed | connection_tokens(((name, value),))
                continue
            if bodiless and name == b"content-length":
                continue  # the ASGI server would count the empty body against it
            out.append((name, value))
        if listed:
            out = [(k, v) for k, v in out if k not in listed]
        start = {"type": "http.response.start", "status": status, "headers": out}
        if method == "HEAD" or status in (204, 304):
            await send(start)
            await send({"type": "http.response.body", "body": b""})
            return status
        length = resp.content_length
        if length is not None and length <= WHOLE_RESPONSE_BYTES:
            # Small: read it all first, so head and body leave together and a failure
            # before the end is still a clean 502/504.
            try:
                whole = await resp.read()
            except (aiohttp.ClientError, TimeoutError) as exc:
                raise _problem_for(exc, upstream, None) from exc
            if status == 400 and (refused := unreadable(status, whole, upstream)) is not None:
                raise refused
            await send(start)
            await send({"type": "http.response.body", "body": whole})
            return status
        await send(start)
        try:
            async for chunk in resp.content.iter_any():
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b""})
        except (aiohttp.ClientError, TimeoutError) as exc:
            # Headers are out: all that is left is to cut the connection so the client
            # sees a truncated body instead of a complete-looking one.
            kind = "timeout" if isinstance(exc, TimeoutError) else "broken"
            UPSTREAM_ERRORS.labels(upstream, kind).inc()
            log.warning(
                "upstream failed mid-response",
                extra={"upstream": upstream, "error": type(exc).__name__},
            )
        return status
    finally:
        resp.release()


def _problem_for(exc: Exception, upstream: str, body: bytes | StreamedBody | None) -> Exception:
    if isinstance(body, StreamedBody):
        if body.too_large:
            return PayloadTooLarge(f"The request body is over the limit of {body.limit} bytes.")
        if body.client_gone:
            return ClientGone()
        if body.timed_out:
            return BodyTimeout()
    if isinstance(exc, Problem | ClientGone):
        return exc
    if isinstance(exc, aiohttp.ConnectionTimeoutError | aiohttp.ClientConnectorError):
        UPSTREAM_ERRORS.labels(upstream, "down").inc()
        return UpstreamDown(upstream)
    if isinstance(exc, TimeoutError):
        UPSTREAM_ERRORS.labels(upstream, "timeout").inc()
        return UpstreamTimeout(f"The {upstream} service took too long to answer.")
    if isinstance(exc, aiohttp.ClientError):
        UPSTREAM_ERRORS.labels(upstream, "broken").inc()
        return BadGateway(f"The {upstream} service closed the connection without an answer.")
    return exc
