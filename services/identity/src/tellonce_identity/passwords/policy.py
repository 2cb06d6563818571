"""NIST SP 800-63B password rules: at least 15 characters (single-factor), at most 256, no
composition rules, and a check against a blocklist of common and breached passwords (shipped
in this package), repetitive or sequential characters and context-specific words."""

from __future__ import annotations

import gzip
import itertools
import re
from functools import lru_cache
from importlib import resources

from tellonce_identity.passwords.hashing import normalize

MIN_LENGTH = 15
MAX_LENGTH = 256
_NON_ALNUM = re.compile(r"[\W_]+", re.UNICODE)


@lru_cache
def blocklist() -> frozenset[str]:
    """The shipped lists, lowercased: 20,000 common passwords (from Django, see
    LICENSE-common-passwords.txt) and long passphrases known from breach corpora."""
    base = resources.files("tellonce_identity.passwords")
    words: set[str] = set()
    raw = gzip.decompress(base.joinpath("common-passwords.txt.gz").read_bytes())
    words.update(line.strip().lower() for line in raw.decode().splitlines())
    extra = base.joinpath("long-passwords.txt").read_text(encoding="utf-8")
    for line in extra.splitlines():
        if line.strip() and not line.startswith("#"):
            words.add(line.strip().lower())
    words.discard("")
    return frozenset(words)


def _core(text: str) -> str:
    return _NON_ALNUM.sub("", text.lower())


def _is_repetition(text: str) -> bool:
    """``aaaaaaaa``, ``abcabcabc``, ``passwordpassword``."""
    n = len(text)
    return any(n % size == 0 and text[:size] * (n // size) == text for size in range(1, n // 2 + 1))


def _is_sequence(text: str) -> bool:
    """``abcdefghijklmnop``, ``123456789012345``, ``987654321098765``."""
    if len(text) < 2:
        return False
    steps = {
        (ord(b) - ord(a)) % 10 if a.isdigit() and b.isdigit() else ord(b) - ord(a)
        for a, b in itertools.pairwise(text)
    }
    return steps <= {1} or steps <= {9} or steps <= {-1}


def _strip_affixes(text: str) -> str:
    """``password2024!!`` -> ``password``: digits and symbols around a common word."""
    return re.sub(r"^[\d\W_]+|[\d\W_]+$", "", text.lower(), flags=re.UNICODE)


def problems(password: str, *, context: tuple[str, ...] = ()) -> list[str]:
    """Why the password is refused (empty when it is acceptable)."""
    value = normalize(password)
    # Both counts: NFKC can expand one code point to many (U+FDFA is 18 characters).
    if len(password) < MIN_LENGTH or len(value) < MIN_LENGTH:
        return [f"Use at least {MIN_LENGTH} characters; a few unrelated words work well."]
    if len(value) > MAX_LENGTH:
        return [f"Use at most {MAX_LENGTH} characters."]
    words = blocklist()
    core = _core(value)
    candidates = {value.lower(), core, _strip_affixes(value), _core(_strip_affixes(value))}
    if any(c in words for c in candidates):
        return ["This password is on a list of common or breached passwords; choose another."]
    if len(set(core)) < 4 or _is_repetition(core) or _is_sequence(core):
        return ["Avoid repeated or sequential characters; choose another password."]
    for period in range(2, len(core) // 2 + 1):
        unit = core[:period]
        if unit in words and _is_repetition(core[: len(core) - len(core) % period]):
            return ["This password repeats a common password; choose another."]
    bare = {core, _core(_strip_affixes(value))}
    for word in context:
        piece = _core(word)
        if len(piece) >= 4 and piece in bare:
            return ["Do not build the password from your email address or name."]
    return []
