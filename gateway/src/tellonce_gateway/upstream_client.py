"""A lean HTTP/1.1 client for the gateway's one job: pass a request to a service over a
pooled keep-alive connection and hand back the answer as it arrives.

Why not only aiohttp: measured on this machine, an aiohttp ``ClientSession`` spends about
100-150 us of CPU per proxied request, more than the bare service it calls; this protocol
(httptools, the parser uvicorn uses, and one ``transport.write`` per request) spends a
fraction of that. Both are kept, chosen by ``GATEWAY_CLIENT`` (docs/gateway.md)."""

from __future__ import annotations

import asyncio
import ssl
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from typing import cast

import httptools

Payload = bytes | memoryview
"""A small request body, whole: its own bytes, or a view of the read it came in (the lean
path's, so a 50 KB body is not copied before it is written on)."""

HIGH_WATER = 256 * 1024
"""Buffered response bytes at which the connection stops reading from the service."""
WHOLE_RESPONSE_BYTES = 64 * 1024
"""An answer with a Content-Length up to this is passed on in one piece once all of it is
in (native_proxy); :meth:`UpstreamConnection.send_and_wait_head` returns only then."""


class UpstreamError(Exception):
    """The service could not be used: ``kind`` is down, timeout or broken."""

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(detail)
        self.kind = kind


