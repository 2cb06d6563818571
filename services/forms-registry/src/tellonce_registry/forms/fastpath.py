"""Answer cached reads of published versions before routing.

``GET /api/v1/forms/{slug}/versions/{n}`` (and ``.../fields``) is the hottest read of the hub.
When the answer is in :class:`PublishedCache`, this middleware sends the cached bytes without
FastAPI's routing and dependency machinery (which cost several times the bare response);
anything else (a miss, a draft, another path) goes on to the normal route, which fills the
cache. It sits innermost, so request ids, access logs and metrics still see every request.
"""

from __future__ import annotations

import re
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

from tellonce_registry.forms.cache import PublishedCache

_PATH = re.compile(r"^/api/v1/forms/([^/]+)/versions/([^/]+)(/fields)?$")
VERSION_ROUTE = "/api/v1/forms/{slug}/versions/{n}"
FIELDS_ROUTE = "/api/v1/forms/{slug}/versions/{n}/fields"


class _RouteLabel:
    """What the metrics middleware reads from ``scope["route"]``: the route template."""

    def __init__(self, path: str) -> None:
        self.path = path


_LABELS = {False: _RouteLabel(VERSION_ROUTE), True: _RouteLabel(FIELDS_ROUTE)}


class PublishedFastPath:
    def __init__(self, app: ASGIApp, cache: PublishedCache) -> None:
        self.app = app
        self.cache = cache

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] in ("GET", "HEAD"):
            match = _PATH.match(scope["path"])
            if match is not None:
                slug, ref, fields = match.groups()
                hit = self.cache.get(slug, ref, "fields" if fields else "version")
                if hit is not None:
                    scope["route"] = _LABELS[fields is not None]
                    await self._send(scope, send, hit.body, hit.etag)
                    return
        await self.app(scope, receive, send)

    @staticmethod
    async def _send(scope: Scope, send: Send, body: bytes, etag: str) -> None:
        tag = etag.encode()
        headers: list[tuple[bytes, bytes]] = [
            (b"etag", tag),
            (b"cache-control", b"public, max-age=30"),
        ]
        status = 200
        for key, value in scope.get("headers", []):
            if key == b"if-none-match" and value == tag:
                status = 304
                break
        if status == 200:
            headers += [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ]
        start: dict[str, Any] = {
            "type": "http.response.start",
            "status": status,
            "headers": headers,
        }
        await send(start)
        payload = body if status == 200 and scope["method"] == "GET" else b""
        await send({"type": "http.response.body", "body": payload})
