"""A published version's schema never changes, but its field -> element mappings can (an
auditor confirms a cluster in the registry): the client re-reads them on each refresh."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest

from tellonce_shared.problems import NotFound
from tellonce_submissions.registry.client import Agreement, RegistryClient

from .registry_double import RegistryDouble


@asynccontextmanager
async def refreshing_client(double: RegistryDouble) -> AsyncIterator[RegistryClient]:
    """A client of the registry double that reads the version again on every call."""
    http = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=double.app()), base_url="http://registry"
    )
    client = RegistryClient(http, status_ttl=0)
    try:
        yield client
    finally:
        await client.aclose()


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
    async with refreshing_client(double) as client:
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


async def test_an_auditors_mapping_never_widens_what_an_agency_receives() -> None:
    """An auditor confirming a cluster maps a field the version left unmapped (here to an
    element an agreement names): prefill and masking follow it, sharing does not. An
    agency receives what the admin's agreement resolved to on the published version, which
    is also what the registry lists and the resident is shown."""
    double = RegistryDouble()
    async with refreshing_client(double) as client:
        first = await client.version("snap", 1)
        declared = next(f for f in first.fields if f.element is not None)
        unmapped = next(f for f in first.fields if f.element is None)
        agreement = Agreement("DOL", (declared.element or "",), "p")
        row = next(r for r in double.fields[("snap", 1)] if r["pointer"] == unmapped.pointer)
        row.update(element=declared.element, element_source="audit", sensitivity="restricted")

        again = await client.version("snap", 1)
        assert unmapped.tokens in again.element_pointers(declared.element or "")  # prefill
        assert unmapped.tokens in again.compiled.restricted  # masked on receipts
        shared = again.shares([agreement])["DOL"]
        assert declared.tokens in shared
        assert unmapped.tokens not in shared
