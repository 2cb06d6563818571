"""The lean path: the gateway's usual request, read, checked, forwarded and answered in one
flat pass, without the server's per-request state, an ASGI scope, a request cycle or ASGI
messages.

The gateway's server offers each read that comes while a connection is between requests
(``server.LEAN_PATH``). :meth:`LeanPath.__call__` takes it only when it is one whole, plain
request of the common kind, and leaves everything else, untouched, to the parser and the
fast path (``Gateway.fast_path``), which keep every rule:

- the read is exactly one request whose every head line is of a strict form
  (:func:`_read_head`: a subset of what httptools, the server's parser, reads, and read as
  it reads it; ``test_lean_path.py`` compares the two on thousands of odd heads): GET,
  POST, PUT, PATCH or DELETE, HTTP/1.1, kept alive, an origin-form target of RFC 3986's
  characters, field values of visible ASCII, a body of exactly its ``Content-Length`` (at
  most the gateway's buffer limit) and nothing after it, no empty lines before it. A whole
  head whose body has only begun (http.client sends a body over 2,920 bytes after its
  head) is held for the next read and offered again joined to it, once
  (``GatewayHttpProtocol.lean_wait``);
- no field that changes how the request is framed or routed beyond the usual ones
  (``Transfer-Encoding``, ``Expect``, ``Upgrade``, ``Connection`` other than keep-alive,
  ``Origin`` and CORS preflights, a second ``Content-Length`` or ``Authorization``, ...);
- header fields well inside the limit (``GATEWAY_MAX_HEADER_BYTES``: their bytes as sent,
  and a third more, within it; the server counts a longer head exactly);
- a path without dot segments or percent-escapes (a query may have them), not one of the
  gateway's own pages, nor the sign-in and sign-up endpoints (their stricter limit lives
  in one place); what a request line means is remembered (``LeanPath.targets``);
- a token, when sent, that the verifier remembers as valid; none where the route needs one
  (Basic credentials are none) is left to the fast path, which answers the 401;
- the service's breaker closed and below its cap, and the rate limit allowing it (a refusal
  is left to the fast path, which counts and answers the 429: a refused check changes
  nothing).

Then the edge checks' outcome is applied as ``Gateway._admit`` applies it (the headers for
the service in the same order, the same request id and forwarded fields, an empty query
dropped) and the request goes to the service through the same forwarder as the fast path
(``native_proxy.forward_native_now``). The answer is offered, as it arrives, to
:meth:`_LeanRequest.flat` before the upstream connection's parser: when its first read
holds all of it and it is plain, it is read and passed on in one pass (each field line
looked up as sent in a table of lines already checked). Otherwise the forwarder reads it,
and a small, plain answer is still written back in one pass (:meth:`_LeanRequest.whole`):
the service's fields looked up in a table of fields seen valid, then the request id and the
pre-rendered security headers, head and body in one ``writelines``. Anything unusual after
forwarding (no idle connection, a failure, an answer to stream, a field the gateway rewrites,
one not seen before that is invalid) makes the request a request of the fast path from there
on (``GatewayHttpProtocol.lean_promote``): the same code finishes it. ``test_lean_path.py``
checks that the paths answer the same bytes.

Measured in docs/gateway.md ("The lean path")."""

from __future__ import annotations

import logging
import re
import time
from typing import TYPE_CHECKING, TypeVar, cast

import httptools
from starlette.types import Send
from uvicorn.protocols.http.flow_control import HIGH_WATER_LIMIT
from uvicorn.protocols.http.httptools_impl import STATUS_LINE

from tellonce_gateway.breaker import Breaker
from tellonce_gateway.edge_auth import bearer_token
from tellonce_gateway.headers import REQUEST_DROP, RESPONSE_DROP, SECURITY_FIELDS
from tellonce_gateway.ledger import LEDGER
from tellonce_gateway.native_proxy import Work, answer_taken, forward_native_now
from tellonce_gateway.routes import AUTH_ENDPOINTS, Route
from tellonce_gateway.server import writable_field
from tellonce_shared.logging import request_id_var
from tellonce_shared.middleware import accept_request_id, new_request_id
from tellonce_shared.problems import Unauthorized

