"""CORS, closed by default: only origins named in GATEWAY_CORS_ORIGINS get the headers.
The API uses bearer tokens, not cookies, so credentials are never allowed."""

from __future__ import annotations

from collections.abc import Iterable

ALLOWED_METHODS = b"GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS"
ALLOWED_HEADERS = (
    b"Authorization, Content-Type, Idempotency-Key, X-Request-ID, Accept, Accept-Language"
)
EXPOSED_HEADERS = b"X-Request-ID, Retry-After, Location, Content-Disposition"


class CorsPolicy:
    def __init__(self, origins: Iterable[str]) -> None:
        self.origins = frozenset(o.rstrip("/").encode() for o in origins)

    def allows(self, origin: bytes) -> bool:
        return origin in self.origins

    def response_headers(self, origin: bytes) -> list[tuple[bytes, bytes]]:
        return [
            (b"access-control-allow-origin", origin),
            (b"access-control-expose-headers", EXPOSED_HEADERS),
            (b"vary", b"Origin"),
        ]

    def preflight_headers(self) -> list[tuple[bytes, bytes]]:
        """Added to ``response_headers`` for an allowed origin's preflight."""
        return [
            (b"access-control-allow-methods", ALLOWED_METHODS),
            (b"access-control-allow-headers", ALLOWED_HEADERS),
            (b"access-control-max-age", b"600"),
        ]
