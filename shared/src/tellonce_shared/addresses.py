"""Who a client address stands for, wherever the hub counts callers (the gateway's rate limits,
the identity service's sign-in throttle): one rule, so both count the same caller."""

from __future__ import annotations

import ipaddress


def caller(address: str) -> str:
    """The network an address stands for: an IPv4 address itself, an IPv6 address its /64,
    an IPv4-mapped IPv6 address (``::ffff:192.0.2.1``, what a dual-stack socket reports for
    an IPv4 peer) the IPv4 address. A /64 is one LAN: SLAAC and privacy addresses rotate
    inside it at will, so counting single IPv6 addresses would give one client 2^64 fresh
    counts. Not an address: kept as given."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        mapped = ip.ipv4_mapped
        if mapped is not None:
            return str(mapped)
        return str(ipaddress.IPv6Network((int(ip) >> 64 << 64, 64)))
    return str(ip)
