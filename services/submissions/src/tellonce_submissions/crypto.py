"""Restricted element values (SSN, bank account...) encrypted at rest with AES-256-GCM.

The first key in the ``answer_keys`` setting seals; every key opens, so an operator rotates
by putting a new key first and re-sealing at leisure: each sealed blob keeps its key id.
"""

from __future__ import annotations

from typing import Any

import orjson

from tellonce_shared.keyring import KeyRing, KeyRingError

__all__ = ["AnswerSealer", "KeyRingError"]


class AnswerSealer:
    """Seals and opens a JSON value with the key ring from settings."""

    def __init__(self, spec: str) -> None:
        self._ring = KeyRing(spec, what="answer key")
        self.active_key_id = self._ring.active_key_id

    def seal(self, value: Any, *, context: str) -> tuple[bytes, str]:
        """Encrypt ``value``; ``context`` (e.g. the row id) is bound as associated data, so a
        blob copied onto another row does not open."""
        return self._ring.seal(orjson.dumps(value), context=context)

    def open(self, blob: bytes, key_id: str, *, context: str) -> Any:
        return orjson.loads(self._ring.open(blob, key_id, context=context))
