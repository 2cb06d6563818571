"""uvicorn's httptools protocol, trimmed for the gateway's one-request-at-a-time latency.

The gateway is served by uvicorn (uvloop, httptools) with this protocol as its ``http``
setting (a documented setting). It is uvicorn's ``HttpToolsProtocol`` (connection handling,
pipelining, upgrades refused, flow control, shutdown, 400 on a garbled request, the 503 of
``limit_concurrency``: all inherited) with the per-request hot path rewritten:

- a response's head and the body written right after it leave in one ``writev`` instead of
  two ``write`` calls (two system calls and two TCP segments per answer; under load the
  socket writes were a third of the gateway's CPU). A head with nothing after it in the same
  turn of the event loop goes out alone at the end of that turn (a streamed answer).
- the response head is built with uvicorn's own checks (header names and values validated,
  ``Content-Length`` enforced both ways, ``Connection: close`` honoured, chunked framing when
  no length is given) but a header name already seen valid and lower-case is not matched
  against the regular expression again.
- the request body is kept as the pieces that arrived (no ``bytearray`` growing and copied
  again for every ``http.request`` message): a body that came in one piece is passed on
  as that very ``bytes``.
- one keep-alive timer per connection, re-armed when it fires, instead of a timer made after
  every response and cancelled by the next request.
- a deadline for request heads (uvicorn has none: a connection that never sends a whole
  head was kept for ever): one more timer per connection, armed when it is made and
  re-armed when it fires, checks the time the pending head started (the connection's start
  for the first request, the head's first byte for later ones). A connection that sent
  nothing in time is closed without an answer; one whose head had begun gets a 408. The
  application's ``HEADER_TIMEOUT`` attribute sets the time.
- an idle timeout for request bodies (``BODY_IDLE_TIMEOUT``), on the same timer: a request
  whose head came and whose body is not all in, with no byte from the client for that long
  while the server was reading, is late. An application that has not answered yet hears it
  from ``receive`` (an ``http.disconnect`` carrying ``BODY_LATE``: the gateway answers 408)
  and the connection is closed after its answer; one that has answered has its connection
  closed. Per read only the time is noted while a body is still owed after it.
- the server's own answers (400 for a request it cannot parse, 408) carry what the
  application's ``SERVER_ANSWER`` gives (the gateway: problem+json, security headers and a
  request id), as every other answer does.
- a fast path (``FAST_PATH``): an application may take a request that is all in (not
  pipelined, the client reading, no ``Expect: 100-continue``) straight from the parser's
  callback, with no task and no awaited receive or send, and answer it with
  :meth:`GatewayCycle.answer` or finish it with :meth:`GatewayCycle.continue_in_task`.
  A request whose small body (Content-Length up to uvicorn's 64 KiB high-water mark) comes
  in a later read waits for it first; anything else runs as ASGI, as before.

Measured in docs/gateway.md ("Latency of one request", "The fast path")."""

from __future__ import annotations

import asyncio
import contextvars
import re
from collections.abc import Coroutine
from itertools import chain
from typing import Any, Protocol
from urllib.parse import unquote

import httptools
from uvicorn._types import (
    ASGI3Application,
    ASGIReceiveEvent,
    ASGISendEvent,
    ASGIVersions,
    HTTPRequestEvent,
)
from uvicorn.protocols.http.flow_control import HIGH_WATER_LIMIT, service_unavailable
from uvicorn.protocols.http.httptools_impl import (
    HEADER_RE,
    HEADER_VALUE_RE,
    STATUS_LINE,
    HttpToolsProtocol,
    RequestResponseCycle,
)

_CLEAN_PAIRS: set[tuple[bytes, bytes]] = set()
"""Response header fields seen valid (uvicorn's HEADER_RE and HEADER_VALUE_RE), with a name
already lower-case and not one that frames the message: written without the regular
expressions (the gateway's security headers, a service's usual Content-Type...)."""
_CLEAN_PAIRS_MAX = 2048
_CLEAN_NAMES: set[bytes] = set()
"""Header names seen valid and lower-case that do not frame the message: only their value
is checked."""
_CLEAN_NAMES_MAX = 1024
_FRAMING = frozenset({b"content-length", b"transfer-encoding", b"connection"})
"""Never remembered: they change how the message is framed."""
_ONE_OFF = frozenset({b"x-request-id"})
"""Names whose values change every request: the value is not remembered. (The server's
``Date`` is, for the second it lasts: one field a second, until the set is full and starts
again.)"""
_NOT_RENDERED = _FRAMING | {b"date"}
_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
CHUNK_FRAMING = 24
"""Bytes of framing a request body's chunk may take beyond the header limit (its size in
hex, up to 16 digits for a size no body reaches, and two line ends); chunk extensions and
trailers count against the limit itself."""
_URL_ODD = re.compile(b"[\x00-\x20\x7f#]")
"""In a request target, left to httptools.parse_url (which refuses it, or finds a fragment)."""

