"""In-memory cache of published versions' encoded responses.

Fetching a published version is the hottest read of the hub (every draft, validation and
submission starts with it). A published schema never changes, so its encoded bytes are kept per
process and served without touching the database; entries expire after a short time so a
retirement or a new ``latest`` made on another process shows up soon. Publishing, retiring,
editing the form or an audit confirmation (which changes the fields document's elements) on this
process drops the form's entries at once, after the change is committed; a read that began
before a drop does not store its answer (it may have read the old rows).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class CachedBody:
    body: bytes
    etag: str
    expires: float


class PublishedCache:
    def __init__(self, ttl_seconds: float, max_entries: int) -> None:
        self.ttl = ttl_seconds
        self.max_entries = max_entries
        self._entries: OrderedDict[tuple[str, str, str], CachedBody] = OrderedDict()
        self._epoch = 0
        """Bumped by every drop: an answer read under an older epoch may be stale."""

    @property
    def epoch(self) -> int:
        """Take it before reading the database, give it back to :meth:`put`."""
        return self._epoch

    def get(self, slug: str, ref: str, kind: str) -> CachedBody | None:
        key = (slug, ref, kind)
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry.expires < time.monotonic():
            self._entries.pop(key, None)
            return None
        self._entries.move_to_end(key)
        return entry

    def put(
        self, slug: str, ref: str, kind: str, body: bytes, etag: str, epoch: int | None = None
    ) -> None:
        if self.ttl <= 0 or (epoch is not None and epoch != self._epoch):
            return
        self._entries[(slug, ref, kind)] = CachedBody(body, etag, time.monotonic() + self.ttl)
        self._entries.move_to_end((slug, ref, kind))
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    def drop_form(self, slug: str) -> None:
        self._epoch += 1
        for key in [k for k in self._entries if k[0] == slug]:
            self._entries.pop(key, None)

    def drop_forms(self, slugs: Iterable[str]) -> None:
        wanted = set(slugs)
        self._epoch += 1
        for key in [k for k in self._entries if k[0] in wanted]:
            self._entries.pop(key, None)

    def clear(self) -> None:
        self._epoch += 1
        self._entries.clear()
