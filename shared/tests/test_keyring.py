"""The AES-256-GCM key ring behind restricted answers and webhook secrets at rest."""

from __future__ import annotations

import base64
import os

import pytest

from tellonce_shared.keyring import KeyRing, KeyRingError


def key(kid: str) -> str:
    return f"{kid}:{base64.b64encode(os.urandom(32)).decode()}"


def test_the_first_key_seals_and_every_key_opens_after_a_rotation() -> None:
    old = key("k1")
    blob, kid = KeyRing(old).seal(b"123-45-6789", context="row-1")
    assert kid == "k1"
    assert b"123-45-6789" not in blob
    rotated = KeyRing(f"{key('k2')},{old}")
    assert rotated.active_key_id == "k2"
    assert rotated.open(blob, kid, context="row-1") == b"123-45-6789"
    assert rotated.seal(b"x", context="row-2")[1] == "k2"


def test_a_blob_opens_only_on_its_own_row_and_with_its_own_key() -> None:
    ring = KeyRing(key("k1"), what="answer key")
    blob, kid = ring.seal(b"secret", context="row-1")
    with pytest.raises(KeyRingError, match="does not open"):
        ring.open(blob, kid, context="row-2")
    with pytest.raises(KeyRingError, match="no answer key with id k9"):
        ring.open(blob, "k9", context="row-1")


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("", "at least one webhook key"),
        ("nokid", "kid:base64key"),
        ("k1:not base64!", "not base64"),
        (f"k1:{base64.b64encode(b'short').decode()}", "32 bytes"),
    ],
)
def test_a_bad_ring_is_refused_with_a_clear_message(spec: str, message: str) -> None:
    with pytest.raises(KeyRingError, match=message):
        KeyRing(spec, what="webhook key")


def test_a_key_id_named_twice_is_refused_naming_the_id_never_a_key() -> None:
    """Two keys made the same day once got the same id: the ring kept one of them silently,
    so a "new" key never sealed and removing the old one later lost data."""
    new, old = key("answers-20261126"), key("answers-20261126")
    with pytest.raises(KeyRingError, match="answer key id answers-20261126 appears more") as exc:
        KeyRing(f"{new},{old}", what="answer key")
    for spec in (new, old):
        assert spec.partition(":")[2] not in str(exc.value)
    with pytest.raises(KeyRingError, match="appears more than once"):
        KeyRing(f"{new},{new}")
