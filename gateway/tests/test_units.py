"""Unit tests of the pieces with arithmetic or rules in them."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tellonce_gateway.clients import TrustedProxies
from tellonce_gateway.config import Settings
from tellonce_gateway.headers import SECURITY_FIELDS, SecurityHeaders
from tellonce_gateway.openapi import merge_documents
from tellonce_gateway.ratelimit import RateLimiter
from tellonce_gateway.routes import RouteTable


def test_rate_limiter_allows_the_burst_then_the_rate() -> None:
    limiter = RateLimiter(rate_per_second=2, burst=3)
    assert [limiter.retry_after("a", now=100.0) for _ in range(3)] == [None, None, None]
    assert limiter.retry_after("a", now=100.0) == 1
    assert limiter.retry_after("b", now=100.0) is None  # another client
    assert limiter.retry_after("a", now=100.5) is None  # half a second = one more request
    assert limiter.retry_after("a", now=100.5) == 1


def test_rate_limiter_retry_after_is_whole_seconds_until_a_slot() -> None:
    limiter = RateLimiter(rate_per_second=1 / 30, burst=1)  # 2 a minute
    assert limiter.retry_after("a", now=0.0) is None
    assert limiter.retry_after("a", now=1.0) == 29
    assert limiter.retry_after("a", now=30.0) is None


def test_rate_limiter_forgets_idle_clients_when_full() -> None:
    limiter = RateLimiter(rate_per_second=10, burst=1, max_clients=10)
    for i in range(10):
        limiter.retry_after(f"c{i}", now=0.0)
    limiter.retry_after("late", now=5.0)
    assert len(limiter) == 1


def test_rate_limiter_refuses_nonsense() -> None:
    with pytest.raises(ValueError):
        RateLimiter(rate_per_second=0, burst=1)


def test_trusted_proxies_pick_the_first_untrusted_hop_from_the_right() -> None:
    proxies = TrustedProxies(["127.0.0.1", "10.0.0.0/8"])
    assert proxies.client_address("127.0.0.1", b"203.0.113.9, 10.1.2.3") == "203.0.113.9"
    assert proxies.client_address("127.0.0.1", b"6.6.6.6, 203.0.113.9") == "203.0.113.9"
    assert proxies.client_address("198.51.100.7", b"6.6.6.6") == "198.51.100.7"
    assert proxies.client_address("127.0.0.1", b"not-an-ip") == "127.0.0.1"
    assert proxies.client_address("127.0.0.1", None) == "127.0.0.1"


def test_route_table_prefixes_and_token_policy() -> None:
    table = RouteTable(Settings())
    assert table.match("/api/v1/forms").upstream == "registry"
    assert table.match("/api/v1/forms/x/versions/2").upstream == "registry"
    assert table.match("/api/v1/formsx").upstream == "portal"
    assert table.match("/.well-known/jwks.json").upstream == "identity"
    assert table.match("/static/site.css").upstream == "portal"
    forms = table.match("/api/v1/forms")
    assert not forms.needs_token("GET", "/api/v1/forms")
    assert forms.needs_token("POST", "/api/v1/forms")
    identity = table.match("/api/v1/identity/token")
    assert not identity.needs_token("POST", "/api/v1/identity/token")
    assert table.match("/api/v1/identity/me").needs_token("GET", "/api/v1/identity/me")
    assert table.match("/api/v1/drafts/1").needs_token("GET", "/api/v1/drafts/1")


def test_route_timeouts_come_from_settings() -> None:
    table = RouteTable(Settings(default_timeout=7, route_timeouts={"/api/v1/audit": 90}))
    assert table.match("/api/v1/audit/redundancy").read_timeout == 90
    assert table.match("/api/v1/forms").read_timeout == 7
    assert table.match("/api/v1/forms").client_timeout.sock_read == 7


def test_upstream_urls_are_settings() -> None:
    table = RouteTable(Settings(registry_url="http://forms-registry.tellonce.svc:8002/"))
    assert table.match("/api/v1/forms").base_url == "http://forms-registry.tellonce.svc:8002"


def _doc(schema_name: str, props: dict[str, Any], path: str) -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "paths": {
            path: {
                "get": {
                    "responses": {
                        "200": {
                            "content": {
                                "application/json": {
                                    "schema": {"$ref": f"#/components/schemas/{schema_name}"}
                                }
                            }
                        }
                    }
                }
            }
        },
        "components": {"schemas": {schema_name: {"type": "object", "properties": props}}},
    }


def test_merge_renames_colliding_components_and_rewrites_refs() -> None:
    a = _doc("Problem", {"a": {"type": "string"}}, "/api/v1/forms")
    b = _doc("Problem", {"b": {"type": "integer"}}, "/api/v1/submissions")
    same = _doc("Problem", {"a": {"type": "string"}}, "/api/v1/identity/me")
    owners = {"/api/v1/forms": "registry", "/api/v1/submissions": "submissions"}
    owners["/api/v1/identity/me"] = "identity"
    merged = merge_documents(
        {"registry": a, "submissions": b, "identity": same},
        lambda service, path: owners[path] == service,
    )
    schemas = merged["components"]["schemas"]
    assert set(schemas) == {"Problem", "submissions.Problem"}
    assert schemas["submissions.Problem"]["properties"] == {"b": {"type": "integer"}}

    def ref(path: str) -> str:
        op = merged["paths"][path]["get"]["responses"]["200"]
        return str(op["content"]["application/json"]["schema"]["$ref"])

    assert ref("/api/v1/forms") == "#/components/schemas/Problem"
    assert ref("/api/v1/submissions") == "#/components/schemas/submissions.Problem"
    assert ref("/api/v1/identity/me") == "#/components/schemas/Problem"  # identical: shared


def test_merge_renames_what_refers_to_a_renamed_component_until_nothing_changes() -> None:
    """A component identical in two services that refers (at any depth) to one that differs
    is renamed too: each service's paths reach only its own schemas."""

    def doc(path: str, item: dict[str, Any]) -> dict[str, Any]:
        def ref(name: str) -> dict[str, str]:
            return {"$ref": f"#/components/schemas/{name}"}

        return {
            "paths": {path: {"get": {"responses": {"200": {"content": {
                "application/json": {"schema": ref("Outer")}}}}}}},
            "components": {"schemas": {
                "Outer": {"type": "object", "properties": {"page": ref("Page")}},
                "Page": {"type": "array", "items": ref("Item")},
                "Item": item,
                "Shared": {"type": "string"},
            }},
        }  # fmt: skip

    forms = doc("/api/v1/forms", {"type": "object", "properties": {"slug": {"type": "string"}}})
    subs = doc("/api/v1/submissions", {"type": "object", "properties": {"id": {"type": "integer"}}})
    same = doc("/api/v1/identity/me", forms["components"]["schemas"]["Item"])
    owners = {"/api/v1/forms": "registry", "/api/v1/submissions": "submissions"}
    owners["/api/v1/identity/me"] = "identity"
    merged = merge_documents(
        {"registry": forms, "submissions": subs, "identity": same},
        lambda service, path: owners[path] == service,
    )
    schemas = merged["components"]["schemas"]
    assert set(schemas) == {
        "Outer", "Page", "Item", "Shared",
        "submissions.Outer", "submissions.Page", "submissions.Item",
    }  # fmt: skip

    def resolve(path: str) -> dict[str, Any]:
        """The schema at the end of the path's answer: Outer -> Page -> Item."""
        op = merged["paths"][path]["get"]["responses"]["200"]
        name = op["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
        outer = schemas[name]
        page = schemas[outer["properties"]["page"]["$ref"].rsplit("/", 1)[1]]
        item: dict[str, Any] = schemas[page["items"]["$ref"].rsplit("/", 1)[1]]
        return item

    assert resolve("/api/v1/submissions") == subs["components"]["schemas"]["Item"]
    assert resolve("/api/v1/forms") == forms["components"]["schemas"]["Item"]
    assert resolve("/api/v1/identity/me") == forms["components"]["schemas"]["Item"]  # shared
    assert merged["paths"]["/api/v1/identity/me"] == merged["paths"]["/api/v1/forms"]


def test_merge_keeps_only_paths_the_service_owns() -> None:
    doc = _doc("X", {}, "/api/v1/forms")
    merged = merge_documents({"submissions": doc}, lambda service, path: False)
    assert merged["paths"] == {}


def test_recent_routes_are_remembered_within_a_bound() -> None:
    from tellonce_gateway.routes import RECENT_PATHS

    table = RouteTable(Settings())
    paths = [f"/api/v1/forms/f{i}/versions" for i in range(RECENT_PATHS + 10)]
    paths += ["/api/v1/formsX", "/api/v1/submissions/1", "/"]
    for path in paths * 2:
        assert table.match(path) is table._match(path), path
        assert len(table._recent) <= RECENT_PATHS


def test_route_lookup_agrees_with_a_plain_prefix_scan() -> None:
    table = RouteTable(Settings())
    paths = [
        "/",
        "/api",
        "/api/v1",
        "/api/v1/identity",
        "/api/v1/identity/",
        "/api/v1/identity/me",
        "/api/v1/identity/meX",
        "/api/v1/identity/me/x/y/z",
        "/api/v1/identity/users/1",
        "/api/v1/forms/a/versions/2/publish",
        "/api/v1/referral-rules",
        "/.well-known/jwks.json",
        "/.well-known",
        "/static/app/site.css",
        "//api/v1/forms",
        "/api/v1/submissions/CT-2026-7K4M-9Q2D/receipt.pdf",
    ]
    for path in paths:
        scanned = next(r for r in table.routes if r.matches(path))
        assert table.match(path) is scanned, path


def test_access_log_direct_path_writes_the_same_shape_as_the_json_formatter() -> None:
    import json
    import logging

    from tellonce_gateway.accesslog import AccessLog
    from tellonce_shared.logging import request_id_var
    from tellonce_shared.testing import json_logging

    token = request_id_var.set("rid-12345678")
    try:
        with json_logging("gateway") as stream:
            AccessLog().request({"method": "GET", "route": "/api/v1/forms", "status": 200})
            assert stream.writes == 1  # the direct path: written by the access log itself
            logging.getLogger("tellonce.access").info("request", extra={"method": "GET"})
    finally:
        request_id_var.reset(token)
    direct, via_logging = (json.loads(line) for line in stream.getvalue().splitlines())
    assert direct["request_id"] == via_logging["request_id"] == "rid-12345678"
    for key in ("level", "service", "logger", "msg"):
        assert direct[key] == via_logging[key]
    assert direct["route"] == "/api/v1/forms"
    assert direct["ts"].endswith("Z")
    assert len(direct["ts"]) == len(via_logging["ts"])


async def test_access_lines_of_one_loop_turn_are_written_together() -> None:
    import json

    from tellonce_gateway.accesslog import AccessLog
    from tellonce_shared.testing import json_logging

    with json_logging("gateway") as stream:
        log = AccessLog()
        for status in (200, 404, 503):
            log.request({"method": "GET", "route": "/", "status": status})
        assert stream.getvalue() == ""  # held until the end of this turn of the loop
        await asyncio.sleep(0)
        assert [json.loads(line)["status"] for line in stream.getvalue().splitlines()] == [
            200,
            404,
            503,
        ]
        assert stream.writes == 1
        log.request({"method": "GET", "route": "/", "status": 201})
        log.flush()  # what the gateway's shutdown does
        assert json.loads(stream.getvalue().splitlines()[-1])["status"] == 201


class _Recorder:
    """A transport that records what the server protocol writes."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, bytes]] = []
        self.closing = False

    def write(self, data: bytes) -> None:
        self.calls.append(("write", bytes(data)))

    def writelines(self, parts: tuple[bytes, ...]) -> None:
        self.calls.append(("writelines", b"|".join(parts)))

    def is_closing(self) -> bool:
        return self.closing

    def close(self) -> None:
        self.closing = True
        self.calls.append(("close", b""))

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"sockname": ("127.0.0.1", 8000), "peername": ("127.0.0.1", 5555)}.get(name, default)

    @property
    def wire(self) -> bytes:
        return b"".join(data.replace(b"|", b"") for _, data in self.calls)


def _protocol(app: Any, keep_alive: float = 30) -> tuple[Any, _Recorder]:
    import uvicorn
    from uvicorn.server import ServerState

    from tellonce_gateway.server import GatewayHttpProtocol

    config = uvicorn.Config(
        app,
        http=GatewayHttpProtocol,
        log_config=None,
        access_log=False,
        lifespan="off",
        proxy_headers=False,  # as the CLI serves it: the application itself, not wrapped
    )
    config.timeout_keep_alive = keep_alive  # type: ignore[assignment]
    config.load()
    protocol = GatewayHttpProtocol(config, ServerState(), {})
    transport = _Recorder()
    protocol.connection_made(transport)  # type: ignore[arg-type]
    return protocol, transport


async def _turns(n: int = 5) -> None:
    for _ in range(n):
        await asyncio.sleep(0)


GET = b"GET /x?q=1 HTTP/1.1\r\nHost: h\r\n\r\n"


async def test_a_response_head_leaves_with_its_body_in_one_write() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        assert (scope["path"], scope["raw_path"], scope["query_string"]) == ("/x", b"/x", b"q=1")
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-length", b"2")]})  # fmt: skip
        await send({"type": "http.response.body", "body": b"ok"})

    protocol, transport = _protocol(app)
    protocol.data_received(GET)
    await _turns()
    assert len(transport.calls) == 1
    assert transport.calls[0][0] == "writelines"
    head, body = transport.calls[0][1].split(b"|")
    assert head.startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"content-length: 2\r\n" in head
    assert head.endswith(b"\r\n\r\n")
    assert body == b"ok"


async def test_a_streamed_head_leaves_alone_at_the_end_of_the_turn() -> None:
    release = asyncio.Event()

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await release.wait()
        await send({"type": "http.response.body", "body": b"chunk", "more_body": True})
        await send({"type": "http.response.body", "body": b""})

    protocol, transport = _protocol(app)
    protocol.data_received(GET)
    await _turns()
    assert [kind for kind, _ in transport.calls] == ["write"]  # the head, alone
    assert b"transfer-encoding: chunked" in transport.calls[0][1]
    release.set()
    await _turns()
    assert transport.wire.endswith(b"\r\n\r\n5\r\nchunk\r\n0\r\n\r\n")


async def test_the_whole_answer_in_one_message_with_rendered_headers() -> None:
    from tellonce_gateway.server import BODY, EXTENSION, RENDERED

    async def app(scope: Any, receive: Any, send: Any) -> None:
        assert EXTENSION in scope["extensions"]
        await send({"type": "http.response.start", "status": 201,
                    "headers": [(b"content-length", b"5")],
                    RENDERED: b"x-a: 1\r\nx-b: two\r\n", BODY: b"hello"})  # fmt: skip

    protocol, transport = _protocol(app)
    protocol.data_received(GET + GET)  # pipelined: answered in order
    await _turns(10)
    assert [kind for kind, _ in transport.calls] == ["writelines", "writelines"]
    for _, data in transport.calls:
        head, body = data.split(b"|")
        assert b"content-length: 5\r\nx-a: 1\r\nx-b: two\r\n\r\n" in head
        assert body == b"hello"
    assert not transport.closing


@pytest.mark.parametrize(
    "rendered",
    [b"x-a: 1", b"x-a: 1\r\ncontent-length: 9\r\n", b"X-A: 1\r\n", b"x-a: \x00\r\n"],
)
async def test_rendered_headers_are_checked(rendered: bytes) -> None:
    from tellonce_gateway.server import BODY, RENDERED

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": [],
                    RENDERED: rendered, BODY: b""})  # fmt: skip

    protocol, transport = _protocol(app)
    protocol.data_received(GET)
    await _turns()
    assert transport.wire == b""  # as uvicorn does with a bad header: cut, nothing sent
    assert transport.closing


async def test_invalid_response_headers_are_refused_as_uvicorn_does() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"x-a", b"bad\r\nx-injected: 1")]})  # fmt: skip

    async def good(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"x-a", b"good"), (b"content-length", b"0")]})  # fmt: skip
        await send({"type": "http.response.body", "body": b""})

    protocol, transport = _protocol(good)
    protocol.data_received(GET)
    await _turns()
    assert b"x-a: good\r\n" in transport.wire  # the name is now known valid...
    for _ in range(2):  # ...its values are still checked, every time
        protocol, transport = _protocol(app)
        protocol.data_received(GET)
        await _turns()
        assert transport.wire == b""  # uvicorn's answer to a bad header: the connection cut
        assert transport.closing


async def test_one_worker_task_per_connection_and_a_request_body_in_pieces() -> None:
    seen: list[tuple[Any, bytes]] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        seen.append((asyncio.current_task(), body))
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-length", str(len(body)).encode())]})  # fmt: skip
        await send({"type": "http.response.body", "body": body})

    protocol, transport = _protocol(app)
    post = b"POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 6\r\n\r\n"
    protocol.data_received(post + b"abc")
    await _turns()
    protocol.data_received(b"def")
    await _turns()
    assert not protocol.server_state.tasks  # the worker waits: nothing to finish
    protocol.data_received(post + b"ghijkl")
    await _turns()
    assert [body for _, body in seen] == [b"abcdef", b"ghijkl"]
    assert seen[0][0] is seen[1][0]  # the same task for both
    assert transport.wire.count(b"HTTP/1.1 200 OK") == 2
    protocol.connection_lost(None)
    await _turns()
    assert seen[0][0].done()


async def test_expect_100_continue_and_keep_alive_timeout() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        message = await receive()
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-length", b"2")]})  # fmt: skip
        await send({"type": "http.response.body", "body": message["body"]})

    protocol, transport = _protocol(app, keep_alive=0.5)
    protocol.data_received(
        b"POST /x HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n"
    )
    await _turns()
    assert transport.calls[0] == ("write", b"HTTP/1.1 100 Continue\r\n\r\n")
    protocol.data_received(b"hi")
    await _turns()
    assert transport.wire.endswith(b"\r\n\r\nhi")
    await asyncio.sleep(0.3)
    protocol.data_received(b"POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\nok")
    await _turns()
    assert transport.wire.endswith(b"\r\n\r\nok")
    await asyncio.sleep(0.3)  # 0.6 s after the first answer, 0.3 s after the second
    assert not transport.closing
    await asyncio.sleep(0.6)
    assert transport.closing  # idle for longer than the keep-alive timeout


class _CountingLoop:
    """The running loop, counting the timers made through it."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.timers = 0

    def call_later(self, delay: float, callback: Any, *args: Any) -> asyncio.TimerHandle:
        self.timers += 1
        return self.loop.call_later(delay, callback, *args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.loop, name)


async def test_the_head_deadline_costs_no_timer_per_request() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-length", b"2")]})  # fmt: skip
        await send({"type": "http.response.body", "body": b"ok"})

    protocol, transport = _protocol(app)
    assert protocol._head_timer is not None  # armed when the connection was made
    loop = protocol.loop = _CountingLoop(protocol.loop)
    for _ in range(20):
        protocol.data_received(GET)
        await _turns()
    assert transport.wire.count(b"HTTP/1.1 200 OK") == 20
    assert loop.timers == 1  # the keep-alive timer, once; the head's is the connection's
    protocol.connection_lost(None)
    assert protocol._head_timer is None


async def test_a_late_head_closes_the_connection() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        raise AssertionError("no request should reach the application")

    app.header_timeout = 0.2  # type: ignore[attr-defined]  # server.HEADER_TIMEOUT
    protocol, transport = _protocol(app)
    protocol.data_received(b"GET /x HTTP/1.1\r\nHost: h\r\n")
    await asyncio.sleep(0.1)
    assert not transport.closing
    protocol.data_received(b"X-More: 1\r\n")  # bytes in time do not move the deadline
    await asyncio.sleep(0.2)
    assert transport.closing
    assert transport.wire == b""  # no SERVER_ANSWER: closed without an answer


@pytest.mark.parametrize("mode", ["local", "production"])
def test_security_fields_names_every_field_the_security_headers_write(mode: str) -> None:
    """The lean path passes a service's field on as it is only when it is not one of these
    (``lean._NOT_PASSED``): a field the security headers write but this set missed would
    reach the client twice."""
    security = SecurityHeaders(Settings(mode=mode))
    written = {
        line.split(b": ")[0]
        for block in security.rendered.values()
        for line in block.split(b"\r\n")
        if line
    }
    assert written <= SECURITY_FIELDS
    assert written | {b"strict-transport-security"} == SECURITY_FIELDS