EXTENSION = "tellonce.gateway"
"""Advertised in ``scope["extensions"]``: ``http.response.start`` may carry ``RENDERED``
(header fields as written on the wire, "name: value\\r\\n" each, written after the
message's ``headers``) and ``BODY`` (the whole body: the response is complete, and its
head and body leave in one write). An application served by another server gets no such
extension and sends plain ASGI messages."""
RENDERED = "tellonce.rendered_headers"
BODY = "tellonce.body"
FAST_PATH = "fast_path"
"""An application attribute: a :class:`FastPath`, tried for each request that is all in
after one read (not pipelined, the client reading), before any task is made for it."""
HEADER_TIMEOUT = "header_timeout"
"""An application attribute: seconds a connection has for its first request's head, and a
request for the rest of its head once its first byte came (``DEFAULT_HEADER_TIMEOUT``
without it)."""
DEFAULT_HEADER_TIMEOUT = 10.0
BODY_IDLE_TIMEOUT = "body_idle_timeout"
"""An application attribute: seconds a request whose body is not all in may go without a
byte of it from the client, while the server reads (``DEFAULT_BODY_IDLE_TIMEOUT``
without it). Not a deadline for the whole body: a slow upload that keeps sending is never
cut."""
DEFAULT_BODY_IDLE_TIMEOUT = 30.0
BODY_LATE = "tellonce.body_late"
"""A key of the ``http.disconnect`` message ``receive`` returns once a request's body has
been idle past ``BODY_IDLE_TIMEOUT``: the client is still connected and waits for an answer
(the gateway's is a 408); the connection is closed after it."""
MAX_TARGET = "max_target_bytes"
"""An application attribute: the longest request target (path and query) it takes, in
bytes. The server keeps no more than one byte past it of a longer target (what it holds of
a head's target stays bounded, however long the client makes it), and the application,
seeing a target over its limit, refuses it (the gateway: 414). Without it, no limit."""
MAX_HEADER = "max_header_bytes"
"""An application attribute: the most bytes a request's header fields may take (names and
values, and four bytes of framing each; the request line not included: ``MAX_TARGET`` bounds
its target). Past it the server answers 431 itself and closes the connection, having kept no
more of the head than that and one read. Without it, no limit."""
CLIENT_GONE = "tellonce.client_gone"
"""Set (True) by the server on an ``http.response.start`` it did not deliver because the
client had gone: nothing of that answer reached it (the gateway logs such a request as
499). Sending to a gone client is otherwise silent, as with uvicorn."""
LEAN_PATH = "lean_path"
"""An application attribute: a :class:`LeanPath`, offered each read that comes while the
connection is between requests (nothing of a request read, none being answered, the client
reading), before the parser sees it; it takes a read that is one whole, plain request and
answers it itself (:meth:`GatewayHttpProtocol.lean_taken`, :meth:`lean_answered`,
:meth:`lean_promote`), or leaves it to the parser and the fast path."""
SERVER_ANSWER = "server_answer"
"""An application attribute: a :class:`ServerAnswer`, for the answers the server makes
itself (400, 408, 431); without it they are uvicorn's plain text."""


class _FieldsTooLarge(Exception):
    """Raised from the parser's callback for a head whose fields are over the limit."""


class FastPath(Protocol):
    def __call__(self, scope: Any, body: bytes, cycle: GatewayCycle) -> bool:
        """Take the request (its scope and whole body) and answer it through ``cycle``'s
        :meth:`~GatewayCycle.answer` or :meth:`~GatewayCycle.continue_in_task`, returning
        True; or leave it untouched and return False (it then runs as an ASGI request)."""
        ...


class LeanPath(Protocol):
    def __call__(self, protocol: GatewayHttpProtocol, data: bytes) -> bool:
        """Take ``data`` (a read, the connection between requests) when it is one whole
        request the application answers on its own, returning True; or leave it untouched
        and return False (the parser then reads it as usual)."""
        ...


class ServerAnswer(Protocol):
    def __call__(self, status: int, detail: str, request_id: bytes | None) -> tuple[bytes, bytes]:
        """Header fields as written on the wire ("name: value\\r\\n" each, a Content-Type
        among them, nothing that frames the message) and the body of an answer the server
        makes itself, with no request to route: 400 (unparsable) or 408 (head too slow).
        ``request_id``: the X-Request-ID the unfinished head had sent, if any."""
        ...


_CLEAN_RENDERED: set[bytes] = set()
"""Pre-rendered header blocks already checked (the gateway has a dozen, all constant)."""


