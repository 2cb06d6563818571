"""The one rule by which the gateway and the identity service count a caller."""

from __future__ import annotations

import pytest

from tellonce_shared.addresses import caller


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("192.0.2.7", "192.0.2.7"),
        ("::ffff:192.0.2.7", "192.0.2.7"),
        ("2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:ffff:ffff:ffff:ffff", "2001:db8:1:2::/64"),
        ("2001:db8:1:3::1", "2001:db8:1:3::/64"),
        ("testclient", "testclient"),
    ],
)
def test_a_caller_is_an_ipv4_address_or_an_ipv6_64(address: str, expected: str) -> None:
    assert caller(address) == expected