if TYPE_CHECKING:
    from tellonce_gateway.app import Gateway, _Exchange
    from tellonce_gateway.server import GatewayCycle, GatewayHttpProtocol
    from tellonce_gateway.upstream_client import Payload, UpstreamConnection, UpstreamPool

log = logging.getLogger("tellonce.gateway")

_METHODS = frozenset({b"GET", b"POST", b"PUT", b"PATCH", b"DELETE"})
_BODY_METHODS = frozenset({b"POST", b"PUT", b"PATCH"})
_KEPT = frozenset({b"host", b"x-request-id", b"x-forwarded-for", b"x-forwarded-proto"})
"""Of the fields the gateway drops (``REQUEST_DROP``), those it reads: any other one (framing,
upgrades, ``Expect``, ``Forwarded``...) is left to the fast path, as is a ``Connection`` field
that says anything but keep-alive."""
_LEAVE = (REQUEST_DROP - _KEPT - {b"connection"}) | {
    b"origin",
    b"access-control-request-method",
}
_READ = _KEPT | _LEAVE | {b"content-length", b"authorization", b"connection"}
"""The fields the lean path looks at; the others are passed on as they came."""

_FIELD_LINES: dict[tuple[bytes, bytes], bytes] = {}
"""Answer fields seen valid (the server's own checks), lower-case, and not ones the gateway
rewrites or that frame the message, each as written on the wire."""
_FIELD_LINES_MAX = 2048
_NOT_PASSED = RESPONSE_DROP | SECURITY_FIELDS | {b"content-length"}
"""Never in ``_FIELD_LINES``: framing, and the fields the gateway sets or weighs itself (an
answer with one of them takes the fast path's answer, ``Gateway._head``)."""


K = TypeVar("K")
V = TypeVar("V")


def _remember(table: dict[K, V], key: K, value: V, limit: int) -> V:
    """``value``, kept in ``table`` (one of the lean path's tables of lines already read)
    under ``key``; a table at ``limit`` is emptied first (many distinct values: request ids,
    tags, cookies, dates, targets: start again)."""
    if len(table) >= limit:
        table.clear()
    table[key] = value
    return value


def _field_line(pair: tuple[bytes, bytes]) -> bytes | None:
    """``pair`` as written on the wire if it may be passed on as it is (remembered), else
    None."""
    name, value = pair
    if name in _NOT_PASSED or not writable_field(name, value):
        return None
    return _remember(_FIELD_LINES, pair, b"%s: %s\r\n" % pair, _FIELD_LINES_MAX)


_STATUS = re.compile(rb"HTTP/1\.1 ([2-5][0-9][0-9])(?: [\t\x20-\x7e\x80-\xff]*)?")
_ANSWER_FIELD = re.compile(
    rb"([!#$%&'*+\-.^_`|~0-9A-Za-z]+):[ \t]*"
    rb"((?:[\x21-\x7e\x80-\xff](?:[\t\x20-\x7e\x80-\xff]*[\x21-\x7e\x80-\xff])?)?)"
)
"""A field line of a service's answer the flat reading takes: a token, a colon, a value
without white space at its ends (anything else, an obsolete line folding included, is left
to the parser)."""
_STATUSES: dict[bytes, int] = {}
"""Status lines seen (``HTTP/1.1 200 OK``) and their status."""
_ANSWER_LINES: dict[bytes, bytes] = {}
"""A service's answer field lines as sent, each as the gateway passes it on (b"": dropped,
the service's own ``Date``, ``Server`` and ``X-Request-ID``), for lines seen plain."""
_ANSWER_LINES_MAX = 2048
_DROPPED = frozenset({b"date", b"server", b"x-request-id"})
_CONTENT_LENGTH = b"content-length:"


