"""Whose address a login failure counts against: X-Forwarded-For only from trusted proxies."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

from tellonce_identity.config import Settings
from tellonce_identity.deps import client_address


class _App:
    def __init__(self, settings: Settings) -> None:
        self.state = type("State", (), {"settings": settings})()


def request(peer: str, forwarded: str | None = None, **settings: Any) -> Request:
    headers = [(b"x-forwarded-for", forwarded.encode())] if forwarded else []
    scope = {
        "type": "http",
        "headers": headers,
        "client": (peer, 1234),
        "app": _App(Settings(**settings)),
    }
    return Request(scope)


def test_untrusted_peer_is_the_address_whatever_it_claims() -> None:
    assert client_address(request("203.0.113.9", "198.51.100.1")) == "203.0.113.9"


def test_trusted_gateway_forwards_the_caller() -> None:
    assert client_address(request("127.0.0.1", "198.51.100.1")) == "198.51.100.1"
    # The nearest untrusted hop wins: a client cannot prepend a fake address.
    assert client_address(request("127.0.0.1", "6.6.6.6, 198.51.100.1")) == "198.51.100.1"


def test_cidr_trusted_proxies() -> None:
    r = request("10.4.2.7", "10.4.0.3, 198.51.100.7", trusted_proxies=["10.0.0.0/8"])
    assert client_address(r) == "198.51.100.7"


def test_malformed_forwarded_chain_falls_back_to_the_peer() -> None:
    assert client_address(request("127.0.0.1", "not-an-ip")) == "127.0.0.1"


def test_forwarded_addresses_are_written_one_way_without_a_zone() -> None:
    """One caller, one rate-limit count; a zone's length is the sender's choice."""
    assert client_address(request("127.0.0.1", "2001:DB8:0:0::7")) == "2001:db8::7"
    assert client_address(request("127.0.0.1", "fe80::1%" + "x" * 400)) == "fe80::1"
    assert client_address(request("127.0.0.1", "::1, 2001:db8::9%eth0, ::1")) == "2001:db8::9"
