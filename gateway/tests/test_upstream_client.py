"""The forwarders against a scripted service speaking raw HTTP/1.1: informational answers,
answers without a body, chunked bodies with trailers, a service that frames its answer
wrongly or closes a kept-alive connection, and connections reused after errors. Each
scripted answer is written in one piece, so what the gateway reads is exactly the script."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import pytest
import pytest_asyncio

from tellonce_gateway.upstream_client import UpstreamConnection

if TYPE_CHECKING:
    import httpx

    from .conftest import GatewayFactory

OK = b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 2\r\n\r\nok"


@dataclass
class Scripted:
    """A service answering each request path with fixed bytes (a list: written piece by
    piece, a moment apart, so the gateway reads them separately); ``close`` paths hang up
    after their answer. Counts the connections it accepted and the requests it read."""

    answers: dict[str, bytes | list[bytes]]
    close: set[str] = field(default_factory=set)
    connections: int = 0
    requests: list[str] = field(default_factory=list)
    url: str = ""
    written: dict[str, asyncio.Event] = field(default_factory=lambda: defaultdict(asyncio.Event))
    """Set once the whole answer to a path has been written."""
    hang_up_once: dict[str, float] = field(default_factory=dict)
    """Paths whose first request is read and then, after these seconds, hung up on without
    an answer (a kept-alive connection the service closed just as the request came)."""

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                method, target, _ = head.split(b"\r\n", 1)[0].split(b" ", 2)
                path = target.decode()
                self.requests.append(f"{method.decode()} {path}")
                if path in self.hang_up_once:
                    await asyncio.sleep(self.hang_up_once.pop(path))
                    break
                answer = self.answers.get(path, OK)
                for i, piece in enumerate([answer] if isinstance(answer, bytes) else answer):
                    if i:
                        await asyncio.sleep(0.05)
                    writer.write(piece)
                    await writer.drain()
                self.written[path].set()
                if path in self.close:
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


ScriptedFactory = Callable[..., Awaitable[Scripted]]
"""``scripted``: the answers (and the paths to hang up after) in, the running service out."""


@pytest_asyncio.fixture
async def scripted() -> AsyncIterator[ScriptedFactory]:
    servers: list[asyncio.Server] = []

    async def start(
        answers: dict[str, bytes | list[bytes]], close: set[str] | None = None
    ) -> Scripted:
        service = Scripted(answers, close or set())
        server = await asyncio.start_server(service.handle, "127.0.0.1", 0)
        servers.append(server)
        service.url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
        return service

    yield start
    for server in servers:
        server.close()
        await server.wait_closed()


FORWARDERS = pytest.mark.parametrize("kind", ["native", "aiohttp"])


@FORWARDERS
async def test_informational_answers_are_skipped_for_the_final_one(
    kind: str, scripted: ScriptedFactory, start_gateway: GatewayFactory, client: httpx.AsyncClient
) -> None:
    service = await scripted(
        {
            "/p/early": [
                b"HTTP/1.1 103 Early Hints\r\nlink: </a.css>; rel=preload\r\n\r\n",
                b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 5\r\n\r\nfinal",
            ],
            "/p/continue": [
                b"HTTP/1.1 100 Continue\r\n\r\n",
                b"HTTP/1.1 201 Created\r\ncontent-length: 7\r\n\r\ncreated",
            ],
            "/p/together": b"HTTP/1.1 100 Continue\r\n\r\n"
            b"HTTP/1.1 202 Accepted\r\ncontent-length: 8\r\n\r\naccepted",
        }
    )
    gateway = await start_gateway(client=kind, portal_url=service.url)
    resp = await client.get(gateway + "/p/early")
    assert (resp.status_code, resp.content) == (200, b"final")
    assert resp.headers["content-type"] == "text/plain"
    resp = await client.post(gateway + "/p/continue", content=b"{}")
    assert (resp.status_code, resp.content) == (201, b"created")
    resp = await client.post(gateway + "/p/together", content=b"{}")
    assert (resp.status_code, resp.content) == (202, b"accepted")
    # and the connection is still good for the next request
    resp = await client.get(gateway + "/p/next")
    assert (resp.status_code, resp.content) == (200, b"ok")
    assert service.connections == 1


@FORWARDERS
async def test_answers_without_a_body_pass_through_and_keep_the_connection(
    kind: str, scripted: ScriptedFactory, start_gateway: GatewayFactory, client: httpx.AsyncClient
) -> None:
    service = await scripted(
        {
            # A 304 may carry the Content-Length the full answer would have had.
            "/p/cached": b'HTTP/1.1 304 Not Modified\r\netag: "v1"\r\ncontent-length: 1234\r\n\r\n',
            "/p/gone": b"HTTP/1.1 204 No Content\r\nx-note: deleted\r\n\r\n",
        }
    )
    gateway = await start_gateway(client=kind, portal_url=service.url)
    resp = await client.get(gateway + "/p/cached", headers={"if-none-match": '"v1"'})
    assert (resp.status_code, resp.content) == (304, b"")
    assert resp.headers["etag"] == '"v1"'
    resp = await client.get(gateway + "/p/gone")
    assert (resp.status_code, resp.content) == (204, b"")
    assert resp.headers["x-note"] == "deleted"
    assert "content-length" not in resp.headers
    resp = await client.get(gateway + "/p/next")
    assert (resp.status_code, resp.content) == (200, b"ok")
    assert service.connections == 1


@FORWARDERS
async def test_a_head_answer_has_no_body_and_the_next_request_is_fine(
    kind: str, scripted: ScriptedFactory, start_gateway: GatewayFactory, client: httpx.AsyncClient
) -> None:
    service = await scripted({"/p/doc": b"HTTP/1.1 200 OK\r\ncontent-length: 5000\r\n\r\n"})
    gateway = await start_gateway(client=kind, portal_url=service.url)
    resp = await client.head(gateway + "/p/doc")
    assert (resp.status_code, resp.content) == (200, b"")
    assert resp.headers["content-length"] == "5000"
    resp = await client.get(gateway + "/p/next")
    assert (resp.status_code, resp.content) == (200, b"ok")


@FORWARDERS
async def test_names_in_every_connection_field_of_an_answer_stay_out(
    kind: str, scripted: ScriptedFactory, start_gateway: GatewayFactory, client: httpx.AsyncClient
) -> None:
    answer = (
        b"HTTP/1.1 200 OK\r\nconnection: x-one\r\nconnection: keep-alive, X-Two\r\n"
        b"x-one: 1\r\nx-two: 2\r\nx-three: 3\r\ncontent-length: 2\r\n\r\nok"
    )
    service = await scripted({"/p/hop": answer})
    gateway = await start_gateway(client=kind, portal_url=service.url)

    async def streamed() -> AsyncIterator[bytes]:
        yield b"{}"  # a chunked upload: the ASGI path, not the fast path

    for resp in (
        await client.get(gateway + "/p/hop"),
        await client.post(gateway + "/p/hop", content=streamed()),
    ):
        assert (resp.status_code, resp.content) == (200, b"ok")
        assert "x-one" not in resp.headers
        assert "x-two" not in resp.headers
        assert resp.headers["x-three"] == "3"


@FORWARDERS
async def test_a_chunked_body_with_trailers_arrives_whole_and_trailers_stay_out(
    kind: str, scripted: ScriptedFactory, start_gateway: GatewayFactory, client: httpx.AsyncClient
) -> None:
    service = await scripted(
        {
            "/p/chunks": b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\n"
            b"transfer-encoding: chunked\r\ntrailer: x-checksum\r\n\r\n"
            b"5\r\nhello\r\n6\r\n world\r\n0\r\nx-checksum: abc\r\n\r\n"
        }
    )
    gateway = await start_gateway(client=kind, portal_url=service.url)
    resp = await client.get(gateway + "/p/chunks")
    assert (resp.status_code, resp.content) == (200, b"hello world")
    assert "x-checksum" not in resp.headers
    resp = await client.get(gateway + "/p/next")
    assert (resp.status_code, resp.content) == (200, b"ok")


@FORWARDERS
async def test_bytes_beyond_the_declared_length_never_answer_the_next_request(
    kind: str, scripted: ScriptedFactory, start_gateway: GatewayFactory, client: httpx.AsyncClient
) -> None:
    # The extra bytes look like a whole answer: reusing the connection would hand them to
    # the next request, which may be another client's. Sent with the answer, and after it.
    forged = b"HTTP/1.1 200 OK\r\ncontent-length: 6\r\n\r\nforged"
    service = await scripted(
        {
            "/p/sloppy": b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok" + forged,
            "/p/late": [b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok", forged],
        }
    )
    gateway = await start_gateway(client=kind, portal_url=service.url)
    # aiohttp parses bytes that reach an idle pooled connection as the next request's answer
    # (docs/gateway.md, "Not done"): the native forwarder closes such a connection.
    paths = ("/p/sloppy", "/p/late") if kind == "native" else ("/p/sloppy",)
    for path in paths:
        resp = await client.get(gateway + path)
        assert (resp.status_code, resp.content) == (200, b"ok")
        await service.written[path].wait()
        await asyncio.sleep(0.05)  # the gateway has read what came after the answer
        resp = await client.get(gateway + "/p/next")
        assert (resp.status_code, resp.content) == (200, b"ok")


@FORWARDERS
async def test_a_service_closing_a_kept_alive_connection_after_its_answer(
    kind: str, scripted: ScriptedFactory, start_gateway: GatewayFactory, client: httpx.AsyncClient
) -> None:
    service = await scripted(
        {"/p/bye": b"HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 3\r\n\r\nbye"},
        close={"/p/bye"},
    )
    gateway = await start_gateway(client=kind, portal_url=service.url)
    for _ in range(3):
        resp = await client.get(gateway + "/p/bye")
        assert (resp.status_code, resp.content) == (200, b"bye")
        assert "connection" not in resp.headers
    resp = await client.post(gateway + "/p/after", content=b"{}")
    assert (resp.status_code, resp.content) == (200, b"ok")
    assert service.connections == 4


@FORWARDERS
async def test_a_connection_is_not_reused_after_an_error(
    kind: str, scripted: ScriptedFactory, start_gateway: GatewayFactory, client: httpx.AsyncClient
) -> None:
    service = await scripted({"/p/garbled": b"NOT HTTP AT ALL\r\n\r\n"})
    gateway = await start_gateway(client=kind, portal_url=service.url)
    resp = await client.get(gateway + "/p/garbled")
    assert resp.status_code == 502
    resp = await client.get(gateway + "/p/next")
    assert (resp.status_code, resp.content) == (200, b"ok")
    assert service.connections == 2


@FORWARDERS
async def test_an_upgrade_answer_is_a_502_not_a_crash(
    kind: str, scripted: ScriptedFactory, start_gateway: GatewayFactory, client: httpx.AsyncClient
) -> None:
    service = await scripted(
        {
            "/p/ws": b"HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\n"
            b"connection: upgrade\r\n\r\n\x81\x00"
        }
    )
    gateway = await start_gateway(client=kind, portal_url=service.url)
    resp = await client.get(gateway + "/p/ws")
    assert resp.status_code == 502
    resp = await client.get(gateway + "/p/next")
    assert (resp.status_code, resp.content) == (200, b"ok")


async def test_a_client_leaving_mid_answer_leaves_the_pool_usable(
    scripted: ScriptedFactory, start_gateway: GatewayFactory, client: httpx.AsyncClient
) -> None:
    body = b"y" * (3 * 1024 * 1024)
    service = await scripted(
        {"/p/large": b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n" % len(body) + body}
    )
    gateway = await start_gateway(portal_url=service.url)
    host, port = gateway.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(b"GET /p/large HTTP/1.1\r\nhost: x\r\n\r\n")
    await writer.drain()
    assert (await reader.readexactly(12)) == b"HTTP/1.1 200"
    writer.close()  # gone after the first bytes
    for _ in range(3):
        resp = await client.get(gateway + "/p/next")
        assert (resp.status_code, resp.content) == (200, b"ok")


def test_parser_state_after_an_answer_ignores_whatever_follows() -> None:
    """Unit level: bytes after a complete answer mark the connection as not reusable and
    change nothing of the answer already parsed."""
    conn = UpstreamConnection(asyncio.new_event_loop())
    try:
        conn.begin(head_only=False)
        conn.data_received(
            b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"
            b"HTTP/1.1 500 Oops\r\nx-late: 1\r\ncontent-length: 1\r\n\r\nz"
        )
        assert conn.status == 200
        assert conn.complete
        assert not conn.reusable
        assert conn.headers == [(b"content-length", b"2")]
        assert conn.whole_body() == b"ok"
    finally:
        conn.loop.close()


class _Transport:
    """Enough of an asyncio transport to watch reading being paused and resumed."""

    def __init__(self) -> None:
        self.reading = True

    def pause_reading(self) -> None:
        self.reading = False

    def resume_reading(self) -> None:
        self.reading = True

    def write(self, data: bytes) -> None:
        pass

    def close(self) -> None:
        pass


def test_a_large_answer_that_arrived_whole_leaves_the_connection_reading() -> None:
    """Found by fuzzing: a body over HIGH_WATER that was complete before the gateway looked
    paused reading, ``whole_body`` took it without resuming, and the pooled connection never
    read its next answer (a 504 after the route timeout, for any later request)."""
    from tellonce_gateway.upstream_client import HIGH_WATER

    conn = UpstreamConnection(asyncio.new_event_loop())
    transport = _Transport()
    conn.connection_made(transport)  # type: ignore[arg-type]
    conn.begin(head_only=False)
    big = b"x" * (HIGH_WATER + 50_000)
    head = b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n" % len(big)
    conn.data_received(head + big[:HIGH_WATER])
    conn.data_received(big[HIGH_WATER:])
    assert not transport.reading  # paused on the way in
    assert conn.whole_body() == big
    assert transport.reading
    conn.begin(head_only=False)
    conn.data_received(OK)
    assert (conn.status, conn.whole_body()) == (200, b"ok")
    conn.loop.close()


@FORWARDERS
async def test_large_answers_then_small_ones_on_the_same_connection(
    kind: str, scripted: ScriptedFactory, start_gateway: GatewayFactory, client: httpx.AsyncClient
) -> None:
    big = b"y" * 400_000
    service = await scripted(
        {"/p/big": b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n%b" % (len(big), big)}
    )
    gateway = await start_gateway(client=kind, portal_url=service.url)
    for _ in range(8):
        resp = await client.get(gateway + "/p/big")
        assert (resp.status_code, len(resp.content)) == (200, len(big))
        resp = await client.get(gateway + "/p/small")
        assert (resp.status_code, resp.content) == (200, b"ok")


async def test_a_small_answer_in_pieces_is_passed_whole_timed_from_its_last_byte(
    start_gateway: GatewayFactory, client: httpx.AsyncClient
) -> None:
    """The native forwarder waits for all of a small answer at once (not for its head, then
    its body); the route's timeout still counts from the last byte received."""
    head = b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 6\r\n\r\n"

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                request = await reader.readuntil(b"\r\n\r\n")
                writer.write(head)
                if b" /p/stall " in request:
                    await asyncio.sleep(5)  # head only, then nothing: the route times out
                    break
                for piece in (b"abc", b"def"):
                    await asyncio.sleep(0.9)  # each gap under the 1.5 s timeout, all over it
                    writer.write(piece)
                    await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    try:
        url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
        gateway = await start_gateway(client="native", portal_url=url, default_timeout=1.5)
        resp = await client.get(gateway + "/p/slow")
        assert (resp.status_code, resp.content) == (200, b"abcdef")
        assert resp.headers["content-length"] == "6"
        resp = await client.get(gateway + "/p/stall")
        assert resp.status_code == 504
    finally:
        server.close()
        await server.wait_closed()


async def test_a_retried_request_counts_its_upstream_time_from_the_first_try(
    scripted: ScriptedFactory, start_gateway: GatewayFactory, client: httpx.AsyncClient
) -> None:
    from prometheus_client import REGISTRY

    from tellonce_gateway.ledger import LEDGER

    def upstream_seconds() -> float:
        LEDGER.settle()
        labels = {"upstream": "portal"}
        name = "tellonce_gateway_upstream_duration_seconds_sum"
        return REGISTRY.get_sample_value(name, labels) or 0.0

    service = await scripted({})
    service.hang_up_once["/p/again"] = 0.3
    gateway = await start_gateway(portal_url=service.url)
    assert (await client.get(gateway + "/p/first")).status_code == 200  # a pooled connection
    before = upstream_seconds()
    resp = await client.get(gateway + "/p/again")  # on it: hung up on, then sent once more
    assert (resp.status_code, resp.content) == (200, b"ok")
    assert service.requests == ["GET /p/first", "GET /p/again", "GET /p/again"]
    assert service.connections == 2
    assert upstream_seconds() - before >= 0.3