class GatewayCycle(RequestResponseCycle):
    """uvicorn's request/response cycle with the head held for the body (one ``writev``)
    and the request body kept as a list of pieces."""

    # What every request starts with, shared (an instance only stores what changes).
    disconnected = False
    waiting_for_100_continue = False
    buffered = 0
    more_body = True
    response_started = False
    response_complete = False
    chunked_encoding: bool | None = None
    expected_content_length = 0
    held: bytes | None = None
    body_late = False
    """The request's body went idle past the body timeout before an answer began: ``receive``
    says so (``BODY_LATE``) and the connection closes after the answer."""

    def __init__(
        self,
        scope: Any,
        protocol: GatewayHttpProtocol,
        keep_alive: bool,
        expect_100_continue: bool,
    ) -> None:
        # Not super().__init__: the attributes this class uses, set directly (per request).
        self.scope = scope
        self.protocol = protocol
        self.transport = protocol.transport
        self.flow = protocol.flow
        self.loop = protocol.loop
        self.logger = protocol.logger
        self.message_event: asyncio.Event = _Event()  # type: ignore[assignment]
        self.on_response = protocol.on_response_complete
        self.keep_alive = keep_alive
        self.chunks: list[bytes] = []
        if expect_100_continue:
            self.waiting_for_100_continue = True

    # -- the held head -----------------------------------------------------------------

    def flush_head(self) -> None:
        held = self.held
        if held is not None:
            self.held = None
            if not self.transport.is_closing():
                self.transport.write(held)

    def _close(self) -> None:
        self.flush_head()
        self.transport.close()

    # -- ASGI --------------------------------------------------------------------------

    async def run_asgi(self, app: ASGI3Application) -> None:
        """uvicorn's, with :meth:`_close` for a response left unfinished."""
        try:
            result = await app(  # type: ignore[func-returns-value]
                self.scope, self.receive, self.send
            )
        except BaseException as exc:
            self.logger.error("Exception in ASGI application\n", exc_info=exc)
            if not self.response_started:
                await self.send_500_response()
            else:
                self._close()
        else:
            if result is not None:
                msg = "ASGI callable should return None, but returned '%s'."
                self.logger.error(msg, result)
                self._close()
            elif not self.response_started and not self.disconnected:
                if self.body_late:  # it heard of the late body and left: the server's 408
                    self.protocol.answer_late_body()
                else:
                    self.logger.error("ASGI callable returned without starting response.")
                    await self.send_500_response()
            elif not self.response_complete and not self.disconnected:
                self.logger.error("ASGI callable returned without completing response.")
                self._close()
        finally:
            self.on_response = _nothing

    async def send(self, message: ASGISendEvent) -> None:
        if self.flow.write_paused and not self.disconnected:
            await self.flow.drain()
        self._send_now(message)

    def _send_now(self, message: ASGISendEvent) -> None:
        """:meth:`send` once the client reads again (what follows the wait for it). A client
        gone (before or during the write) is not an error: the message is dropped, as
        uvicorn drops it, and an answer's start not delivered is marked ``CLIENT_GONE``."""
        if self.disconnected:
            _undelivered(message)
            return
        try:
            self._deliver(message)
        except _Gone:
            _undelivered(message)

    def _deliver(self, message: ASGISendEvent) -> None:
        if not self.response_started:
            if message["type"] != "http.response.start":
                raise RuntimeError(
                    f"Expected ASGI message 'http.response.start', but got '{message['type']}'."
                )
            self.response_started = True
            self.waiting_for_100_continue = False
            extra: dict[str, Any] = message  # type: ignore[assignment]
            self.held = self._head(
                message["status"], message.get("headers", ()), extra.get(RENDERED)
            )
            body = extra.get(BODY)
            if body is None:
                self.loop.call_soon(self.flush_head)
            else:
                self._body(body, False)
        elif not self.response_complete:
            if message["type"] != "http.response.body":
                raise RuntimeError(
                    f"Expected ASGI message 'http.response.body', but got '{message['type']}'."
                )
            self._body(message.get("body", b""), message.get("more_body", False))
        else:
            raise RuntimeError(
                f"Unexpected ASGI message '{message['type']}' sent, "
                "after response already completed."
            )

    # -- the fast path: a request answered from callbacks, without a task ------------------

    def answer(self, message: dict[str, Any]) -> None:
        """Send a whole answer now (an ``http.response.start`` with ``BODY``): a request of
        the fast path is done. A client that is not reading gets it from a task once it
        reads again, as :meth:`send` would wait."""
        if self.flow.write_paused and not self.disconnected:
            self.continue_in_task(self.send(message))  # type: ignore[arg-type]
            return
        try:
            self._send_now(message)  # type: ignore[arg-type]
        finally:
            self.done()

    def continue_in_task(self, work: Coroutine[Any, Any, None]) -> None:
        """Finish a request of the fast path in a task of its own (what cannot be done from
        a callback: connecting, streaming, waiting for the client)."""
        self.protocol.own_task(self._finish_in_task(work), None)

    async def _finish_in_task(self, work: Coroutine[Any, Any, None]) -> None:
        try:
            await work
        except BaseException as exc:
            self.logger.error("Exception in ASGI application\n", exc_info=exc)
            if not self.response_started:
                await self.send_500_response()
        finally:
            self.done()

    def done(self) -> None:
        """The application is done with a request of the fast path: what :meth:`run_asgi`
        checks then (an answer not started is a 500, one not finished is cut)."""
        self.on_response = _nothing
        if self.response_complete or self.disconnected:
            return
        if not self.response_started:
            self.logger.error("ASGI callable returned without starting response.")
            self.protocol.own_task(self.send_500_response(), None)
        else:
            self.logger.error("ASGI callable returned without completing response.")
            self._close()

    def _body(self, body: bytes, more_body: bool) -> None:
        data: bytes | None
        if self.scope["method"] == "HEAD":
            self.expected_content_length = 0
            data = None
        elif self.chunked_encoding:
            if body:
                data = b"%x\r\n%b\r\n0\r\n\r\n" if not more_body else b"%x\r\n%b\r\n"
                data = data % (len(body), body)
            else:
                data = None if more_body else b"0\r\n\r\n"
        else:
            if len(body) > self.expected_content_length:
                raise RuntimeError("Response content longer than Content-Length")
            self.expected_content_length -= len(body)
            data = body
        held = self.held
        try:
            if held is not None:
                self.held = None
                if data:
                    self.transport.writelines((held, data))
                else:
                    self.transport.write(held)
            elif data:
                self.transport.write(data)
        except RuntimeError:
            # uvloop refuses writes on a transport already closed (the client left and the
            # server has not heard yet, or the server closed it itself): the client is gone.
            if not self.transport.is_closing():
                raise
            self.disconnected = True
            raise _Gone from None
        if not more_body:
            if self.expected_content_length != 0:
                raise RuntimeError("Response content shorter than Content-Length")
            self.response_complete = True
            self.message_event.set()
            if not self.keep_alive:
                self.transport.close()
            self.on_response()

    def _head(self, status_code: int, headers: Any, rendered: bytes | None) -> bytes:
        content = [STATUS_LINE[status_code]]
        has_connection_close = False
        clean = _CLEAN_PAIRS
        names = _CLEAN_NAMES
        for source in (self.protocol.server_state.default_headers, headers):
            for pair in source:
                if pair in clean:
                    content += (pair[0], b": ", pair[1], b"\r\n")
                    continue
                name, value = pair
                if name in names:  # a valid lower-case name of no framing meaning
                    # letters and digits only (request ids): nothing the expression finds
                    if not value.isalnum() and HEADER_VALUE_RE.search(value):
                        raise RuntimeError("Invalid HTTP header value.")
                    if name not in _ONE_OFF:
                        if len(clean) >= _CLEAN_PAIRS_MAX:
                            clean.clear()  # unusual values (tags, cookies): start again
                        clean.add(pair)
                    content += (name, b": ", value, b"\r\n")
                    continue
                if name == b"content-length" and value.isdigit():  # valid, no regex needed
                    if self.chunked_encoding is None:
                        self.expected_content_length = int(value)
                        self.chunked_encoding = False
                    content += (name, b": ", value, b"\r\n")
                    continue
                # Anything else: uvicorn's checks as uvicorn makes them.
                if HEADER_RE.search(name):
                    raise RuntimeError("Invalid HTTP header name.")
                if HEADER_VALUE_RE.search(value):
                    raise RuntimeError("Invalid HTTP header value.")
                lower = name.lower()
                if lower not in _FRAMING:
                    if lower == name and len(names) < _CLEAN_NAMES_MAX:
                        names.add(name)
                elif lower == b"content-length":
                    if self.chunked_encoding is None:
                        self.expected_content_length = int(value.decode())
                        self.chunked_encoding = False
                elif lower == b"transfer-encoding":
                    if value.lower() == b"chunked":
                        self.expected_content_length = 0
                        self.chunked_encoding = True
                elif lower == b"connection" and b"close" in [
                    token.lower().strip() for token in value.split(b",")
                ]:
                    self.keep_alive = False
                    has_connection_close = True
                content += (lower, b": ", value, b"\r\n")
        if rendered:
            if rendered not in _CLEAN_RENDERED:
                _check_rendered(rendered)
                if len(_CLEAN_RENDERED) < 64:
                    _CLEAN_RENDERED.add(rendered)
            content.append(rendered)
        if not self.keep_alive and not has_connection_close:
            content.append(b"connection: close\r\n")
        if (
            self.chunked_encoding is None
            and self.scope["method"] != "HEAD"
            and status_code not in (204, 304)
        ):
            self.chunked_encoding = True
            content.append(b"transfer-encoding: chunked\r\n")
        content.append(b"\r\n")
        return b"".join(content)

    async def receive(self) -> ASGIReceiveEvent:
        if self.waiting_for_100_continue and not self.transport.is_closing():
            self.transport.write(_CONTINUE)
            self.waiting_for_100_continue = False
            self.protocol.body_clock_restart()  # the client's time starts now
        if self.body_late:
            return _late_body()
        if not self.disconnected and not self.response_complete:
            flow = self.flow
            if flow.read_paused:  # the server had stopped reading: not the client's time
                flow.resume_reading()
                self.protocol.body_clock_restart()
            await self.message_event.wait()
            self.message_event.clear()
            if self.body_late:
                return _late_body()
        if self.disconnected or self.response_complete:
            return {"type": "http.disconnect"}
        chunks = self.chunks
        if not chunks:
            body = b""
        elif len(chunks) == 1:
            body = chunks[0]
        else:
            body = b"".join(chunks)
        self.chunks = []
        self.buffered = 0
        message: HTTPRequestEvent = {
            "type": "http.request",
            "body": body,
            "more_body": self.more_body,
        }
        return message