def _status_of(line: bytes) -> int | None:
    """The status of an answer's status line, if the flat reading takes it: not 1xx, 204,
    304 (no body), 400 (looked at by the fast path), nor one the server cannot write."""
    match = _STATUS.fullmatch(line)
    if match is None:
        return None
    status = int(match[1])
    if status in (204, 304, 400) or status not in STATUS_LINE:
        return None
    if len(_STATUSES) < 64:
        _STATUSES[line] = status
    return status


def _answer_line(raw: bytes) -> bytes | None:
    """An answer's field line as the gateway passes it on (b"" when dropped), remembered;
    None for one the flat reading leaves to the parser (framing, ``Connection``, a field
    the gateway rewrites, a value the server's checks refuse)."""
    match = _ANSWER_FIELD.fullmatch(raw)
    if match is None:
        return None
    name = match[1].lower()
    if name in _DROPPED:
        line = b""
    else:
        line = _field_line((name, match[2])) or b""
        if not line:
            return None
    return _remember(_ANSWER_LINES, raw, line, _ANSWER_LINES_MAX)


_DEFAULTS: list[object] = [None, None]
"""The server's own fields (``Date``, and ``Server`` unless turned off) last rendered: the
list the server holds (a new one each second) and its fields as written on the wire."""


def _server_fields(fields: list[tuple[bytes, bytes]]) -> bytes | None:
    """The server's own fields as written on the wire, checked as the server checks them
    (None: one does not pass, and the fast path's answer refuses it)."""
    if _DEFAULTS[0] is fields:
        return cast(bytes, _DEFAULTS[1])
    if not all(writable_field(name, value) for name, value in fields):
        return None
    rendered = b"".join(b"%s: %s\r\n" % pair for pair in fields)
    _DEFAULTS[:] = fields, rendered
    return rendered


_REQUEST_LINE = re.compile(
    rb"(GET|POST|PUT|PATCH|DELETE) "
    rb"(/[-A-Za-z0-9._~!$&'()*+,;=:@/]*(?:\?[-A-Za-z0-9._~!$&'()*+,;=:@/?%]*)?) HTTP/1\.1"
)
"""A request line the lean path reads: a method it takes, an origin-form target of the
characters RFC 3986 allows in a path (but ``%``: no escapes in the path) and a query, and
HTTP/1.1."""
_REQUEST_FIELD = re.compile(
    rb"([!#$%&'*+\-.^_`|~0-9A-Za-z]+):[ \t]*((?:[\x21-\x7e](?:[\t\x20-\x7e]*[\x21-\x7e])?)?)"
)
"""A request's field line the lean path reads: a token, a colon, and a value of visible
ASCII characters with no white space at its ends (what llhttp reads the same way; anything
else, an obsolete line folding or a byte over 0x7e included, is left to the parser)."""
_REQUEST_FIELDS: dict[bytes, tuple[bytes, bytes]] = {}
"""Field lines seen, as sent, and their name (in lower case) and value."""
_SEEN_MAX = 4096
_SEEN_LONGEST = 1024
"""Lines remembered: at most this many, of at most this many bytes each (4 MiB at worst)."""


def _request_line(line: bytes) -> tuple[bytes, bytes] | None:
    """The method and target of a request line of the strict form above, else None (the
    parser reads it)."""
    match = _REQUEST_LINE.fullmatch(line)
    return None if match is None else (match[1], match[2])


def _read_head(data: bytes, first: int, end: int) -> _Head | None:
    """The fields of the request whose head ends at ``end`` (its first line ends at
    ``first``), when every field line is of the strict form above, else None (the parser
    reads it). What it reads, it reads as httptools does (``test_lean_path.py`` compares
    them)."""
    head = _Head()
    if end > first:
        fields = _REQUEST_FIELDS
        on_header = head.on_header
        for raw in data[first + 2 : end].split(b"\r\n"):
            pair = fields.get(raw)
            if pair is None:
                match = _REQUEST_FIELD.fullmatch(raw)
                if match is None:
                    return None
                pair = match[1].lower(), match[2]
                if len(raw) <= _SEEN_LONGEST:
                    _remember(fields, raw, pair, _SEEN_MAX)
            on_header(*pair)
    return head


