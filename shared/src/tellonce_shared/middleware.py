"""Pure ASGI middleware every service mounts: request ids, body size limit, metrics and
access logs. Pure ASGI (not BaseHTTPMiddleware) so bodies stream and nothing is buffered."""

from __future__ import annotations

import logging
import os
import re
import time

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tellonce_shared.logging import request_id_var
from tellonce_shared.metrics import RequestMetrics
from tellonce_shared.problems import PayloadTooLarge, problem_response

REQUEST_ID_HEADER = "x-request-id"
_VALID_ID = re.compile(r"^[A-Za-z0-9._:\-]{8,128}$")
access_log = logging.getLogger("tellonce.access")


class _RequestIds:
    """New request ids: 32 hex digits from the OS's random source, taken from 4 KiB of random
    bytes at a time instead of a system call each (measured on the gateway's hot path)."""

    def __init__(self) -> None:
        self._pool = b""
        self._at = 0
        os.register_at_fork(after_in_child=self._forget)  # never the parent's bytes

    def _forget(self) -> None:
        self._pool, self._at = b"", 0

    def __call__(self) -> str:
        at = self._at
        if at + 16 > len(self._pool):
            self._pool, at = os.urandom(4096), 0
        self._at = at + 16
        return self._pool[at : at + 16].hex()


new_request_id = _RequestIds()


def accept_request_id(value: str | None) -> str:
    """Keep a well-formed incoming id; make a new one otherwise."""
    if value and _VALID_ID.match(value):
        return value
    return new_request_id()


class RequestContextMiddleware:
    """Sets the request id (from the header or new), echoes it back, logs one access line,
    and records Prometheus metrics per route template."""

    def __init__(self, app: ASGIApp, service: str) -> None:
        self.app = app
        self.service = service
        self.metrics = RequestMetrics(service)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = None
        for key, value in scope.get("headers", []):
            if key == b"x-request-id":
                incoming = value.decode("latin-1")
                break
        rid = accept_request_id(incoming)
        token = request_id_var.set(rid)
        started = time.perf_counter()
        status_holder = [500]

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_holder[0] = message["status"]
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", rid.encode()))
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            elapsed = time.perf_counter() - started
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            if template not in ("/metrics", "/healthz", "/readyz"):
                access_log.info(
                    "request",
                    extra={
                        "method": scope["method"],
                        "route": template,
                        "status": status_holder[0],
                        "duration_ms": round(elapsed * 1000, 2),
                    },
                )
            self.metrics.observe(scope["method"], template, status_holder[0], elapsed)
            request_id_var.reset(token)


class BodyLimitMiddleware:
    """413 before reading a body whose Content-Length is too big, and while streaming one
    that has no Content-Length, so nothing oversized is ever buffered."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        problem = PayloadTooLarge(f"The request body is over the limit of {self.max_bytes} bytes.")
        for key, value in scope.get("headers", []):
            if key == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = 0
                if declared > self.max_bytes:
                    await problem_response(problem, scope.get("path"))(scope, receive, send)
                    return
        received = 0
        response_started = False
        rejected = False

        async def limited_receive() -> Message:
            nonlocal received, rejected
            if rejected:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    rejected = True
                    if not response_started:
                        await problem_response(problem, scope.get("path"))(scope, receive, send)
                    return {"type": "http.disconnect"}
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal response_started
            if rejected:
                return  # the 413 has been sent; whatever the app says now is dropped
            if message["type"] == "http.response.start":
                response_started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except Exception:
            if not rejected:
                raise


HEAD_ONLY = "tellonce.head_only"


def head_only(request: Request) -> bool:
    """Whether this GET runs for a HEAD request: its content will be dropped, so it
    discloses nothing but the header fields."""
    return bool(request.scope.get(HEAD_ONLY, False))


def head_answer(media_type: str, headers: dict[str, str]) -> Response:
    """The answer to a HEAD whose content the route does not make (a PDF it would render):
    the GET's fields, no content, and no ``Content-Length``, which only the content would
    give (RFC 9110 9.3.2 lets a HEAD leave it out)."""
    response = Response(media_type=media_type, headers=headers)
    del response.headers["content-length"]
    return response


class HeadAsGetMiddleware:
    """HEAD wherever GET is answered. RFC 9110 (9.1, 9.3.2) asks every general-purpose
    server to support HEAD, with the header fields GET would send and no content; FastAPI's
    routes answer only the methods they name, so every page and read answered HEAD with 405
    (uptime checks and link checkers use HEAD). A HEAD request runs as the GET it asks
    about, under its own name in the access line and metrics (the outer scope keeps
    ``HEAD``; the route found is copied back to it), and the content is dropped; the
    ``Content-Length`` stays the GET's, as RFC 9110 9.3.2 allows. A route that does not
    answer GET still answers 405. The GET's scope carries ``HEAD_ONLY`` so that a route
    whose GET records a disclosure (an agency's read of answers) can tell that nothing
    will be disclosed (``head_only``)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return
        as_get = dict(scope)
        as_get["method"] = "GET"
        as_get[HEAD_ONLY] = True

        async def send_head(message: Message) -> None:
            if message["type"] == "http.response.body" and message.get("body"):
                message = {**message, "body": b""}
            await send(message)

        try:
            await self.app(as_get, receive, send_head)
        finally:
            if "route" in as_get:
                scope["route"] = as_get["route"]