def _undelivered(message: Any) -> None:
    """Marks an answer's start that the client, gone, never got (``CLIENT_GONE``)."""
    if message["type"] == "http.response.start":
        message[CLIENT_GONE] = True


class _Gone(Exception):
    """A write found the client's connection closed (:meth:`GatewayCycle._body`)."""


def writable_field(name: bytes, value: bytes) -> bool:
    """Whether an answer's field may be written as it is, in one pass: a lower-case name,
    and name and value passing uvicorn's checks (``HEADER_RE``, ``HEADER_VALUE_RE``)."""
    return not (HEADER_RE.search(name) or HEADER_VALUE_RE.search(value) or name.lower() != name)


def _check_rendered(rendered: bytes) -> None:
    """Pre-rendered fields pass uvicorn's checks too, and never frame the message."""
    if not rendered.endswith(b"\r\n"):
        raise RuntimeError("Invalid pre-rendered HTTP headers.")
    for line in rendered[:-2].split(b"\r\n"):
        name, sep, value = line.partition(b": ")
        if not sep or not name or not writable_field(name, value) or name in _NOT_RENDERED:
            raise RuntimeError("Invalid pre-rendered HTTP header.")


def _nothing() -> None:
    return None


def _late_body() -> ASGIReceiveEvent:
    """What ``receive`` says once the request's body has been idle too long."""
    message: dict[str, Any] = {"type": "http.disconnect", BODY_LATE: True}
    return message  # type: ignore[return-value]


class _Event:
    """What uvicorn uses of ``asyncio.Event`` for a request's body and disconnect (set,
    clear, wait), without its per-instance deque: a future is made only when something
    actually waits."""

    _value = False
    _waiters: list[asyncio.Future[None]] | None = None

    def is_set(self) -> bool:
        return self._value

    def set(self) -> None:
        if not self._value:
            self._value = True
            waiters = self._waiters
            if waiters is not None:
                self._waiters = None
                for waiter in waiters:
                    if not waiter.done():
                        waiter.set_result(None)

    def clear(self) -> None:
        self._value = False

    async def wait(self) -> bool:
        if self._value:
            return True
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if self._waiters is None:
            self._waiters = [waiter]
        else:
            self._waiters.append(waiter)
        try:
            await waiter
        finally:
            if self._waiters is not None and waiter in self._waiters:
                self._waiters.remove(waiter)
        return True


