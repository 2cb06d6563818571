"""The default forwarder: the request written to a pooled keep-alive connection in one
``write`` (head and, when small, body), the answer streamed back as it arrives, with the same
failure mapping as the aiohttp forwarder (503 down, 504 slow, 502 broken)."""

from __future__ import annotations

import logging
import ssl
import time
from collections.abc import Callable, Coroutine
from typing import Any
from urllib.parse import urlsplit

from starlette.types import Send

from tellonce_gateway.breaker import Breaker
from tellonce_gateway.headers import RESPONSE_DROP, connection_tokens
from tellonce_gateway.ledger import LEDGER
from tellonce_gateway.metrics import UPSTREAM_ERRORS, UPSTREAM_LATENCY
from tellonce_gateway.proxy import (
    BadGateway,
    StreamedBody,
    UpstreamDown,
    UpstreamTimeout,
    unreadable,
)
from tellonce_gateway.routes import Route
from tellonce_gateway.server import BODY
from tellonce_gateway.upstream_client import (
    WHOLE_RESPONSE_BYTES,
    Payload,
    UpstreamConnection,
    UpstreamError,
    UpstreamPool,
)
from tellonce_shared.problems import Problem

log = logging.getLogger("tellonce.gateway.proxy")

IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"})
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
NO_BODY_STATUSES = frozenset({204, 304})
"""Answers that never have a body. A 304's Content-Length (the size the full answer would
have had, RFC 9110 8.6) is dropped, because the ASGI server would count the empty body
against it; a 204 must not carry one at all."""


_LATENCY: dict[str, Any] = {}
"""UPSTREAM_LATENCY's child per upstream, kept: a label look-up per request is not free."""

WholeAnswer = Callable[[int, list[tuple[bytes, bytes]], bytes], None]
"""Takes a complete answer (status, headers, body) and passes it on, from a callback."""
Work = Callable[[Send], Coroutine[Any, Any, int]]
"""The rest of a forwarding, given the ``send`` to pass the answer on with; returns the
status sent."""
Later = Callable[[Work], None]
"""Runs the rest of a forwarding in a task."""
Flat = Callable[[UpstreamConnection, bytes], bool]
"""Takes an answer whole from its first read (``UpstreamConnection.flat``)."""


def make_pool(base_url: str, connect_timeout: float, keepalive_seconds: float) -> UpstreamPool:
    parts = urlsplit(base_url)
    tls = parts.scheme == "https"
    return UpstreamPool(
        parts.hostname or "127.0.0.1",
        parts.port or (443 if tls else 80),
        connect_timeout=connect_timeout,
        keepalive_seconds=keepalive_seconds,
        ssl_context=ssl.create_default_context() if tls else None,
    )


def request_head(
    method: str,
    target: bytes,
    host: bytes,
    headers: list[tuple[bytes, bytes]],
    body: Payload | StreamedBody | None,
) -> bytes:
    """The request line and headers (a ``bytes`` body is sent after them, not copied in)."""
    parts = [method.encode("ascii"), b" ", target, b" HTTP/1.1\r\nhost: ", host, b"\r\n"]
    for key, value in headers:
        parts += (key, b": ", value, b"\r\n")
    if isinstance(body, (bytes, memoryview)):
        parts += (b"content-length: ", str(len(body)).encode(), b"\r\n\r\n")
    elif isinstance(body, StreamedBody):
        if body.declared is None:
            parts.append(b"transfer-encoding: chunked\r\n")
        parts.append(b"\r\n")
    else:
        if method in BODY_METHODS:
            parts.append(b"content-length: 0\r\n")
        parts.append(b"\r\n")
    return b"".join(parts)


async def _send_streamed(
    conn: UpstreamConnection, head: bytes, body: StreamedBody, seconds: float
) -> None:
    conn.write(head)
    chunked = body.declared is None
    async for chunk in body.chunks():
        if chunked:
            conn.write(b"%x\r\n%b\r\n" % (len(chunk), chunk))
        else:
            conn.write(chunk)
        await conn.drain(seconds)
    if chunked:
        conn.write(b"0\r\n\r\n")


