"""A published version's schema never changes, but its field -> element mappings can (an
auditor confirms a cluster in the registry): the client re-reads them on each refresh."""

from __future__ import annotations

import httpx
import pytest

from tellonce_shared.problems import NotFound
from tellonce_submissions.registry.client import RegistryClient

from .registry_double import RegistryDouble


async def test_a_form_name_is_one_escaped_path_segment() -> None:
    """Request models already refuse such names; the client never lets one change the URL."""
    seen: list[str] = []

    def record(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.raw_path.decode())
        return httpx.Response(404, json={})

    http = httpx.AsyncClient(transport=httpx.MockTransport(record), base_url="http://registry")
    client = RegistryClient(http)
    try:
        with pytest.raises(NotFound):
            await client.latest_version("../agreements?x=#")
    finally:
        await client.aclose()
    assert seen == ["/api/v1/forms/..%2Fagreements%3Fx%3D%23/versions/latest"]


async def test_confirmed_mapping_reaches_a_cached_version() -> None:
    double = RegistryDouble()
    http = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=double.app()), base_url="http://registry"
    )
    client = RegistryClient(http, status_ttl=0)
    try:
        first = await client.version("snap", 1)
        unmapped = next(f for f in first.fields if f.element is None)
        row = next(r for r in double.fields[("snap", 1)] if r["pointer"] == unmapped.pointer)
        row["element"] = "person.ssn"
        row["sensitivity"] = "restricted"

        again = await client.version("snap", 1)
        refreshed = next(f for f in again.fields if f.pointer == unmapped.pointer)
        assert refreshed.element == "person.ssn"
        assert unmapped.tokens in again.compiled.restricted
        assert again.compiled.schema == first.compiled.schema
    finally:
        await client.aclose()
