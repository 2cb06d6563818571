"""Unit tests of the pieces with arithmetic or rules in them."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tellonce_gateway.clients import TrustedProxies
from tellonce_gateway.config import Settings
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


def test_merge_keeps_only_paths_the_service_owns() -> None:
    doc = _doc("X", {}, "/api/v1/forms")
    merged = merge_documents({"submissions": doc}, lambda service, path: False)
    assert merged["paths"] == {}


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
    import io
    import json
    import logging

    from tellonce_gateway.accesslog import AccessLog
    from tellonce_shared.logging import JSONFormatter, request_id_var

    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers, root.level
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JSONFormatter("gateway"))
    root.handlers = [handler]
    root.setLevel(logging.INFO)
    token = request_id_var.set("rid-12345678")
    try:
        AccessLog().request({"method": "GET", "route": "/api/v1/forms", "status": 200})
        logging.getLogger("tellonce.access").info("request", extra={"method": "GET"})
    finally:
        request_id_var.reset(token)
        root.handlers, root.level = saved_handlers, saved_level
    direct, via_logging = (json.loads(line) for line in stream.getvalue().splitlines())
    assert direct["request_id"] == via_logging["request_id"] == "rid-12345678"
    for key in ("level", "service", "logger", "msg"):
        assert direct[key] == via_logging[key]
    assert direct["route"] == "/api/v1/forms"
    assert direct["ts"].endswith("Z")
    assert len(direct["ts"]) == len(via_logging["ts"])


async def test_access_lines_of_one_loop_turn_are_written_together() -> None:
    import io
    import json
    import logging

    from tellonce_gateway.accesslog import AccessLog
    from tellonce_shared.logging import JSONFormatter

    class CountingStream(io.StringIO):
        writes = 0

        def write(self, text: str) -> int:
            self.writes += 1
            return super().write(text)

    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers, root.level
    stream = CountingStream()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JSONFormatter("gateway"))
    root.handlers = [handler]
    root.setLevel(logging.INFO)
    try:
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
    finally:
        root.handlers, root.level = saved_handlers, saved_level


async def test_a_response_head_leaves_with_the_next_write_or_alone_after_the_turn() -> None:
    from tellonce_gateway.server import CoalescingTransport

    class Recorder:
        def __init__(self) -> None:
            self.calls: list[tuple[str, bytes]] = []
            self.closing = False

        def write(self, data: bytes) -> None:
            self.calls.append(("write", data))

        def writelines(self, parts: tuple[bytes, ...]) -> None:
            self.calls.append(("writelines", b"|".join(parts)))

        def is_closing(self) -> bool:
            return self.closing

        def close(self) -> None:
            self.closing = True
            self.calls.append(("close", b""))

        def get_extra_info(self, name: str) -> str:
            return f"info:{name}"

    real = Recorder()
    transport = CoalescingTransport(real, asyncio.get_running_loop())  # type: ignore[arg-type]
    head = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n"
    transport.write(head)
    transport.write(b"ok")
    assert real.calls == [("writelines", head + b"|ok")]  # one system call for both
    transport.write(head)  # a streamed answer's head: its body comes later
    assert real.calls[1:] == []
    await asyncio.sleep(0)
    assert real.calls[1:] == [("write", head)]  # out at the end of the turn, alone
    transport.write(b"chunk")  # not a head: straight through
    transport.write(head)
    transport.close()  # a held head goes out before the connection closes
    assert real.calls[2:] == [("write", b"chunk"), ("write", head), ("close", b"")]
    assert transport.get_extra_info("peername") == "info:peername"