async def forward_native(
    pool: UpstreamPool,
    route: Route,
    method: str,
    target: bytes,
    headers: list[tuple[bytes, bytes]],
    body: Payload | StreamedBody | None,
    send: Send,
    breaker: Breaker,
    generation: int,
    *,
    retry: bool = True,
    sent_at: float | None = None,
) -> int:
    """Send the request to the route's service and pass its answer on through ``send``;
    returns the status sent. Raises a Problem (nothing sent yet) when the service cannot
    answer. ``breaker``: the service's, whose ``in_flight`` already counts this request
    (its caller counted it when it admitted it, tagged ``generation``): given back while a
    streamed body is read from the client and written on, and for good, the outcome told,
    once the answer's head is in or the exchange has failed before it. ``retry``: an
    idempotent request may be sent once more when a pooled connection turns out closed
    (False when that try has already been made). ``sent_at``: when the first try went out
    (``time.perf_counter()``), for the upstream latency metric of a retry; by default,
    now."""
    upstream = route.upstream
    try:
        head = request_head(method, target, route.host_header, headers, body)
        if sent_at is None:
            sent_at = time.perf_counter()
        retry = retry and method in IDEMPOTENT and not isinstance(body, StreamedBody)
        while True:
            conn = pool.idle_connection()  # the usual case: no coroutine to wait on
            reused = conn is not None
            if conn is None:
                conn = await pool.connect()
            conn.begin(head_only=method == "HEAD")
            try:
                if isinstance(body, StreamedBody):
                    # Waiting on the client (it may stall): not counted as waiting on the
                    # service until all of the body has been written to it.
                    breaker.in_flight -= 1
                    try:
                        await _send_streamed(conn, head, body, route.read_timeout)
                    finally:
                        breaker.in_flight += 1
                    await conn.wait_head(route.read_timeout)
                else:
                    # Head and a small body written together, the last thing before the wait.
                    await conn.send_and_wait_head(head, body, route.read_timeout)
                break
            except UpstreamError as exc:
                conn.close()
                if retry and reused and exc.kind == "broken" and not conn.received_any:
                    retry = False  # the service closed an idle connection just now: once more
                    continue
                raise
            except BaseException:
                conn.close()
                raise
    except UpstreamError as exc:
        # Down or silent is a failure; a broken connection or a garbled answer neither.
        breaker.ended_early(generation, exc.kind != "broken")
        raise _problem(exc, upstream) from None
    except BaseException:
        breaker.ended_early(generation, failure=False)
        raise
    breaker.in_flight -= 1  # the answer's head is in
    if breaker.failures:
        breaker.succeeded(generation)
    return await _pass_answer(pool, conn, route, sent_at, send)


def forward_native_now(
    pool: UpstreamPool,
    route: Route,
    method: str,
    target: bytes,
    headers: list[tuple[bytes, bytes]],
    body: Payload | None,
    whole: WholeAnswer,
    later: Later,
    breaker: Breaker,
    generation: int,
    flat: Flat | None = None,
) -> None:
    """:func:`forward_native` without a task for the usual exchange: the request goes out
    now on an idle pooled connection, and a small answer that is all in is handed to
    ``whole`` from the connection's callback. Anything else (no idle connection, a failure,
    a retry, an answer to stream) goes on as :func:`forward_native` would, in a task
    (``later``). The request's count in ``breaker.in_flight`` (see :func:`forward_native`)
    is given back from the connection's callback, or handed on to :func:`forward_native`;
    when this raises, it has taken nothing over (the caller gives the count back). ``flat``:
    offered the answer's first read before the parser (``UpstreamConnection.flat``; when it
    takes the answer, it does what the connection's callback would, :func:`answer_taken`)."""
    conn = pool.idle_connection()
    if conn is None:
        later(
            lambda send: forward_native(
                pool, route, method, target, headers, body, send, breaker, generation
            )
        )
        return
    upstream = route.upstream
    sent_at = time.perf_counter()

    def answered() -> None:
        error = conn.error
        if error is not None and not conn.head_done:
            conn.close()
            if method in IDEMPOTENT and error.kind == "broken" and not conn.received_any:
                # The service closed this idle connection just now: once more, as
                # forward_native does (on a connection of its own, with no retry left;
                # still waiting on the service, the request keeps its count).
                later(
                    lambda send: forward_native(
                        pool, route, method, target, headers, body, send, breaker,
                        generation, retry=False, sent_at=sent_at,
                    )
                )  # fmt: skip
            else:
                breaker.ended_early(generation, error.kind != "broken")  # as forward_native
                problem = _problem(error, upstream)
                later(lambda send: _raise(problem))
            return
        breaker.in_flight -= 1  # the answer's head is in (what forward_native does then)
        if breaker.failures:
            breaker.succeeded(generation)
        if not conn.complete or error is not None:
            later(lambda send: _pass_answer(pool, conn, route, sent_at, send))
            return
        try:
            status, out, _ = _answer_head(conn)
            answer = conn.whole_body() or b""  # (not "body": the request's, in the lambdas)
            if status == 400:
                refused = unreadable(status, answer, upstream)
                if refused is not None:  # never the service's plain text
                    later(lambda send: _raise(refused))
                    return
            whole(status, out, answer)
        except BaseException:
            conn.close()
            raise
        finally:
            pool.release(conn)
            _observe(upstream, conn.head_at - sent_at)

    head = request_head(method, target, route.host_header, headers, body)
    try:
        conn.send_and_notify(
            head, body, route.read_timeout, answered, method == "HEAD", flat, sent_at
        )
    except BaseException:
        conn.close()
        raise


