"""The cap on requests in flight to a service and its breaker (``tellonce_gateway.breaker``):
the state machine on a clock the test moves, then through a served gateway on each way a
request can go (the fast path, the ASGI path, the aiohttp forwarder): a request over the cap
refused at once without a connection, the counts back to 0 however a request ends, a client
that stalls its upload or reads its answer slowly holding no place under the cap, the
breaker opened by a service that is down or silent and closed by a trial, never by a 500 or
a garbled answer, a stalled trial losing its place after its deadline, late outcomes of
requests sent before it opened ignored after it closed, and ``/readyz`` still asking a
service whose breaker is open."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pytest
import pytest_asyncio
from prometheus_client import REGISTRY

from tellonce_gateway.app import Gateway
from tellonce_gateway.breaker import CLOSED, HALF_OPEN, OPEN, Breaker
from tellonce_gateway.ledger import LEDGER
from tellonce_gateway.main import create_app
from tellonce_shared.problems import ServiceUnavailable
from tellonce_shared.testing import eventually

from .conftest import recorded

if TYPE_CHECKING:
    import httpx

    from .conftest import GatewayServer, Stack

PROBLEM = "application/problem+json"


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def breaker(clock: Clock, *, cap: int = 3, failures: int = 3, seconds: float = 5.0) -> Breaker:
    return Breaker(
        "unit", max_in_flight=cap, failures_to_open=failures, open_seconds=seconds, clock=clock
    )


def board(b: Breaker) -> int:
    """What the gateway does before forwarding: the one comparison, the breaker asked only
    when it fails, the request counted; returns the generation it is tagged with."""
    generation = b.admit() if b.in_flight >= b.limit else b.generation
    b.in_flight += 1
    return generation


def land(b: Breaker, generation: int, outcome: str) -> None:
    """What the forwarder does when the answer's head is in (``ok``) or the exchange failed
    before it (``failed``, or ``dropped``: neither way)."""
    b.in_flight -= 1
    if outcome == "failed":
        b.failed(generation)
    elif outcome == "dropped":
        b.dropped(generation)
    elif b.failures:
        b.succeeded(generation)


def refusal(b: Breaker) -> ServiceUnavailable:
    with pytest.raises(ServiceUnavailable) as refused:
        board(b)
    return refused.value


def sample(name: str, **labels: str) -> float:
    LEDGER.settle()
    return REGISTRY.get_sample_value(name, labels) or 0.0


# -- the state machine -------------------------------------------------------------------


def test_the_cap_admits_up_to_its_number_then_refuses_with_retry_after() -> None:
    b = breaker(Clock(), cap=2)
    before = sample("tellonce_gateway_upstream_refusals_total", upstream="unit", reason="in-flight")
    assert (board(b), board(b)) == (0, 0)
    refused = refusal(b)
    assert refused.status == 503
    assert refused.headers["Retry-After"] == "1"
    assert b.in_flight == 2  # the refused one was never counted
    after = sample("tellonce_gateway_upstream_refusals_total", upstream="unit", reason="in-flight")
    assert after == before + 1
    land(b, 0, "ok")
    assert board(b) == 0  # room again
    assert b.state == CLOSED


def test_failures_in_a_row_open_it_and_a_success_starts_the_count_again() -> None:
    b = breaker(Clock(), failures=3)
    for _ in range(2):
        land(b, board(b), "failed")
    land(b, board(b), "ok")
    assert b.failures == 0
    for _ in range(2):
        land(b, board(b), "failed")
    land(b, board(b), "dropped")  # a client gone, a 502: neither way
    assert (b.state, b.failures) == (CLOSED, 2)
    land(b, board(b), "failed")
    assert (b.state, b.limit) == (OPEN, 0)
    assert sample("tellonce_gateway_breaker_state", upstream="unit") == OPEN


def test_open_refuses_with_the_seconds_left_rounded_up() -> None:
    clock = Clock()
    b = breaker(clock, failures=1, seconds=5.0)
    land(b, board(b), "failed")
    before = sample("tellonce_gateway_upstream_refusals_total", upstream="unit", reason="breaker")
    assert refusal(b).headers["Retry-After"] == "5"
    clock.now += 1.2
    assert refusal(b).headers["Retry-After"] == "4"
    clock.now += 3.79
    refused = refusal(b)
    assert refused.headers["Retry-After"] == "1"
    assert "failing" in (refused.detail or "")
    after = sample("tellonce_gateway_upstream_refusals_total", upstream="unit", reason="breaker")
    assert after == before + 3
    assert (b.state, b.in_flight) == (OPEN, 0)


def test_after_the_cool_off_one_trial_goes_and_its_success_closes_it() -> None:
    clock = Clock()
    b = breaker(clock, cap=3, failures=1, seconds=5.0)
    land(b, board(b), "failed")
    clock.now += 5.0
    trial = board(b)
    assert (b.trial_out, trial) == (True, b.generation)
    assert b.state == HALF_OPEN
    assert sample("tellonce_gateway_breaker_state", upstream="unit") == HALF_OPEN
    assert refusal(b).headers["Retry-After"] == "1"  # one trial at a time
    land(b, trial, "ok")
    assert (b.state, b.failures, b.limit) == (CLOSED, 0, 3)
    assert sample("tellonce_gateway_breaker_state", upstream="unit") == CLOSED
    assert [board(b) for _ in range(3)] == [trial] * 3


def test_a_failed_trial_opens_it_for_another_cool_off() -> None:
    clock = Clock()
    b = breaker(clock, failures=2, seconds=5.0)
    for _ in range(2):
        land(b, board(b), "failed")
    clock.now += 7.0
    land(b, board(b), "failed")
    assert b.state == OPEN
    assert b.open_until == clock.now + 5.0
    assert refusal(b).headers["Retry-After"] == "5"
    clock.now += 5.0
    board(b)
    assert b.trial_out  # the next trial


def test_a_trial_that_ends_neither_way_frees_its_place() -> None:
    clock = Clock()
    b = breaker(clock, failures=1)
    land(b, board(b), "failed")
    clock.now += 5.0
    land(b, board(b), "dropped")
    assert (b.state, b.trial_out) == (HALF_OPEN, False)
    board(b)
    assert b.trial_out  # another trial, not a refusal


def test_requests_sent_before_it_opened_change_nothing_while_open() -> None:
    clock = Clock()
    b = breaker(clock, cap=10, failures=2)
    early = [board(b) for _ in range(4)]  # out when it opens
    land(b, early.pop(), "failed")
    land(b, early.pop(), "failed")
    assert b.state == OPEN
    land(b, early.pop(), "ok")  # an old request answering says nothing newer
    assert b.state == OPEN
    clock.now += 5.0
    trial = board(b)
    land(b, early.pop(), "failed")  # nor does an old one failing while the trial is out
    assert (b.state, b.trial_out) == (HALF_OPEN, True)
    land(b, trial, "ok")
    assert (b.state, b.in_flight) == (CLOSED, 0)


def test_a_trial_unsettled_past_its_deadline_gives_its_place_to_another() -> None:
    """A trial whose client stalls its upload (or a slow service) holds the place for
    ``open_seconds`` at most; the one it outlived says nothing when it is dropped, but still
    closes the breaker if it is answered (it was sent after the breaker opened)."""
    clock = Clock()
    b = breaker(clock, failures=1, seconds=5.0)
    land(b, board(b), "failed")
    clock.now += 5.0
    stalled = board(b)
    clock.now += 4.9
    assert "one request is trying" in (refusal(b).detail or "")
    clock.now += 0.1
    second = board(b)  # the deadline is over: another trial
    assert (b.state, b.trial_out, second) == (HALF_OPEN, True, stalled + 1)
    land(b, stalled, "dropped")  # the first one's client leaves at last
    assert b.trial_out  # the second still holds the place
    refusal(b)
    clock.now += 5.0
    third = board(b)
    land(b, second, "ok")  # outlived too, but answered: the service is well
    assert (b.state, b.failures, b.trial_out) == (CLOSED, 0, False)
    land(b, third, "ok")
    assert (b.state, b.in_flight) == (CLOSED, 0)


def test_a_failed_trial_makes_the_other_trial_stale() -> None:
    clock = Clock()
    b = breaker(clock, failures=1, seconds=5.0)
    land(b, board(b), "failed")
    clock.now += 5.0
    first = board(b)
    clock.now += 5.0
    second = board(b)
    land(b, second, "failed")
    assert b.state == OPEN
    land(b, first, "ok")  # sent before it opened again: says nothing newer
    assert b.state == OPEN


def test_late_outcomes_of_requests_sent_before_it_opened_are_ignored_after_it_closed() -> None:
    """The requests out when the breaker opened may time out after a trial has found the
    service well: their failures must not count again (enough of them would re-open it)."""
    clock = Clock()
    b = breaker(clock, cap=10, failures=2)
    early = [board(b) for _ in range(5)]
    land(b, early.pop(), "failed")
    land(b, early.pop(), "failed")
    assert b.state == OPEN
    clock.now += 5.0
    land(b, board(b), "ok")
    assert b.state == CLOSED
    for generation in early:  # their 504s arrive now
        land(b, generation, "failed")
    assert (b.state, b.failures, b.in_flight) == (CLOSED, 0, 0)
    land(b, board(b), "failed")  # a new one still counts
    assert b.failures == 1


# -- through a served gateway -------------------------------------------------------------


@dataclass
class Service:
    """A service on a port reserved for it: refused (bound, not listening) until
    :meth:`listen`; then it answers every request ``status`` with ``ok`` (kept alive) after
    ``delay`` seconds (once all of a chunked body is in, as a service reading it would), or
    ``reply`` as given, or with ``hang`` reads the request head and never answers. Counts
    connections and requests (when their head is in)."""

    sock: socket.socket
    status: int = 200
    hang: bool = False
    delay: float = 0.0
    reply: bytes | None = None
    connections: int = 0
    requests: list[str] = field(default_factory=list)
    held: list[asyncio.StreamWriter] = field(default_factory=list)
    server: asyncio.Server | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}"

    async def listen(self) -> None:
        self.server = await asyncio.start_server(self.handle, sock=self.sock)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                self.requests.append(head.split(b" ", 2)[1].decode())
                if self.hang:
                    self.held.append(writer)
                    return
                if b"transfer-encoding: chunked" in head.lower():
                    await reader.readuntil(b"0\r\n\r\n")  # (the tests' pieces never hold it)
                if self.delay:
                    await asyncio.sleep(self.delay)
                reason = b"OK" if self.status == 200 else b"Internal Server Error"
                writer.write(
                    self.reply
                    or b"HTTP/1.1 %d %b\r\ncontent-length: 2\r\n\r\nok" % (self.status, reason)
                )
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        writer.close()


ServiceFactory = Callable[..., Awaitable[Service]]


@pytest_asyncio.fixture
async def service() -> AsyncIterator[ServiceFactory]:
    made: list[Service] = []

    async def start(*, listening: bool = True, **options: Any) -> Service:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        svc = Service(sock, **options)
        made.append(svc)
        if listening:
            await svc.listen()
        return svc

    yield start
    for svc in made:
        for writer in svc.held:
            writer.close()
        if svc.server is not None:
            svc.server.close()
            await svc.server.wait_closed()
        svc.sock.close()


@dataclass
class Served:
    app: Gateway
    url: str
    taken: list[bool]
    """What the fast path answered for each request it was offered (kind ``fast``)."""

    def breaker(self, upstream: str) -> Breaker:
        return self.app.breakers[upstream]

    def in_flight(self) -> dict[str, int]:
        return {name: b.in_flight for name, b in self.app.breakers.items()}


StartFactory = Callable[..., Awaitable[Served]]
KINDS = pytest.mark.parametrize("kind", ["lean", "fast", "asgi", "aiohttp"])
"""lean: the native forwarder as served (the lean path, then the fast path); fast: the
fast path first (the lean path off); asgi: the native forwarder with both off; aiohttp: the
other forwarder (always ASGI)."""


@pytest.fixture
def start(stack: Stack, serve_gateway: GatewayServer) -> StartFactory:
    async def start(kind: str, **overrides: Any) -> Served:
        if kind == "aiohttp":
            overrides["client"] = "aiohttp"
        app = create_app(stack.settings(**overrides))
        assert isinstance(app, Gateway)
        taken: list[bool] = []
        if kind == "asgi":
            app.fast_path = None  # type: ignore[assignment,method-assign]
        elif kind == "fast":
            app.lean_path = None
            app.fast_path = recorded(app.fast_path, taken)  # type: ignore[method-assign]
        return Served(app, await serve_gateway(app), taken)

    return start


async def stall_upload(url: str, path: str) -> asyncio.StreamWriter:
    """A client that starts a chunked upload (one piece) and goes silent."""
    host, port = url.removeprefix("http://").split(":")
    _, writer = await asyncio.open_connection(host, int(port))
    head = f"POST {path} HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n"
    writer.write(head.encode() + b"2\r\nab\r\n")
    await writer.drain()
    return writer


def assert_refused(resp: httpx.Response, retry_after: str) -> dict[str, Any]:
    assert resp.status_code == 503, resp.text
    assert resp.headers["content-type"] == PROBLEM
    assert resp.headers["retry-after"] == retry_after
    body: dict[str, Any] = resp.json()
    assert body["status"] == 503
    return body


@KINDS
async def test_a_request_over_the_cap_is_refused_at_once_without_a_connection(
    kind: str, start: StartFactory, service: ServiceFactory, client: httpx.AsyncClient
) -> None:
    hung = await service(hang=True)
    gw = await start(
        kind,
        registry_url=hung.url,
        upstream_max_in_flight=2,
        route_timeouts={"/api/v1/forms": 1.0},  # long enough for what the test does meanwhile
    )
    waiting = [asyncio.create_task(client.get(gw.url + f"/api/v1/forms/{n}")) for n in "ab"]
    await eventually(lambda: len(hung.requests) == 2)
    assert gw.breaker("registry").in_flight == 2
    started = time.monotonic()
    resp = await client.get(gw.url + "/api/v1/forms/c")
    assert time.monotonic() - started < 0.3
    assert "too many requests" in assert_refused(resp, "1")["detail"]
    assert hung.connections == 2  # the refused one never reached the service
    # The other services are served meanwhile, by the same gateway.
    assert (await client.get(gw.url + "/api/v1/identity/echo/x")).status_code == 200
    assert [r.status_code for r in await asyncio.gather(*waiting)] == [504, 504]
    await eventually(lambda: gw.in_flight()["registry"] == 0)
    if kind == "fast":
        assert gw.taken[2] is True  # refused from the fast path itself


@KINDS
async def test_counts_return_to_zero_however_a_request_ends(
    kind: str, start: StartFactory, service: ServiceFactory, client: httpx.AsyncClient
) -> None:
    dead = await service(listening=False)
    gw = await start(kind, portal_url=dead.url, route_timeouts={"/api/v1/forms": 0.3})
    host, port = gw.url.removeprefix("http://").split(":")

    async def client_leaves(path: str, after: bytes) -> None:
        reader, writer = await asyncio.open_connection(host, int(port))
        writer.write(f"GET {path} HTTP/1.1\r\nhost: x\r\n\r\n".encode())
        await writer.drain()
        if after:
            assert await reader.readexactly(len(after)) == after
        writer.close()

    async def leaves_upload(path: str) -> None:
        writer = await stall_upload(gw.url, path)
        await asyncio.sleep(0.1)  # its body being read
        writer.close()

    async def answered(status: int, method: str, path: str, **kw: Any) -> None:
        resp = await client.request(method, gw.url + path, **kw)
        assert resp.status_code == status, path

    zero = {"identity": 0, "registry": 0, "submissions": 0, "portal": 0}
    endings: list[Callable[[], Awaitable[None]]] = [
        lambda: answered(200, "GET", "/api/v1/forms/one"),
        lambda: answered(200, "GET", "/api/v1/forms/two"),  # on a pooled connection
        lambda: answered(404, "GET", "/api/v1/forms/missing"),
        lambda: answered(200, "GET", "/api/v1/forms/big?megabytes=1"),  # streamed
        lambda: answered(200, "POST", "/api/v1/identity/echo/up", content=b"x" * 100_000),
        lambda: answered(200, "POST", "/api/v1/identity/echo/up", content=b"x" * 300_000),
        lambda: leaves_upload("/api/v1/identity/echo/gone"),  # mid-upload
        lambda: answered(503, "GET", "/portal/page"),  # the service is down
        lambda: answered(504, "GET", "/api/v1/forms/slow?seconds=1"),  # silent too long
        lambda: client_leaves("/api/v1/forms/big?megabytes=3", b"HTTP/1.1 200"),  # mid-answer
        lambda: client_leaves("/api/v1/forms/slow?seconds=0.1", b""),  # before the answer
    ]
    for n, ending in enumerate(endings):
        await ending()
        await eventually(lambda: gw.in_flight() == zero, seconds=3.0)
        assert gw.in_flight() == zero, n
    if kind == "fast":
        assert gw.taken.count(True) >= 6


@KINDS
async def test_the_breaker_opens_on_a_dead_service_and_a_trial_closes_it(
    kind: str, start: StartFactory, service: ServiceFactory, client: httpx.AsyncClient
) -> None:
    svc = await service(listening=False)  # refuses connections
    gw = await start(kind, registry_url=svc.url, breaker_failures=3, breaker_open_seconds=30)
    clock = Clock()
    gw.breaker("registry").clock = clock
    for _ in range(3):
        assert (
            "not answering"
            in assert_refused(await client.get(gw.url + "/api/v1/forms"), "5")["detail"]
        )
    assert gw.breaker("registry").state == OPEN
    down = sample("tellonce_gateway_upstream_errors_total", upstream="registry", kind="down")
    started = time.monotonic()
    body = assert_refused(await client.get(gw.url + "/api/v1/forms"), "30")
    assert "failing" in body["detail"]
    assert time.monotonic() - started < 0.3
    await svc.listen()  # back, but the breaker does not know yet
    clock.now += 10.0
    assert_refused(await client.get(gw.url + "/api/v1/forms"), "20")
    assert svc.connections == 0  # refused without touching the network
    assert sample("tellonce_gateway_upstream_errors_total", upstream="registry", kind="down") == (
        down
    )
    clock.now += 20.0  # the cool-off is over: the next request is the trial
    resp = await client.get(gw.url + "/api/v1/forms")
    assert (resp.status_code, resp.content) == (200, b"ok")
    assert gw.breaker("registry").state == CLOSED
    assert (await client.get(gw.url + "/api/v1/forms/again")).status_code == 200
    assert svc.requests == ["/api/v1/forms", "/api/v1/forms/again"]
    await eventually(lambda: gw.in_flight()["registry"] == 0)


@KINDS
async def test_half_open_lets_one_request_through_and_its_timeout_opens_it_again(
    kind: str, start: StartFactory, service: ServiceFactory, client: httpx.AsyncClient
) -> None:
    hung = await service(hang=True)
    gw = await start(
        kind,
        registry_url=hung.url,
        breaker_failures=1,
        breaker_open_seconds=30,
        route_timeouts={"/api/v1/forms": 0.6},
    )
    clock = Clock()
    gw.breaker("registry").clock = clock
    assert (await client.get(gw.url + "/api/v1/forms/first")).status_code == 504
    assert gw.breaker("registry").state == OPEN
    clock.now += 30.0
    trial = asyncio.create_task(client.get(gw.url + "/api/v1/forms/trial"))
    await eventually(lambda: len(hung.requests) == 2)
    assert gw.breaker("registry").state == HALF_OPEN
    body = assert_refused(await client.get(gw.url + "/api/v1/forms/meanwhile"), "1")
    assert "one request is trying it again" in body["detail"]
    assert (await trial).status_code == 504
    assert gw.breaker("registry").state == OPEN
    assert_refused(await client.get(gw.url + "/api/v1/forms/after"), "30")
    assert hung.requests == ["/api/v1/forms/first", "/api/v1/forms/trial"]
    await eventually(lambda: gw.in_flight()["registry"] == 0)


@KINDS
async def test_a_service_answering_500_keeps_the_breaker_closed(
    kind: str, start: StartFactory, service: ServiceFactory, client: httpx.AsyncClient
) -> None:
    failing = await service(status=500)
    gw = await start(kind, registry_url=failing.url, breaker_failures=2)
    for _ in range(5):
        resp = await client.get(gw.url + "/api/v1/forms")
        assert (resp.status_code, resp.content) == (500, b"ok")
    assert len(failing.requests) == 5
    assert (gw.breaker("registry").state, gw.breaker("registry").failures) == (CLOSED, 0)


@KINDS
async def test_a_success_after_a_failure_starts_the_count_again(
    kind: str, start: StartFactory, service: ServiceFactory, client: httpx.AsyncClient
) -> None:
    """On the fast path the success comes from the connection's callback (a pooled
    connection, a whole answer), not from a task."""
    svc = await service(delay=0.1)
    gw = await start(
        kind, registry_url=svc.url, breaker_failures=2, route_timeouts={"/api/v1/forms": 0.3}
    )
    two = [client.get(gw.url + f"/api/v1/forms/{n}") for n in "ab"]  # two pooled connections
    assert [r.status_code for r in await asyncio.gather(*two)] == [200, 200]
    assert svc.connections == 2
    svc.hang = True
    assert (await client.get(gw.url + "/api/v1/forms/silent")).status_code == 504
    assert gw.breaker("registry").failures == 1
    svc.hang = False
    assert (await client.get(gw.url + "/api/v1/forms/ok")).status_code == 200
    assert svc.connections == 2  # on the connection left in the pool
    assert gw.breaker("registry").failures == 0
    if kind == "fast":
        assert gw.taken == [True] * 4


@KINDS
async def test_a_stalled_upload_holds_no_place_under_the_cap(
    kind: str, start: StartFactory, service: ServiceFactory, client: httpx.AsyncClient
) -> None:
    """An anonymous client starts a chunked upload and goes silent: with a cap of 1 the
    service is still served, since the request counts only once its body is all written.
    The aiohttp forwarder writes the body inside the call that returns the answer's head,
    so there an upload counts from its start (documented)."""
    svc = await service()
    gw = await start(kind, portal_url=svc.url, upstream_max_in_flight=1)
    stalled = await stall_upload(gw.url, "/upload")
    try:
        await eventually(lambda: svc.requests == ["/upload"])  # forwarded, its body not all in
        if kind == "aiohttp":
            assert gw.in_flight()["portal"] == 1
            assert_refused(await client.get(gw.url + "/"), "1")
        else:
            assert gw.in_flight()["portal"] == 0
            for _ in range(2):
                resp = await client.get(gw.url + "/")
                assert (resp.status_code, resp.content) == (200, b"ok")
            assert svc.requests == ["/upload", "/", "/"]
    finally:
        stalled.close()
    await eventually(lambda: gw.in_flight()["portal"] == 0)


@KINDS
async def test_a_client_reading_a_long_answer_slowly_holds_no_place(
    kind: str, start: StartFactory, client: httpx.AsyncClient
) -> None:
    """The answer's head is in: the rest is passed on as the client reads, uncounted (on
    the fast path, from the connection's callback: a pooled connection is there)."""
    gw = await start(kind, upstream_max_in_flight=1)
    assert (await client.get(gw.url + "/api/v1/forms/warm")).status_code == 200
    host, port = gw.url.removeprefix("http://").split(":")
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, (host, int(port)))
    reader, writer = await asyncio.open_connection(sock=sock)
    try:
        writer.write(b"GET /api/v1/forms/big?megabytes=40 HTTP/1.1\r\nhost: x\r\n\r\n")
        assert (await reader.readuntil(b"\r\n\r\n")).startswith(b"HTTP/1.1 200")
        # ... and reads no more for now: 40 MB do not fit in the sockets' buffers.
        await eventually(lambda: gw.in_flight()["registry"] == 0)
        for n in "ab":
            resp = await client.get(gw.url + f"/api/v1/forms/{n}")
            assert (resp.status_code, resp.json()["slug"]) == (200, n)
        assert not reader.at_eof()
    finally:
        writer.close()
    await eventually(lambda: gw.in_flight()["registry"] == 0)
    if kind == "fast":
        assert gw.taken[:2] == [True, True]


