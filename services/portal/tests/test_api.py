"""The API client's small cache of published versions (immutable, so safe to keep)."""

from __future__ import annotations

import httpx

from tellonce_portal.api import PUBLISHED, FormVersion, Gateway, PublishedVersions


def test_only_published_versions_are_kept_and_the_oldest_goes_first() -> None:
    cache = PublishedVersions(size=2)
    cache.put(FormVersion("a", 1, {}, None, status="draft"))
    assert cache.get("a", 1) is None, "a draft can still change"
    for n in (1, 2, 3):
        cache.put(FormVersion("a", n, {"n": n}, None))
    assert cache.get("a", 1) is None
    assert cache.get("a", 3) is not None


async def test_a_published_version_is_read_from_the_registry_once() -> None:
    calls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.path)
        return httpx.Response(
            200, json={"version": 7, "status": "published", "schema": {"type": "object"}}
        )

    async with httpx.AsyncClient(
        transport=httpx.MockTransport(handler), base_url="http://gateway.test"
    ) as client:
        gateway = Gateway(client)
        PUBLISHED.items.pop(("cached-form", 7), None)
        first = await gateway.version("cached-form", 7)
        second = await gateway.version("cached-form", 7)
    assert first is second
    assert calls == ["/api/v1/forms/cached-form/versions/7"]