def answer_taken(
    pool: UpstreamPool, conn: UpstreamConnection, upstream: str, breaker: Breaker, generation: int
) -> None:
    """A ``flat`` callback took the whole answer (``UpstreamConnection.took_whole``): what
    the connection's callback in :func:`forward_native_now` does then. The request's count
    given back and the breaker told, the connection pooled again, the latency noted."""
    breaker.in_flight -= 1
    if breaker.failures:
        breaker.succeeded(generation)
    pool.release(conn)
    _observe(upstream, conn.head_at - conn.sent_at)


async def _raise(problem: Problem) -> int:
    raise problem


def _answer_head(conn: UpstreamConnection) -> tuple[int, list[tuple[bytes, bytes]], int]:
    """The answer's status, the headers to pass on (hop-by-hop and the ones the gateway
    sets dropped) and its Content-Length (-1 when none)."""
    out: list[tuple[bytes, bytes]] = []
    listed: frozenset[bytes] = frozenset()
    length = -1
    status = conn.status
    bodiless = status in NO_BODY_STATUSES
    for pair in conn.headers:
        name = pair[0]
        if name in RESPONSE_DROP:
            if name == b"connection":  # every Connection field counts (a union)
                listed = listed | connection_tokens((pair,))
            continue
        if name == b"content-length":
            if bodiless:
                continue  # see NO_BODY_STATUSES
            if pair[1].isdigit():
                length = int(pair[1])
        out.append(pair)
    if listed:
        out = [(k, v) for k, v in out if k not in listed]
    return status, out, length


def _observe(upstream: str, seconds: float) -> None:
    LEDGER.add(_observe_now, (upstream, seconds))  # a moment later (tellonce_gateway.ledger)


def _observe_now(observation: tuple[str, float]) -> None:
    upstream, seconds = observation
    latency = _LATENCY.get(upstream)
    if latency is None:
        latency = _LATENCY[upstream] = UPSTREAM_LATENCY.labels(upstream)
    latency.observe(seconds)


async def _pass_answer(
    pool: UpstreamPool, conn: UpstreamConnection, route: Route, sent_at: float, send: Send
) -> int:
    """Pass on an answer whose head is in: whole when it is (or soon will be) all in and
    small, else streamed as it arrives; the connection goes back to the pool after it."""
    upstream = route.upstream
    # Observed once the answer is on its way to the client, not before (it is only a metric).
    head_seconds = conn.head_at - sent_at
    try:
        status, out, length = _answer_head(conn)
        whole = conn.whole_body()
        if whole is None and 0 <= length <= WHOLE_RESPONSE_BYTES:
            # A small answer whose body is still on its way: wait for it, so head and body
            # leave together, and a failure before the end can still be a clean 502.
            try:
                whole = b"".join([chunk async for chunk in conn.body(route.read_timeout)])
            except UpstreamError as exc:
                conn.close()
                raise _problem(exc, upstream) from None
        if whole is not None:
            if status == 400 and (refused := unreadable(status, whole, upstream)) is not None:
                raise refused  # never the service's plain text (nothing sent yet)
            # The whole answer in one message (the gateway's server writes head and body
            # at once; under another server the gateway's send splits it in two).
            await send(
                {"type": "http.response.start", "status": status, "headers": out, BODY: whole}
            )
            return status
        await send({"type": "http.response.start", "status": status, "headers": out})
        try:
            async for chunk in conn.body(route.read_timeout):
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
        except UpstreamError as exc:
            # Headers are out: cut the connection so the client sees a truncated body.
            UPSTREAM_ERRORS.labels(upstream, exc.kind).inc()
            log.warning(
                "upstream failed mid-response", extra={"upstream": upstream, "error": exc.kind}
            )
            conn.close()
            return status
        await send({"type": "http.response.body", "body": b""})
        return status
    except BaseException:
        conn.close()
        raise
    finally:
        pool.release(conn)
        _observe(upstream, head_seconds)


def _problem(exc: UpstreamError, upstream: str) -> Problem:
    UPSTREAM_ERRORS.labels(upstream, exc.kind).inc()
    if exc.kind == "down":
        return UpstreamDown(upstream)
    if exc.kind == "timeout":
        return UpstreamTimeout(f"The {upstream} service took too long to answer.")
    return BadGateway(f"The {upstream} service closed the connection without an answer.")