class _Target:
    """What the lean path makes of a request line, remembered (``LeanPath.targets``)."""

    __slots__ = (
        "method", "method_bytes", "needs_token", "path", "query", "raw_path", "route", "target",
    )  # fmt: skip

    def __init__(self, method_bytes: bytes, raw_path: bytes, query: bytes, route: Route) -> None:
        self.method_bytes = method_bytes
        self.method = method = method_bytes.decode("ascii")
        self.raw_path = raw_path
        self.path = path = raw_path.decode("ascii")
        self.query = query
        self.target = raw_path + b"?" + query if query else raw_path
        """As the service gets it (an empty query dropped, as the other paths drop it)."""
        self.route = route
        self.needs_token = route.needs_token(method, path)


class _Head:
    """What the lean path reads of a request's fields (:func:`_read_head`): the ones the edge
    reads, the others to pass on in order, and whether one of them leaves the request to the
    fast path."""

    # What most requests have, shared (an instance only stores what it sets).
    length: bytes | None = None
    authorization: bytes | None = None
    host: bytes | None = None
    rid: bytes | None = None
    forwarded_for: bytes | None = None
    forwarded_proto: bytes | None = None
    leave = False
    """Something the lean path leaves to the fast path (a field, a second value...)."""

    def __init__(self) -> None:
        self.headers: list[tuple[bytes, bytes]] = []

    def on_header(self, name: bytes, value: bytes) -> None:
        """One field, its name in lower case."""
        if name not in _READ:
            self.headers.append((name, value))
        elif name in _LEAVE:
            self.leave = True
        elif name == b"host":
            self.host = value
        elif name == b"x-request-id":
            self.rid = value
        elif name == b"content-length":
            if self.length is not None or not value.isdigit():
                self.leave = True
            self.length = value
        elif name == b"authorization":
            if self.authorization is not None:
                self.leave = True
            self.authorization = value
            self.headers.append((name, value))
        elif name == b"connection":
            if value.lower() != b"keep-alive":
                self.leave = True
        elif name == b"x-forwarded-for":
            self.forwarded_for = value
        else:
            self.forwarded_proto = value

    @staticmethod
    def fields_of(data: bytes) -> list[tuple[bytes, bytes]]:
        """Every header field of the request in ``data``, names in lower case (its scope's
        ``headers``)."""
        fields: list[tuple[bytes, bytes]] = []

        class Fields:
            def on_header(self, name: bytes, value: bytes) -> None:
                fields.append((name.lower(), value))

        httptools.HttpRequestParser(Fields()).feed_data(data)
        return fields


