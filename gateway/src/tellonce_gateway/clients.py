"""Who is calling, by address: the peer, or the address a trusted proxy (the portal, an
ingress) says it forwarded for. An untrusted peer's X-Forwarded-For is ignored, so nobody
can pick another client's rate-limit bucket by sending a header. And the bucket an address
counts in: its network (:func:`address_key`)."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from tellonce_shared.addresses import caller

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class TrustedProxies:
    def __init__(self, entries: Iterable[str]) -> None:
        self.exact: set[str] = set()
        self.networks: list[Network] = []
        for entry in entries:
            if "/" in entry:
                self.networks.append(ipaddress.ip_network(entry, strict=False))
            else:
                self.exact.add(str(ipaddress.ip_address(entry)))

    def trusts(self, address: str) -> bool:
        if address in self.exact:
            return True
        if not self.networks:
            return False
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in net for net in self.networks)

    def client_address(self, peer: str, forwarded_for: bytes | None) -> str:
        """The rightmost address in the chain that is not a trusted proxy."""
        if forwarded_for is None or not self.trusts(peer):
            return peer
        hops = [h.strip() for h in forwarded_for.decode("latin-1").split(",") if h.strip()]
        for hop in reversed(hops):
            if not self.trusts(hop):
                return _valid_or(hop, peer)
        return _valid_or(hops[0], peer) if hops else peer


def _valid_or(candidate: str, fallback: str) -> str:
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return fallback


def address_key(address: str) -> str:
    """The rate-limit key of a client address: ``addr:`` and the network it stands for, the
    same rule the identity service counts callers by (``tellonce_shared.addresses.caller``):
    an IPv4 address itself, an IPv6 address its /64, an IPv4-mapped one the IPv4 address."""
    return "addr:" + caller(address)


class AddressKeys:
    """:func:`address_key` remembered by address (a look-up instead of parsing the address
    on every request): the peer of a connection, or the client a trusted proxy forwards
    for, are the same string request after request. Keyed by the address itself, so a
    proxy's connection forwarding for many clients gets each one's own key. Bounded: when
    full it starts again (a client rotating addresses only costs the parsing it skipped)."""

    def __init__(self, max_size: int = 8192) -> None:
        self.max_size = max_size
        self.keys: dict[str, str] = {}

    def __call__(self, address: str) -> str:
        key = self.keys.get(address)
        if key is None:
            keys = self.keys
            if len(keys) >= self.max_size:
                keys.clear()
            key = keys[address] = address_key(address)
        return key