@KINDS
async def test_a_stalled_upload_as_the_trial_gives_its_place_up_after_its_deadline(
    kind: str, start: StartFactory, service: ServiceFactory, client: httpx.AsyncClient
) -> None:
    """The half-open breaker's trial is a client that stalls its upload: the others are
    refused for ``breaker_open_seconds`` at most, then the next request is the trial."""
    svc = await service(listening=False)
    gw = await start(kind, portal_url=svc.url, breaker_failures=1, breaker_open_seconds=30)
    clock = Clock()
    b = gw.breaker("portal")
    b.clock = clock
    assert_refused(await client.get(gw.url + "/"), "5")  # down: opens it
    assert b.state == OPEN
    await svc.listen()
    clock.now += 30.0
    stalled = await stall_upload(gw.url, "/upload")
    try:
        await eventually(lambda: b.trial_out)
        assert b.state == HALF_OPEN
        clock.now += 29.0
        body = assert_refused(await client.get(gw.url + "/"), "1")
        assert "one request is trying" in body["detail"]
        clock.now += 1.0  # the stalled trial's place has run out
        resp = await client.get(gw.url + "/")
        assert (resp.status_code, resp.content) == (200, b"ok")
        assert b.state == CLOSED
    finally:
        stalled.close()
    await eventually(lambda: gw.in_flight()["portal"] == 0)
    assert (b.state, b.failures) == (CLOSED, 0)  # the stalled one's end changes nothing
    assert (await client.get(gw.url + "/")).status_code == 200