class LeanPath:
    """``server.LEAN_PATH`` for a :class:`~tellonce_gateway.app.Gateway` (see the module)."""

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway
        self.own_paths = frozenset(path.encode() for path in gateway.own)
        assert gateway.pools is not None  # the native forwarder only
        self.pools = gateway.pools
        self.rendered = {
            kind: gateway.security.rendered[kind, False, False] for kind in ("api", "portal")
        }
        """The security headers as written on the wire, by the kind of answer."""
        self.targets: dict[bytes, _Target] = {}
        """Request lines seen, as sent, that the lean path takes, and what it makes of them
        (bounded as the remembered field lines are)."""

    def _target(self, line: bytes) -> _Target | None:
        """What the lean path makes of a request line not seen before (remembered), or None
        for one it leaves to the fast path."""
        read = _request_line(line)
        if read is None:
            return None
        method_bytes, target = read
        gateway = self.gateway
        if len(target) > gateway.max_target_bytes:
            return None
        raw_path, _, query = target.partition(b"?")
        if b"/." in raw_path or raw_path in self.own_paths:
            return None  # dot segments (the fast path's 400), or the gateway's own page
        path = raw_path.decode("ascii")
        if method_bytes == b"POST" and path.rstrip("/") in AUTH_ENDPOINTS:
            return None  # the stricter limit of signing in and signing up
        known = _Target(method_bytes, raw_path, query, gateway.table.match(path))
        if len(line) <= _SEEN_LONGEST:
            _remember(self.targets, line, known, _SEEN_MAX)
        return known

    def __call__(self, protocol: GatewayHttpProtocol, data: bytes) -> bool:
        gateway = self.gateway
        if data[:1] not in b"GPD":
            return False  # not a method it takes (nor empty lines, which the parser skips)
        first = data.find(b"\r\n")
        end = data.find(b"\r\n\r\n", first)
        if first < 0 or end < 0:
            return False  # not even a whole head
        fields_size = end - first
        if fields_size + fields_size // 3 > gateway.max_header_bytes:
            return False  # perhaps over the limit: the server counts the fields exactly
        line = data[:first]
        known = self.targets.get(line)
        if known is None:
            known = self._target(line)
            if known is None:
                return False
        if protocol.root_path:
            return False
        head = _read_head(data, first, end)
        if head is None or head.leave:
            return False  # the parser reads it (and answers a 400 where it must)
        start = end + 4
        rest = len(data) - start
        body: Payload = b""
        short = False  # the body's start only
        if head.length is None:
            if rest or known.method_bytes in _BODY_METHODS:
                return False  # a second request after it, or a body without a length
        else:
            length = int(head.length)
            if length > gateway.buffer_limit:
                return False  # a body to stream
            if length != rest:
                if rest > length or length > HIGH_WATER_LIMIT:
                    return False  # a second request after it, or a body the parser streams
                short = True
            elif rest:
                body = memoryview(data)[start:]
        authorization = head.authorization
        headers = head.headers
        route = known.route
        upstream = route.upstream
        # Who calls: the token (remembered as valid), the address.
        principal = None
        if authorization is not None:
            if upstream == "identity" and authorization[:6].lower() == b"basic ":
                pass  # client credentials, checked by the identity service
            else:
                try:
                    token = bearer_token(authorization)
                except Unauthorized:
                    return False  # the fast path's 401 (counted against the address)
                principal = gateway.verifier.remembered(token)
                if principal is None:
                    return False
        if principal is None and known.needs_token:
            return False  # the fast path's 401 (Basic credentials are no token either)
        if short:  # (its head as the lean path takes one): held for the rest of its body
            return protocol.lean_wait(data)
        client = protocol.client
        peer = client[0] if client else "unknown"
        proxies = gateway.proxies
        forwarded_for = head.forwarded_for
        address = peer if forwarded_for is None else proxies.client_address(peer, forwarded_for)
        breaker = gateway.breakers[upstream]
        if breaker.in_flight >= breaker.limit:
            return False  # at its cap, or the breaker open: the fast path's 503
        if principal is not None:
            key = "sub:" + principal.sub
        else:
            key = gateway._address_keys.get(address) or gateway.address_keys(address)
        # The headers for the service, as Gateway._admit adds them.
        started = time.perf_counter()
        rid = head.rid
        request_id = new_request_id() if rid is None else accept_request_id(rid.decode("latin-1"))
        rid_bytes = request_id.encode()
        gateway.add_forwarding_fields(
            headers, rid_bytes, bool(client), peer, protocol.scheme, forwarded_for,
            head.forwarded_proto, head.host,
        )  # fmt: skip
        request = _LeanRequest(
            protocol, gateway, data, known, key, started, request_id, rid_bytes,
            self.rendered[route.csp_kind],
        )  # fmt: skip
        request.pool = pool = self.pools[upstream]
        request.breaker = breaker
        request.generation = generation = breaker.generation
        if gateway.limiter.retry_after(key) is not None:
            return False  # the fast path answers the 429 (a refused check changes nothing)
        # Taken (the rate limit counted it): from here on, it is answered one way or another.
        protocol.lean_taken()
        breaker.in_flight += 1  # given back by the forwarder, at the answer's head
        try:
            try:
                forward_native_now(
                    pool, route, known.method, known.target, headers, body or None, request.whole,
                    request.later, breaker, generation, request.flat,
                )  # fmt: skip
            except BaseException:
                breaker.ended_early(generation, failure=False)  # nothing was taken over
                raise
        except Exception as exc:
            cycle, exchange = request.promote()
            gateway.fail_now(exchange, cycle, exc)
        return True


