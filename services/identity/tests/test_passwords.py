"""Unit tests of the password rules and hashing."""

from __future__ import annotations

import pytest

from tellonce_identity.config import Settings
from tellonce_identity.passwords.hashing import Passwords
from tellonce_identity.passwords.policy import MIN_LENGTH, blocklist, problems


def test_blocklist_is_shipped_and_large() -> None:
    words = blocklist()
    assert len(words) > 19_000
    assert "password" in words
    assert "correcthorsebatterystaple" in words


@pytest.mark.parametrize(
    "password",
    [
        "a" * (MIN_LENGTH - 1),
        "iloveyouiloveyou",
        "Qwertyuiopasdfgh",
        "monkeymonkeymonkey",
        "dragon!!!!!!!!!!!!",
        "zyxwvutsrqponmlk",
        "121212121212121212",
    ],
)
def test_refused(password: str) -> None:
    assert problems(password)


@pytest.mark.parametrize(
    "password",
    [
        "tell-once-demo-password",
        "lantern orbit meadow tulip",
        "ALL CAPS IS FINE WHEN LONG",
        "ñandú corre por la pampa",
        "x" * 3 + " river stone quiet owl",
    ],
)
def test_accepted(password: str) -> None:
    assert problems(password) == []


def test_unicode_is_normalized_before_hashing() -> None:
    passwords = Passwords(Settings())
    stored = passwords.hash("cafe\u0301 au lait in the morning")  # e + combining accent
    assert passwords.verify(stored, "caf\u00e9 au lait in the morning")  # precomposed é


def test_unknown_account_never_verifies() -> None:
    passwords = Passwords(Settings())
    assert passwords.verify(None, "tellonce dummy password for timing equality") is False
    assert passwords.verify("not-a-hash", "anything") is False


def test_argon2id_with_owasp_parameters() -> None:
    stored = Passwords(Settings()).hash("lantern orbit meadow tulip")
    assert stored.startswith("$argon2id$")
    assert "m=19456,t=2,p=1" in stored