@KINDS
async def test_late_timeouts_of_requests_sent_before_it_opened_do_not_reopen_it(
    kind: str, start: StartFactory, service: ServiceFactory, client: httpx.AsyncClient
) -> None:
    """Two requests time out and open the breaker while two more sent after them are still
    waiting; a trial finds the service well and closes it; the two late 504s that follow
    are from before it opened and change nothing."""
    svc = await service(hang=True)
    gw = await start(
        kind,
        registry_url=svc.url,
        breaker_failures=2,
        breaker_open_seconds=30,
        route_timeouts={"/api/v1/forms": 1.5},
    )
    clock = Clock()
    b = gw.breaker("registry")
    b.clock = clock
    first = [asyncio.create_task(client.get(gw.url + f"/api/v1/forms/first-{n}")) for n in "ab"]
    await eventually(lambda: len(svc.requests) == 2)
    await asyncio.sleep(0.7)
    late = [asyncio.create_task(client.get(gw.url + f"/api/v1/forms/late-{n}")) for n in "ab"]
    await eventually(lambda: len(svc.requests) == 4)
    assert [r.status_code for r in await asyncio.gather(*first)] == [504, 504]
    assert b.state == OPEN
    svc.hang = False
    clock.now += 30.0
    resp = await client.get(gw.url + "/api/v1/forms/trial")
    assert (resp.status_code, b.state) == (200, CLOSED)
    assert not any(task.done() for task in late)  # they time out after the close
    assert [r.status_code for r in await asyncio.gather(*late)] == [504, 504]
    assert (b.state, b.failures) == (CLOSED, 0)
    assert (await client.get(gw.url + "/api/v1/forms/after")).status_code == 200
    await eventually(lambda: gw.in_flight()["registry"] == 0)