class _LeanRequest:
    """A request the lean path took, until it is answered (or goes on as the fast path's)."""

    __slots__ = (
        "breaker",
        "client",
        "data",
        "done",
        "gateway",
        "generation",
        "known",
        "pool",
        "promoted",
        "protocol",
        "rid",
        "rid_bytes",
        "security",
        "started",
    )  # fmt: skip

    def __init__(
        self,
        protocol: GatewayHttpProtocol,
        gateway: Gateway,
        data: bytes,
        known: _Target,
        client: str,
        started: float,
        rid: str,
        rid_bytes: bytes,
        security: bytes,
    ) -> None:
        self.protocol = protocol
        self.gateway = gateway
        self.data = data
        self.known = known
        """Its request line's meaning: method, path, query, route."""
        self.client = client
        self.started = started
        self.rid = rid
        self.rid_bytes = rid_bytes
        self.security = security
        self.promoted: tuple[GatewayCycle, _Exchange] | None = None
        self.done = False
        """Answered (and logged), and the connection told."""
        self.pool: UpstreamPool
        self.breaker: Breaker
        self.generation = 0

    def whole(self, status: int, fields: list[tuple[bytes, bytes]], answer: bytes) -> None:
        """The forwarder's whole answer (``native_proxy.WholeAnswer``): written in one pass
        when it is plain, else answered as the fast path answers it."""
        try:
            written = self._write(status, fields, answer)
        except Exception:  # never leave the connection waiting for an answer
            self._failed()
            return
        if not written:
            cycle, exchange = self.promote()
            self.gateway._answer_now(exchange, cycle, status, fields, answer)

    def _write(self, status: int, fields: list[tuple[bytes, bytes]], answer: bytes) -> bool:
        lines = _FIELD_LINES
        defaults = _server_fields(self.protocol.server_state.default_headers)
        if defaults is None:
            return False
        parts = [STATUS_LINE[status], defaults]
        declared = None
        for pair in fields:
            line = lines.get(pair)
            if line is None:
                if pair[0] == b"content-length" and pair[1].isdigit():
                    declared = pair[1]
                    line = b"content-length: %s\r\n" % declared
                else:
                    line = _field_line(pair)
                    if line is None:
                        return False
            parts.append(line)
        if declared is None or int(declared) != len(answer):
            return False
        self._send(status, parts, answer)
        return True

    def flat(self, conn: UpstreamConnection, data: bytes) -> bool:
        """The service's answer, when its first read holds all of it and it is plain, read
        and passed on in one pass, without the connection's parser
        (``UpstreamConnection.flat``); False leaves the read, untouched, to the parser (and
        the answer to :meth:`whole`, or the fast path)."""
        end = data.find(b"\r\n\r\n")
        if end < 0:
            return False
        lines = data[:end].split(b"\r\n")
        status = _STATUSES.get(lines[0]) or _status_of(lines[0])
        if status is None:
            return False
        defaults = _server_fields(self.protocol.server_state.default_headers)
        if defaults is None:
            return False
        parts = [STATUS_LINE[status], defaults]
        known = _ANSWER_LINES
        length = -1
        for raw in lines[1:]:
            line = known.get(raw)
            if line is None:
                if raw[:15].lower() == _CONTENT_LENGTH:
                    value = raw[15:].lstrip(b" \t")  # trailing: the parser's
                    if length >= 0 or not value.isdigit():
                        return False
                    length = int(value)
                    line = b"content-length: %s\r\n" % value
                else:
                    line = _answer_line(raw)
                    if line is None:
                        return False
            if line:
                parts.append(line)
        start = end + 4
        if length < 0 or start + length != len(data):
            return False  # no length, more to come, or bytes after it: the parser's
        at = time.perf_counter()
        try:
            sent = self._deliver(status, parts, data[start:])  # the client first
        except Exception:  # never leave the connection waiting for an answer
            sent = 0
        conn.took_whole(status, at)
        answer_taken(self.pool, conn, self.known.route.upstream, self.breaker, self.generation)
        if sent:
            self._delivered(sent)
        else:
            self._failed()
        return True

    def _failed(self) -> None:
        """An error while writing the answer (a bug: nothing expected raises there): logged
        under the request's id, the connection closed (the client may have part of the
        answer), the request logged as a 500 unless it already was."""
        context = request_id_var.set(self.rid)
        try:
            log.exception("unhandled error in the gateway's lean path")
        finally:
            request_id_var.reset(context)
        protocol = self.protocol
        protocol.transport.close()
        if not self.done:  # (not when the error came after its answer, from the next read)
            self.done = True
            self._account(500)
            protocol.lean_answered()

    def _send(self, status: int, parts: list[bytes], answer: bytes) -> None:
        """Write the answer (its status line and fields so far in ``parts``), note it in the
        ledger, and let the connection go on."""
        self._delivered(self._deliver(status, parts, answer))

    def _deliver(self, status: int, parts: list[bytes], answer: bytes) -> int:
        """Write the answer (its status line and fields so far in ``parts``); the status to
        log (499 when the client had gone)."""
        protocol = self.protocol
        parts += (b"x-request-id: ", self.rid_bytes, b"\r\n", self.security)
        if protocol.lean_closing:
            parts.append(b"connection: close\r\n")
        parts.append(b"\r\n")
        transport = protocol.transport
        if transport.is_closing():
            status = 499  # the client left: nothing of the answer reached it
        elif answer:
            transport.writelines((b"".join(parts), answer))
        else:
            transport.write(b"".join(parts))
        return status

    def _delivered(self, status: int) -> None:
        """The answer is written (``status``: as logged): noted in the ledger, and the
        connection goes on."""
        self._account(status)
        self.done = True
        self.protocol.lean_answered()

    def _account(self, status: int) -> None:
        """The request's access line and metrics, noted in the ledger (``Gateway._finish``)."""
        known = self.known
        route = known.route
        LEDGER.add(
            self.gateway._account,
            (
                time.time(), time.perf_counter() - self.started, known.method, route.prefix,
                known.path, status, route.upstream, self.client, self.rid,
            ),
        )  # fmt: skip

    def later(self, work: Work) -> None:
        """The rest of the forwarding in a task (``native_proxy.Later``), as the fast path's."""
        cycle, exchange = self.promote()
        gateway = self.gateway
        context = request_id_var.set(self.rid)
        try:
            send = gateway._sender(exchange, cast(Send, cycle.send), True)
            cycle.continue_in_task(gateway._guarded(exchange, work(send), send))
        finally:
            request_id_var.reset(context)

    def promote(self) -> tuple[GatewayCycle, _Exchange]:
        """The request as a request of the fast path from here on: its scope, cycle and
        edge view made now, with what the lean path found (route, client, request id)."""
        if self.promoted is not None:
            return self.promoted
        known = self.known
        route = known.route
        fields = _Head.fields_of(self.data)
        protocol = self.protocol
        scope = protocol.lean_scope(known.method, known.path, known.raw_path, known.query, fields)
        cycle = protocol.lean_promote(scope)
        exchange = self.gateway.exchange_for(scope)
        exchange.started = self.started
        exchange.rid, exchange.rid_bytes = self.rid, self.rid_bytes
        exchange.route_label, exchange.upstream = route.prefix, route.upstream
        exchange.client = self.client
        exchange.csp_kind = route.csp_kind
        self.promoted = cycle, exchange
        return self.promoted