class GatewayHttpProtocol(HttpToolsProtocol):
    """uvicorn's HttpToolsProtocol with the per-request path of :class:`GatewayCycle`."""

    cycle: GatewayCycle

    _boundary = True
    """The parser is between requests: it has read nothing of the next one."""
    lean_busy = False
    """A request of the lean path (:data:`LEAN_PATH`) is being answered; it has no cycle."""
    _lean_held: bytes | None = None
    """What the client sent while a request of the lean path was being answered (reading
    stops after one read): read after its answer, as the next request would be."""
    lean_closing = False
    """The server shuts down: the connection closes after the lean path's answer."""
    _lean_part: bytes | None = None
    """A read the lean path holds (:meth:`lean_wait`): a whole head and the start of its
    body, read again with the next read."""
    _lean_joined = False
    """The read offered to the lean path joins a read it held."""
    _lean_part_at = 0.0
    """When the held read came (the loop's time)."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        fast: FastPath | None = getattr(self.app, FAST_PATH, None)
        if self.limit_concurrency is not None or self.config.reset_contextvars:
            fast = None  # counted and fresh-context requests need a task each
        self._fast = fast
        lean: LeanPath | None = getattr(self.app, LEAN_PATH, None)
        self._lean = lean if fast is not None else None
        self._pending: tuple[GatewayCycle, ASGI3Application] | None = None
        self._asgi: ASGIVersions = {"version": self.asgi_version, "spec_version": "2.3"}
        self._fresh_context = self.config.reset_contextvars
        max_target: int | None = getattr(self.app, MAX_TARGET, None)
        self._max_target = max_target
        max_header: int | None = getattr(self.app, MAX_HEADER, None)
        self._max_header = max_header
        self._big_read = max_header if max_header is not None else 1 << 62
        """A read longer than this may hold a head over the limit (:meth:`data_received`)."""
        self._read_bytes = 0
        self._read_length = 0
        """The size of the read being parsed (:meth:`data_received`), and in
        ``_read_bytes`` what of it the head completing next can have taken: the read's
        size, or for a read that starts at a head, up to the head's blank line."""
        self._head_bytes = 0
        """Bytes of the reads that ended inside the pending head (:meth:`data_received`),
        and ``_target_bytes`` those of its target: the header fields can have taken no more
        than the difference."""
        self._target_bytes = 0
        self._read_body = 0
        """Body bytes the parser gave out of the read being parsed (:meth:`on_body`)."""
        self._framing = 0
        """Bytes of the owed body that were not body: chunk sizes and their line ends, chunk
        extensions and trailer fields (:meth:`data_received`), and ``_chunks`` the chunks
        begun: past the header limit plus a little per chunk, the request is refused."""
        self._chunks = 0
        self._refusal: tuple[int, str] | None = None
        """A pipelined request the server refuses (400, 431): the refusal waits for the
        answers before it (:meth:`_refuse`)."""
        self._running: RequestResponseCycle | None = None
        """The request being answered while later ones wait in ``pipeline`` (set only when
        requests are pipelined): told when the client leaves (:meth:`connection_lost`),
        as uvicorn tells only the last request read."""
        self._idle_since: float | None = None
        self._worker: asyncio.Task[None] | None = None
        self._next: asyncio.Future[tuple[GatewayCycle, ASGI3Application] | None] | None = None
        timeout: float = getattr(self.app, HEADER_TIMEOUT, DEFAULT_HEADER_TIMEOUT)
        self._head_timeout = timeout
        self._head_since: float | None = self.loop.time()
        """When the head the connection owes began (None: none pending): its start for the
        first request, a head's first byte for the others (:meth:`on_message_begin`)."""
        body_timeout: float = getattr(self.app, BODY_IDLE_TIMEOUT, DEFAULT_BODY_IDLE_TIMEOUT)
        self._body_timeout = body_timeout
        self._body_since: float | None = None
        """While a request's head has come and its body is not all in: when the client last
        sent a byte (or the server last started reading again); None otherwise. Set at the
        end of each read that leaves a body owed (:meth:`data_received`)."""
        self._period = min(timeout, body_timeout)
        """The longest the timer waits: a head or body owed from any moment on is not due
        sooner than this after it."""
        self._head_timer: asyncio.TimerHandle | None = self.loop.call_later(
            self._period, self._deadlines
        )
        """The connection's one timer for the head deadline and the body idle timeout."""

    def connection_lost(self, exc: Exception | None) -> None:
        self._parse_held()  # a held request: logged and counted as gone, as elsewhere
        super().connection_lost(exc)  # tells self.cycle, the last request read
        running = self._running
        if running is not None or self.pipeline:
            # Pipelined: the request being answered and those waiting their turn hear it
            # too (sending to them is then dropped, not written to a closed transport).
            self._running = None
            for cycle in (running, *(waiting for waiting, _ in self.pipeline)):
                if cycle is not None and not cycle.response_complete:
                    cycle.disconnected = True
                    cycle.message_event.set()
        timer = self._head_timer
        if timer is not None:
            self._head_timer = None
            timer.cancel()
        pending = self._pending
        if pending is not None:  # its body never came: the application hears of it
            self._pending = None
            self._start_asgi_task(*pending)
        waiting = self._next
        if waiting is not None:
            self._next = None
            if not waiting.done():
                waiting.set_result(None)  # the worker ends

    # -- keep-alive: one timer per connection ------------------------------------------

    def data_received(self, data: bytes) -> None:
        if self._refusal is not None:
            return  # refused, after the answers before it: nothing more is read as requests
        self._idle_since = None  # busy: the timer, when it fires, leaves the connection be
        lean = self._lean
        if lean is not None and self._boundary:
            if self.lean_busy:  # pipelined behind a request of the lean path: after it
                held = self._lean_held
                self._lean_held = data if held is None else held + data
                self.flow.pause_reading()
                return
            part = self._lean_part
            self._lean_joined = part is not None
            offered = data
            if part is not None:
                self._lean_part = None
                offered = part + data
            cycle = self.cycle
            if (cycle is None or cycle.response_complete) and not self.flow.write_paused:
                try:
                    if lean(self, offered):
                        return
                except Exception:  # a bug: the read goes to the parser, as if not taken
                    if self.lean_busy or self._lean_part is not None:
                        raise  # (the lean path answers what it took; never read twice)
                    self.logger.exception("the lean path failed; the parser reads the request")
            if part is not None:  # not taken: the parser reads the two reads as they came
                self._parse(part)
                if self._refusal is not None:
                    return
        self._parse(data)

    def _parse(self, data: bytes) -> None:
        """Read ``data`` with the parser."""
        owed = self._body_since is not None  # this read starts inside a request's body
        self._read_body = 0
        read = len(data)
        self._read_length = read
        if read > self._big_read and self._body_since is None and data[0] not in b"\r\n":
            # A long read that starts at a head, or inside one (a 50 KB POST sent with its
            # head): the head ends at its blank line (or, if it was split across the reads'
            # border, at a later one, or not at all: more, never less). Not after empty
            # lines, which the parser skips before a request line: counted whole.
            end = data.find(b"\r\n\r\n")
            if end >= 0:
                read = end + 4
        self._read_bytes = read
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            if isinstance(exc.__context__, _FieldsTooLarge):
                self._fields_too_large()
            else:
                self.send_400_response("Invalid HTTP request received.")  # logs it
            return
        except httptools.HttpParserUpgrade:
            if self._should_upgrade():
                self.handle_websocket_upgrade()
            else:
                self._unsupported_upgrade_warning()
        finally:
            if self._body_since is not None:  # a body still owed after this read: its clock
                self._body_since = self.loop.time()  # starts again (bytes came)
                if owed and self._read_body < len(data):  # not all of it body: chunked
                    self._framing_owed(len(data) - self._read_body)
            elif self._head_since is not None and self.headers is not None:
                self._head_owed(len(data))
            pending = self._pending
            if pending is not None and not self._body_coming(pending[0]):
                self._pending = None  # not complete in this read: the usual way, in a task
                self._start_asgi_task(*pending)

    def _head_owed(self, read: int) -> None:
        """A read ended inside a request's head: counted, and the connection refused with a
        431 once the header fields may be over the limit (so that no more of them is held;
        bytes of a pipelined request read together with the head's start count too)."""
        limit = self._max_header
        if limit is None or self.transport.is_closing() or self._refusal is not None:
            return
        self._head_bytes += read
        if self._head_bytes - self._target_bytes > limit:
            self._fields_too_large()

    def _framing_owed(self, framing: int) -> None:
        """A read inside a chunked body held bytes that were not body: counted, and the
        request refused with a 431 once they pass the header limit and a few bytes per
        chunk (a chunk's size line and line ends). Trailer fields are header fields that
        come after the body, and a chunk extension can be as long as a client likes: both
        were held and copied by the parser without a bound. A read that also held the head
        or the body's end is not counted (one read at the most)."""
        limit = self._max_header
        if limit is None or self.transport.is_closing():
            return
        self._framing += framing
        if self._framing > limit + CHUNK_FRAMING * self._chunks:
            cycle = self.cycle
            if cycle is not None and cycle.response_started:
                self.transport.close()  # answered already: the request cannot go on
                return
            self._refuse(
                431,
                f"The request body's chunk framing and trailer fields are over the limit of "
                f"{limit} bytes.",
            )

    def on_chunk_header(self) -> None:
        self._chunks += 1

    def _fields_too_large(self) -> None:
        limit = self._max_header
        self._refuse(431, f"The request's header fields are over the limit of {limit} bytes.")

    def _refuse(self, status: int, message: str) -> None:
        """The server's own refusal of a request it cannot take (400 unparsable, 431),
        closing the connection. Pipelined behind requests still being answered (whose bodies
        have all come), those are answered first, as a late head waits its turn: reading
        stops, and the refusal follows the last of them (:meth:`on_response_complete`);
        refused at once, it had cut their answers off. An error inside the body of the
        request being answered is refused at once (that request cannot be completed); one
        inside the body of a request still waiting its turn takes that request's place."""
        cycle = self.cycle
        pipeline = self.pipeline
        if cycle is not None and cycle.more_body and pipeline and pipeline[0][0] is cycle:
            pipeline.popleft()  # its body cannot be read: it never runs
            cycle = self._running  # type: ignore[assignment]
        if (cycle is not None and not cycle.response_complete and not cycle.more_body) or pipeline:
            self._refusal = (status, message)
            self.flow.pause_reading()
            return
        self._refuse_now(status, message)

    def _refuse_now(self, status: int, message: str) -> None:
        if self.cycle is not None:
            self.cycle.flush_head()  # in order: what was answered before goes out first
        if not self._answer_self(status, message):
            if status == 400:
                self.logger.warning(message)
                super().send_400_response(message)
            else:
                self.transport.close()

    def _body_coming(self, cycle: GatewayCycle) -> bool:
        """Whether a request whose head came without all of its body waits for the rest
        (then the fast path may take it whole): a small body declared by Content-Length
        (up to uvicorn's high-water mark, so reading never pauses for it), the connection
        still open. Anything else starts at once and streams its body."""
        if self.transport.is_closing():
            return False
        length = None
        for name, value in cycle.scope["headers"]:
            if name == b"content-length":
                length = value
            elif name == b"transfer-encoding":
                return False
        return length is not None and length.isdigit() and int(length) <= HIGH_WATER_LIMIT

    def send_400_response(self, msg: str) -> None:
        self._refuse(400, msg)

    def _answer_self(self, status: int, detail: str) -> bool:
        """An answer of the server's own, with what the application's ``SERVER_ANSWER``
        adds (it logs it), then the connection closed; False without one."""
        answer: ServerAnswer | None = getattr(self.app, SERVER_ANSWER, None)
        if answer is None:
            return False
        request_id = None
        if (self._head_since is not None or self._body_since is not None) and self.headers:
            # the pending head's fields so far, or those of the request whose body is owed
            for name, value in self.headers:
                if name == b"x-request-id":
                    request_id = value
        fields, body = answer(status, detail, request_id)
        content = [STATUS_LINE[status]]
        for name, value in self.server_state.default_headers:
            content += (name, b": ", value, b"\r\n")
        length = b"content-length: %d\r\nconnection: close\r\n\r\n" % len(body)
        content += (fields, length, body)
        self.transport.write(b"".join(content))
        self.transport.close()
        return True

    # -- the deadline for request heads and the body idle timeout: one timer per connection --

    def _deadlines(self) -> None:
        """The connection's timer: closes it when the head it owes is late, stops waiting
        for a body gone idle (:meth:`_body_late`), else waits again (what is left of the
        pending head's or body's time, at most :attr:`_period`)."""
        self._head_timer = None
        if self.transport.is_closing():
            return
        timeout = self._head_timeout
        wait = self._period
        now = self.loop.time()
        if self._lean_part is not None:  # held (lean_wait): its head came, a body is owed
            left = self._lean_part_at + self._body_timeout - now
            if left > 0:
                self._head_timer = self.loop.call_later(min(wait, left), self._deadlines)
                return
            self._parse_held()  # late
            if self._body_since is not None:
                self._body_since = self._lean_part_at  # owed since then
        since = self._head_since
        body_since = self._body_since
        if body_since is not None:
            if self.flow.read_paused or self.cycle.waiting_for_100_continue:
                # The server is not reading, or the client waits for its 100 Continue:
                # not the client's silence.
                self._body_since = body_since = now
            left = body_since + self._body_timeout - now
            if left <= 0:
                self._body_late()
                if self.transport.is_closing():
                    return
            else:
                wait = min(wait, left)
        elif since is not None:
            cycle = self.cycle
            if cycle is not None and not cycle.response_complete:
                # A pipelined head behind an answer in progress: it is not late, it waits
                # its turn; its time counts from now.
                self._head_since = since = now
            left = since + timeout - now
            if left <= 0:
                if self.headers is None:  # not a byte of a request yet: nothing to answer
                    self.transport.close()
                else:
                    if self.cycle is not None:
                        self.cycle.flush_head()
                    message = "The request's head did not come in time."
                    if not self._answer_self(408, message):
                        self.transport.close()
                return
            wait = min(wait, left)
        self._head_timer = self.loop.call_later(wait, self._deadlines)

    def _body_late(self) -> None:
        """No byte of the request's body for the body timeout: stop waiting for it. An
        answer already begun (the application answered without the whole body) is all the
        client gets: the connection is closed. Otherwise the application answers, told by
        ``receive`` (``BODY_LATE``), and the connection closes after that answer; a request
        the fast path was holding for its body goes to the application for that."""
        self._body_since = None
        cycle = self.cycle
        if cycle.response_started:
            self.transport.close()
            return
        cycle.body_late = True
        cycle.keep_alive = False
        pending = self._pending
        if pending is not None and pending[0] is cycle:
            self._pending = None
            self._start_asgi_task(*pending)
        else:
            cycle.message_event.set()

    def body_clock_restart(self) -> None:
        """The server reads a request's body again, or has just asked for it (100 Continue):
        the client's time without a byte counts from now."""
        if self._body_since is not None:
            self._body_since = self.loop.time()

    def answer_late_body(self) -> None:
        """The server's own 408, for an application that heard its request's body was late
        and left without answering (the gateway answers it itself)."""
        message = "The request's body did not come in time."
        if not self._answer_self(408, message):
            body = message.encode()
            content = [STATUS_LINE[408]]
            for name, value in self.server_state.default_headers:
                content += (name, b": ", value, b"\r\n")
            content.append(
                b"content-type: text/plain; charset=utf-8\r\n"
                b"content-length: %d\r\nconnection: close\r\n\r\n" % len(body)
            )
            content.append(body)
            self.transport.write(b"".join(content))
            self.transport.close()

    # -- the lean path (LEAN_PATH): a request answered without the parser or a cycle ------

    def lean_taken(self) -> None:
        """The lean path took the read: a request is being answered. Nothing of a head is
        owed while it is."""
        self.lean_busy = True
        self._head_since = None

    def lean_answered(self) -> None:
        """The lean path's answer has been written (or the client had gone): the connection
        is between requests again, and what the client sent meanwhile is read now."""
        self.lean_busy = False
        if self.lean_closing:
            self.server_state.total_requests += 1
            self.transport.close()
            return
        self.on_response_complete()
        self._read_held()

    def lean_promote(self, scope: dict[str, Any]) -> GatewayCycle:
        """The lean path's request goes on as a request of the fast path would (an answer to
        stream, a failure to answer, a retry in a task): its cycle, made now from ``scope``
        (its whole body already read), becomes the connection's request in progress, and
        what the client sent meanwhile is read behind it (pipelined)."""
        cycle = GatewayCycle(scope, self, not self.lean_closing, False)
        cycle.more_body = False
        self.cycle = cycle
        self.lean_busy = False
        self._read_held()
        return cycle

    def _read_held(self) -> None:
        """Read what the client sent while a request of the lean path was being answered."""
        held = self._lean_held
        if held is not None and not self.transport.is_closing():
            self._lean_held = None
            self.data_received(held)

    def lean_scope(
        self, method: str, path: str, raw_path: bytes, query: bytes, headers: list[Any]
    ) -> dict[str, Any]:
        """The ASGI scope of a request of the lean path (for :meth:`lean_promote`)."""
        scope = self._scope("1.1", method, headers)
        scope["path"] = path
        scope["raw_path"] = raw_path
        scope["query_string"] = query
        return scope

    def shutdown(self) -> None:
        if self.lean_busy:  # answering a request of the lean path: close after it
            self.lean_closing = True
            return
        self._parse_held()  # a request begun: read, so that it is answered
        super().shutdown()

    def lean_wait(self, data: bytes) -> bool:
        """The lean path would take ``data``, a whole head with the start of its body, if
        the rest of the body came: True, held until the next read, which is offered to the
        lean path joined to it. The body idle timeout runs from when it came: once past it
        (:meth:`_deadlines`), or on a shutdown, the parser reads what was held, as it came.
        False when ``data`` already joins a held read: once only, so that a body sent in
        many small reads is not copied again on each (the parser reads it)."""
        if self._lean_joined:
            return False
        self._lean_part = data
        self._lean_part_at = self.loop.time()
        return True

    def _parse_held(self) -> None:
        """The parser reads the read the lean path holds, if any, as it came."""
        part = self._lean_part
        if part is not None:
            self._lean_part = None
            self._parse(part)

    def on_response_complete(self) -> None:
        self.server_state.total_requests += 1
        if self.transport.is_closing():
            return
        refusal = self._refusal
        if refusal is not None and not self.pipeline:
            self._refusal = None
            self._refuse_now(*refusal)  # the request behind this answer's
            return
        flow = self.flow
        if flow.read_paused and refusal is None:
            flow.resume_reading()
            self.body_clock_restart()  # a body still owed (the answer came first)
        if self.pipeline:
            self._unset_keepalive_if_required()
            cycle, app = self.pipeline.pop()
            self._running = cycle
            self._start_asgi_task(cycle, app)
        else:
            self._idle_since = self.loop.time()
            if self.timeout_keep_alive_task is None:
                self.timeout_keep_alive_task = self.loop.call_later(
                    self.timeout_keep_alive, self._keep_alive_expired
                )

    def _keep_alive_expired(self) -> None:
        self.timeout_keep_alive_task = None
        idle_since = self._idle_since
        if idle_since is None or self.transport.is_closing():
            return  # a request came: the next response arms the timer again
        left = idle_since + self.timeout_keep_alive - self.loop.time()
        if left > 0:
            self.timeout_keep_alive_task = self.loop.call_later(left, self._keep_alive_expired)
        else:
            self.timeout_keep_alive_handler()

    # -- the request -------------------------------------------------------------------

    def on_url(self, url: bytes) -> None:
        self._target_bytes += len(url)
        target = self.url + url
        limit = self._max_target
        if limit is not None and len(target) > limit:
            target = target[: limit + 1]  # over the limit: the application refuses it
        self.url = target

    def on_message_begin(self) -> None:
        self._boundary = False
        self.url = b""
        self._head_bytes = self._target_bytes = self._framing = self._chunks = 0
        self.expect_100_continue = False
        self.headers = []
        if self._head_since is None:  # (the first request's counts from the connection)
            self._head_since = self.loop.time()

    def _scope(self, http_version: str, method: str, headers: list[Any]) -> dict[str, Any]:
        """The scope without its path and query (all that uvicorn's upgrade handling, which
        reads the method, needs)."""
        return {
            "type": "http",
            "asgi": self._asgi,
            "http_version": http_version,
            "server": self.server,
            "client": self.client,
            "scheme": self.scheme,
            "root_path": self.root_path,
            "headers": headers,
            "state": self.app_state.copy(),
            "extensions": {EXTENSION: {}},
            "method": method,
        }

    def on_headers_complete(self) -> None:
        limit = self._max_header
        if limit is not None and self._head_bytes + self._read_bytes - self._target_bytes > limit:
            # The fields may be over the limit (a head this long is rare): counted exactly.
            fields = self.headers
            if sum(map(len, chain.from_iterable(fields))) + 4 * len(fields) > limit:
                raise _FieldsTooLarge  # stops the parser: data_received answers 431
        self._read_bytes = self._read_length  # a later head in this read: bounded by all of it
        self._head_since = None  # the head came: nothing is owed until the next one begins
        parser = self.parser
        http_version = parser.get_http_version()
        method = parser.get_method().decode("ascii")
        if parser.should_upgrade() and self._should_upgrade():
            self.scope = self._scope(http_version, method, self.headers)  # type: ignore[assignment]
            return
        url = self.url
        if url[:1] == b"/" and url.isascii() and not _URL_ODD.search(url):
            # origin-form, what every client sends: what httptools.parse_url would find
            raw_path, _, query = url.partition(b"?")
        else:
            parsed_url = httptools.parse_url(url)
            raw_path, query = parsed_url.path, parsed_url.query or b""
        path = raw_path.decode("ascii")
        if "%" in path:
            path = unquote(path)
        root_path = self.root_path
        if root_path:
            path = root_path + path
            raw_path = root_path.encode("ascii") + raw_path
        scope = self._scope(http_version, method, self.headers)
        scope["path"] = path
        scope["raw_path"] = raw_path
        scope["query_string"] = query
        self.scope = scope  # type: ignore[assignment]

        limit = self.limit_concurrency
        app: ASGI3Application
        if limit is not None and (len(self.connections) >= limit or len(self.tasks) >= limit):
            app = service_unavailable
            self.logger.warning("Exceeded concurrency limit.")
        else:
            app = self.app

        existing_cycle = self.cycle
        self.cycle = GatewayCycle(
            scope,
            self,
            http_version != "1.0" and parser.should_keep_alive(),
            self.expect_100_continue,
        )
        self._body_since = 0.0  # owed until on_message_complete (timed from this read's end)
        if existing_cycle is None or existing_cycle.response_complete:
            if (
                self._fast is not None
                and app is self.app
                and not self.flow.write_paused
                and not self.expect_100_continue  # the ASGI way sends the interim 100
            ):
                self._pending = (self.cycle, app)  # the fast path, if it all comes now
            else:
                self._start_asgi_task(self.cycle, app)
        else:
            if not self.pipeline:
                self._running = existing_cycle  # answered while this one waits
            self.flow.pause_reading()
            self.pipeline.appendleft((self.cycle, app))

    def _start_asgi_task(self, cycle: RequestResponseCycle, app: ASGI3Application) -> None:
        """Run the request in the connection's worker task, waiting for it after the
        previous request (uvicorn makes a task per request: that costs more than waking
        one). A request that comes while the worker is still busy (pipelined, or the
        previous application call still running after its response) gets a task of its
        own, as with uvicorn."""
        if self._fresh_context:  # uvicorn's reset_contextvars: a new context each time
            self.own_task(cycle.run_asgi(app), contextvars.Context())
            return
        waiting = self._next
        if waiting is not None:
            self._next = None
            if not waiting.done() and self._worker is not None:
                self.tasks.add(self._worker)
                waiting.set_result((cycle, app))  # type: ignore[arg-type]
                return
            self._worker = None  # it was cancelled while it waited
        if self._worker is None:
            self._worker = self.own_task(self._serve(cycle, app), None)  # type: ignore[arg-type]
            return
        self.own_task(cycle.run_asgi(app), None)

    def own_task(
        self, coro: Coroutine[Any, Any, None], context: contextvars.Context | None
    ) -> asyncio.Task[None]:
        """A task counted in the server's tasks (shutdown waits for it)."""
        task = self.loop.create_task(coro, context=context)
        task.add_done_callback(self._task_done)
        self.tasks.add(task)
        return task

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self.tasks.discard(task)
        if task is self._worker:
            self._worker = None
            self._next = None

    async def _serve(self, cycle: GatewayCycle, app: ASGI3Application) -> None:
        """The connection's worker: one request after the other, while the connection
        lasts. Not counted in the server's tasks while it waits (nothing to finish)."""
        while True:
            await cycle.run_asgi(app)
            if self.transport.is_closing() or self._worker is None:
                return
            waiting = self._next = self.loop.create_future()
            self.tasks.discard(self._worker)
            job = await waiting
            if job is None:
                return
            cycle, app = job

    def on_body(self, body: bytes) -> None:
        self._read_body += len(body)
        cycle = self.cycle
        if cycle.response_complete or (self.parser.should_upgrade() and self._should_upgrade()):
            return
        cycle.chunks.append(body)
        cycle.buffered += len(body)
        if cycle.buffered > HIGH_WATER_LIMIT:
            self.flow.pause_reading()
        cycle.message_event.set()

    def on_message_complete(self) -> None:
        self._boundary = True
        self._body_since = None  # all of it came
        cycle = self.cycle
        if cycle.response_complete or (self.parser.should_upgrade() and self._should_upgrade()):
            return
        cycle.more_body = False
        pending = self._pending
        if pending is not None and pending[0] is cycle and self._fast is not None:
            # All of the request is in: the application may answer it from here.
            self._pending = None
            chunks = cycle.chunks
            body = b"" if not chunks else chunks[0] if len(chunks) == 1 else b"".join(chunks)
            if self._fast(cycle.scope, body, cycle):
                return  # nothing will wait for the body
            self._start_asgi_task(*pending)
        cycle.message_event.set()