@KINDS
async def test_a_garbled_answer_keeps_the_breaker_closed(
    kind: str, start: StartFactory, service: ServiceFactory, client: httpx.AsyncClient
) -> None:
    garbled = await service(reply=b"NOT HTTP AT ALL\r\n\r\n")
    gw = await start(kind, registry_url=garbled.url, breaker_failures=1)
    for _ in range(3):
        assert (await client.get(gw.url + "/api/v1/forms")).status_code == 502
    assert (gw.breaker("registry").state, gw.breaker("registry").failures) == (CLOSED, 0)
    await eventually(lambda: gw.in_flight()["registry"] == 0)


async def test_an_error_inside_the_forwarder_leaves_no_count_behind(
    start: StartFactory, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    gw = await start("fast")

    def broken(*args: object) -> None:
        raise RuntimeError("a bug in the forwarder")

    monkeypatch.setattr("tellonce_gateway.app.forward_native_now", broken)
    assert (await client.get(gw.url + "/api/v1/forms/x")).status_code == 500
    assert gw.taken == [True]
    assert gw.breaker("registry").in_flight == 0


async def test_readyz_still_asks_a_service_whose_breaker_is_open(
    start: StartFactory, service: ServiceFactory, client: httpx.AsyncClient
) -> None:
    svc = await service(listening=False)
    gw = await start("fast", registry_url=svc.url, breaker_failures=1, breaker_open_seconds=30)
    assert_refused(await client.get(gw.url + "/api/v1/forms"), "5")
    ready = await client.get(gw.url + "/readyz")
    assert ready.json()["checks"]["registry"].startswith("unavailable")
    await svc.listen()
    ready = await client.get(gw.url + "/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"]["registry"] == "ok"  # recovery is visible to operators
    assert svc.requests == ["/readyz"]
    assert_refused(await client.get(gw.url + "/api/v1/forms"), "30")  # still open


async def test_refusals_are_counted_logged_and_the_state_is_a_gauge(
    start: StartFactory,
    service: ServiceFactory,
    client: httpx.AsyncClient,
    access_lines: list[str],
) -> None:
    svc = await service(listening=False)
    gw = await start("fast", registry_url=svc.url, breaker_failures=1, breaker_open_seconds=30)
    clock = Clock()
    gw.breaker("registry").clock = clock
    refused = 'tellonce_gateway_upstream_refusals_total{reason="breaker",upstream="registry"}'
    state = 'tellonce_gateway_breaker_state{upstream="registry"}'

    def value(text: str, series: str) -> float:
        lines = [line for line in text.splitlines() if line.startswith(series + " ")]
        return float(lines[0].rsplit(" ", 1)[1]) if lines else 0.0

    before = (await client.get(gw.url + "/metrics")).text
    assert value(before, state) == CLOSED
    await client.get(gw.url + "/api/v1/forms", headers={"X-Request-ID": "breaker-down-1"})
    await client.get(gw.url + "/api/v1/forms", headers={"X-Request-ID": "breaker-open-1"})
    text = (await client.get(gw.url + "/metrics")).text
    assert value(text, refused) == value(before, refused) + 1
    assert value(text, state) == OPEN
    assert 'tellonce_gateway_upstream_in_flight{upstream="registry"} 0.0' in text
    await eventually(lambda: len(access_lines) >= 2)
    lines = [json.loads(line) for line in access_lines]
    open_line = next(d for d in lines if d["request_id"] == "breaker-open-1")
    assert (open_line["status"], open_line["upstream"]) == (503, "registry")
    await svc.listen()
    clock.now += 30.0
    assert (await client.get(gw.url + "/api/v1/forms")).status_code == 200
    assert value((await client.get(gw.url + "/metrics")).text, state) == CLOSED