class UpstreamConnection(asyncio.Protocol):
    """One keep-alive connection; one exchange at a time (no pipelining)."""

    flat: Callable[[UpstreamConnection, bytes], bool] | None = None
    """Offered the exchange's first read before the parser sees it (the gateway's lean
    path): True when it took the whole answer itself (:meth:`took_whole`), False to leave the
    read, untouched, to the parser."""
    sent_at = 0.0
    """``time.perf_counter()`` when the exchange's request went out (set with ``flat``)."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.closed = False
        self.reusable = False
        self.idle_since = 0.0
        self.deadline: float | None = None
        """When the wait in progress times out (``None``: no wait in progress)."""
        self.wait_seconds = 0.0
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = 0.0
        self._feeding = False
        """Inside ``parser.feed_data``: a callback waits for the read to be parsed whole."""
        self.paused = False
        self.begin(head_only=False)

    def begin(self, head_only: bool) -> None:
        """Start an exchange. The parser is kept: a connection is only reused after a
        complete keep-alive answer, where llhttp is ready for the next message."""
        if self.paused:
            self._resume_reading()
        self.flat = None
        self.head_only = head_only
        self.status = 0
        self.headers: list[tuple[bytes, bytes]] = []
        self.chunks: deque[bytes] = deque()
        self.buffered = 0
        self.complete = False
        self.received_any = False
        self.error: UpstreamError | None = None
        self.head_waiter: asyncio.Future[None] | None = None
        self.on_head: Callable[[], None] | None = None
        """Called instead of waking ``head_waiter`` (:meth:`send_and_notify`)."""
        self.head_due = False
        self.body_waiter: asyncio.Future[None] | None = None
        self.drain_waiter: asyncio.Future[None] | None = None
        self.head_done = False
        self.head_at = 0.0
        """``time.perf_counter()`` when the answer's head was in (the latency metric)."""
        self.hold_small = False
        self.holding = False
        self.informational = False
        self.write_paused = False

    # -- asyncio.Protocol ------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses, but have its methods.
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        flat = self.flat
        if flat is not None:  # (set for an exchange, and taken by its first read)
            self.flat = None
            self.received_any = True  # (before: a failure in flat is never retried)
            if flat(self, data):
                return
        self.received_any = True
        if self.holding and self.deadline is not None:
            # Waiting for the rest of a small answer: the timeout counts from the last byte.
            self.deadline = self.loop.time() + self.wait_seconds
        if self.complete:
            # Bytes after a complete answer (or on an idle pooled connection): the service
            # framed its answer wrongly, and they must never answer the next request.
            self.close()
            return
        self._feeding = True
        try:
            self.parser.feed_data(data)
        except (httptools.HttpParserError, httptools.HttpParserUpgrade):
            # Garbage, or a 101 Switching Protocols: the gateway does not tunnel upgrades.
            if not self.complete:
                self._fail(UpstreamError("broken", "The service sent a malformed response."))
            self.close()
        finally:
            self._feeding = False
        if self.head_due:
            self._notify()

    def eof_received(self) -> bool | None:
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.reusable = False
        if not self.complete:
            self._fail(UpstreamError("broken", "The service closed the connection."))

    def pause_writing(self) -> None:
        self.write_paused = True

    def resume_writing(self) -> None:
        self.write_paused = False
        waiter = self.drain_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    # -- httptools callbacks ---------------------------------------------------------------

    def on_message_begin(self) -> None:
        if self.complete:  # a second answer to one request: parsed by nobody, never reused
            self.reusable = False

    def on_header(self, name: bytes, value: bytes) -> None:
        # After the head, fields are a chunked body's trailers: not passed on (the gateway
        # re-frames the body, and trailers are not ASGI's); after the answer, not ours.
        if not self.head_done:
            self.headers.append((name.lower(), value))

    def on_headers_complete(self) -> None:
        if self.complete:
            return
        status = self.parser.get_status_code()
        if status == 101:
            self._fail(UpstreamError("broken", "The service switched protocols."))
            return
        if 100 <= status < 200:
            # 100 Continue, 103 Early Hints: informational, the real answer follows.
            self.informational = True
            self.headers.clear()
            return
        self.status = status
        self.head_done = True
        self.head_at = time.perf_counter()
        if self.head_only:  # a HEAD answer has no body, whatever its Content-Length says
            self.complete = True
            self.reusable = False
        elif self.hold_small and _small(self.headers):
            # Its body is small and wanted whole: wake the waiter once all of it is in
            # (often in this same read), not once now and once more for the body.
            self.holding = True
            return
        self._wake_head()

    def on_body(self, body: bytes) -> None:
        if self.complete:
            return
        self.chunks.append(body)
        self.buffered += len(body)
        if self.buffered > HIGH_WATER and self.transport is not None and not self.paused:
            self.paused = True
            self.transport.pause_reading()
        if self.body_waiter is not None:
            self._wake_body()

    def on_message_complete(self) -> None:
        if self.informational:
            self.informational = False
            return
        if self.complete or self.error is not None:
            return
        self.complete = True
        self.reusable = self.parser.should_keep_alive() and not self.head_only
        if self.on_head is not None and self._feeding:
            self.head_due = True  # see _wake_head
        else:
            self._wake_head()
        if self.body_waiter is not None:
            self._wake_body()

    # -- used by the pool and the proxy ----------------------------------------------------

    def _wake_head(self) -> None:
        if self.on_head is not None:
            self.head_due = True
            if not self._feeding:
                self._notify()
            return
        waiter = self.head_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _notify(self) -> None:
        """Call ``on_head`` once, after the read in progress has been parsed whole (bytes
        after the answer in the same read must be seen before the connection is reused)."""
        callback = self.on_head
        self.on_head = None
        self.head_due = False
        self.deadline = None
        self.hold_small = self.holding = False
        if callback is not None:
            callback()

    def _wake_body(self) -> None:
        waiter = self.body_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _fail(self, error: UpstreamError) -> None:
        if self.error is None:
            self.error = error
        if self.on_head is not None:
            self._wake_head()
        for waiter in (self.head_waiter, self.body_waiter, self.drain_waiter):
            if waiter is not None and not waiter.done():
                waiter.set_result(None)

    def close(self) -> None:
        self.reusable = False
        if self.transport is not None and not self.closed:
            self.transport.close()
        self.closed = True
        timer = self._timer
        if timer is not None:
            self._timer = None
            timer.cancel()

    # -- timeouts: one timer per connection --------------------------------------------------

    def _arm(self, seconds: float) -> None:
        """Start the clock of a wait: it fails with a timeout after ``seconds`` without what
        it waits for. One timer per connection, re-armed when it fires while a wait is still
        in progress, instead of a timer made and cancelled for every wait."""
        deadline = self.loop.time() + seconds
        self.deadline = deadline
        self.wait_seconds = seconds
        timer = self._timer
        if timer is None or self._timer_at > deadline:
            if timer is not None:
                timer.cancel()
            self._timer_at = deadline
            self._timer = self.loop.call_at(deadline, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        deadline = self.deadline
        if deadline is None or self.closed:
            return  # no wait in progress: the next one arms the timer again
        if self.loop.time() < deadline:
            self._timer_at = deadline
            self._timer = self.loop.call_at(deadline, self._on_timer)
            return
        self._fail(UpstreamError("timeout", "The service took too long to answer."))
        self.close()

    async def _wait(self, waiter: asyncio.Future[None], seconds: float) -> None:
        self._arm(seconds)
        try:
            await waiter
        finally:
            self.deadline = None

    def _resume_reading(self) -> None:
        """Read from the service again after a large answer paused it (``HIGH_WATER``)."""
        if self.paused:
            self.paused = False
            if self.transport is not None and not self.closed:
                self.transport.resume_reading()

    def write(self, data: bytes) -> None:
        assert self.transport is not None
        self.transport.write(data)

    async def drain(self, seconds: float) -> None:
        """Wait until the service reads again; one that stops reading for ``seconds`` is
        treated as timed out."""
        if self.write_paused and not self.closed:
            self.drain_waiter = self.loop.create_future()
            await self._wait(self.drain_waiter, seconds)
        if self.error is not None:
            raise self.error

    async def wait_head(self, seconds: float) -> None:
        if not self.head_done and self.error is None:
            self.head_waiter = self.loop.create_future()
            await self._wait(self.head_waiter, seconds)
        if self.error is not None:
            raise self.error

    async def send_and_wait_head(self, head: bytes, body: Payload | None, seconds: float) -> None:
        """Write a whole request and wait for the answer's head, or for all of a small
        answer (Content-Length up to ``WHOLE_RESPONSE_BYTES``). The wait is set up before
        the write, so nothing is left to do after it: on a machine with few cores the
        service may run as soon as the request reaches it, and work left for after the
        write would then wait for the service and delay its answer. Raises if the answer
        failed before its head; a failure after it is found when the body is read."""
        if self.error is None:
            self.hold_small = True
            waiter = self.head_waiter = self.loop.create_future()
            self._arm(seconds)
            try:
                assert self.transport is not None
                if body:
                    self.transport.writelines((head, body))  # one writev, the body not copied
                else:
                    self.transport.write(head)
                await waiter
            finally:
                self.deadline = None
                self.hold_small = self.holding = False
        if self.error is not None and not self.head_done:
            raise self.error

    def send_and_notify(
        self,
        head: bytes,
        body: Payload | None,
        seconds: float,
        on_head: Callable[[], None],
        head_only: bool = False,
        flat: Callable[[UpstreamConnection, bytes], bool] | None = None,
        sent_at: float = 0.0,
    ) -> None:
        """Begin an exchange (:meth:`begin`) and do what :meth:`send_and_wait_head` does,
        without a task: ``on_head`` is called once, from the connection's callbacks, when the
        answer's head (all of a small answer) is in or the exchange failed; :attr:`error`
        and :attr:`head_done` then tell which. ``flat``: offered the answer's first read
        (:attr:`flat`; ``sent_at``, when the request was sent). The request is written
        first, so that the service has it while the exchange's state is set up (nothing
        of its answer can be read before this returns to the event loop)."""
        assert self.transport is not None
        if body:
            self.transport.writelines((head, body))
        else:
            self.transport.write(head)
        self.begin(head_only)
        if flat is not None:
            self.flat = flat
            self.sent_at = sent_at
        self.hold_small = True
        self.on_head = on_head
        self._arm(seconds)

    async def body(self, seconds: float) -> AsyncIterator[bytes]:
        """The response body as it arrives; at most ``seconds`` between pieces."""
        while True:
            while self.chunks:
                chunk = self.chunks.popleft()
                self.buffered -= len(chunk)
                if self.buffered < HIGH_WATER // 2:
                    self._resume_reading()
                yield chunk
            if self.complete:
                return
            if self.error is not None:
                raise self.error
            self.body_waiter = self.loop.create_future()
            await self._wait(self.body_waiter, seconds)
            if self.error is not None and not self.chunks:
                raise self.error

    def took_whole(self, status: int, at: float) -> None:
        """An answer read whole by ``flat``, not by the parser (which, having seen none of
        it, is between messages): the exchange is over and the connection reusable, as if
        the parser had read a complete keep-alive answer. ``at``: when it came."""
        self.received_any = True
        self.status = status
        self.head_done = self.complete = self.reusable = True
        self.head_at = at
        self.deadline = None
        self.on_head = None
        self.hold_small = False

    def whole_body(self) -> bytes | None:
        """The body, if all of it has already arrived (the common case for small answers)."""
        if not self.complete:
            return None
        chunks = self.chunks
        if not chunks:
            return b""
        body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        chunks.clear()
        self.buffered = 0
        # A large answer that arrived whole paused reading on the way; a connection left
        # paused would never read its next answer (each request on it timed out).
        if self.paused:
            self._resume_reading()
        return body


def _small(headers: list[tuple[bytes, bytes]]) -> bool:
    for name, value in headers:
        if name == b"content-length":
            return value.isdigit() and int(value) <= WHOLE_RESPONSE_BYTES
    return False


class UpstreamPool:
    """Idle keep-alive connections to one service, newest first, closed after
    ``keepalive_seconds`` unused (below the service's own keep-alive timeout)."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        connect_timeout: float,
        keepalive_seconds: float,
        max_idle: int = 256,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.ssl_context = ssl_context
        self.host = host
        self.port = port
        self.connect_timeout = connect_timeout
        self.keepalive_seconds = keepalive_seconds
        self.max_idle = max_idle
        self.idle: deque[UpstreamConnection] = deque()

    async def acquire(self) -> tuple[UpstreamConnection, bool]:
        """A connection, and whether it was reused (a reused one may have been closed by
        the service just now, which is worth one retry for idempotent requests)."""
        conn = self.idle_connection()
        if conn is not None:
            return conn, True
        return await self.connect(), False

    def idle_connection(self) -> UpstreamConnection | None:
        """The newest idle connection still fit for use, if any (no waiting)."""
        idle = self.idle
        if not idle:
            return None
        now = time.monotonic()
        while idle:
            conn = idle.pop()
            if conn.closed or now - conn.idle_since > self.keepalive_seconds:
                conn.close()
                continue
            return conn
        return None

    async def connect(self) -> UpstreamConnection:
        loop = asyncio.get_running_loop()
        factory: Callable[[], UpstreamConnection] = lambda: UpstreamConnection(loop)  # noqa: E731
        try:
            async with asyncio.timeout(self.connect_timeout):
                _, conn = await loop.create_connection(
                    factory,
                    self.host,
                    self.port,
                    ssl=self.ssl_context,
                    server_hostname=self.host if self.ssl_context else None,
                )
        except TimeoutError:
            raise UpstreamError("down", "The service did not accept a connection.") from None
        except OSError as exc:
            raise UpstreamError("down", f"The service refused the connection ({exc}).") from exc
        return conn

    def release(self, conn: UpstreamConnection) -> None:
        if conn.reusable and not conn.closed and conn.complete and not conn.chunks:
            conn.idle_since = time.monotonic()
            if len(self.idle) >= self.max_idle:
                self.idle.popleft().close()
            self.idle.append(conn)
        else:
            conn.close()

    def close(self) -> None:
        while self.idle:
            self.idle.pop().close()
