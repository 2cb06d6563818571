"""The registry client's per-key locks (one load of a version, a form's agreements, the element
dictionary at a time) live only while a load needs them (review LOW): before, every
(form, version) ever asked for, existing or not, kept a lock for the life of the process, so
any resident could grow its memory without bound with made-up version numbers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest

from tellonce_shared.problems import NotFound, ServiceUnavailable
from tellonce_submissions.registry.client import RegistryClient

from .registry_double import RegistryDouble


@asynccontextmanager
async def registry_client(double: RegistryDouble) -> AsyncIterator[RegistryClient]:
    http = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=double.app()), base_url="http://registry"
    )
    client = RegistryClient(http)
    try:
        yield client
    finally:
        await client.aclose()


async def test_versions_and_forms_that_do_not_exist_leave_no_lock_behind() -> None:
    async with registry_client(RegistryDouble()) as client:
        for number in range(1000, 1200):
            with pytest.raises(NotFound):
                await client.version("snap", number)
            with pytest.raises(NotFound):
                await client.version(f"no-form-{number}", 1)
            assert await client.agreements(f"no-form-{number}") == []
        await client.version("snap", 1)
        await client.sensitivities()
        assert client._locks == {}


async def test_concurrent_loads_of_one_version_still_share_one_load() -> None:
    double = RegistryDouble()
    async with registry_client(double) as client:
        during: list[int] = []
        real = client._get

        async def noting(path: str, **kw: object) -> object:
            during.append(len(client._locks))
            return await real(path, **kw)  # type: ignore[arg-type]

        client._get = noting  # type: ignore[method-assign]
        versions = await asyncio.gather(*(client.version("snap", 1) for _ in range(20)))
        assert all(v is versions[0] for v in versions)
        assert double.calls.count("version snap 1") == 1
        assert during
        assert all(n == 1 for n in during)  # the one lock, while loading
        assert client._locks == {}


async def test_a_waiter_cancelled_while_another_loads_leaves_no_lock_behind() -> None:
    double = RegistryDouble()
    async with registry_client(double) as client:
        release = asyncio.Event()
        real = client._get

        async def slow(path: str, **kw: object) -> object:
            await release.wait()
            return await real(path, **kw)  # type: ignore[arg-type]

        client._get = slow  # type: ignore[method-assign]
        loading = asyncio.create_task(client.version("snap", 1))
        waiting = asyncio.create_task(client.version("snap", 1))
        await asyncio.sleep(0.01)
        assert len(client._locks) == 1
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        assert len(client._locks) == 1  # still held by the load
        release.set()
        await loading
        assert client._locks == {}


async def test_the_element_dictionary_is_read_once_for_many_waiting_callers() -> None:
    """Every submission looks up its fields' element schemas: when the dictionary is due to
    be read again, forty submissions at once make one read, not forty (review MEDIUM)."""
    double = RegistryDouble()
    async with registry_client(double) as client:
        await client.sensitivities()
        client._sensitivity = (0.0, client._sensitivity[1])  # type: ignore[index]  # expired
        before = double.calls.count("elements")
        results = await asyncio.gather(
            *(client.element_schema("person.birthDate") for _ in range(40))
        )
        assert double.calls.count("elements") - before == 1
        assert all(r == {"type": "string", "format": "date"} for r in results)


async def test_a_failed_read_of_the_dictionary_keeps_the_one_read_before() -> None:
    double = RegistryDouble()
    async with registry_client(double) as client:
        with pytest.MonkeyPatch.context() as patch:

            async def down(path: str, **kw: object) -> object:
                raise ServiceUnavailable("The forms registry cannot be reached.")

            patch.setattr(client, "_get", down)
            with pytest.raises(ServiceUnavailable):  # nothing read before: nothing to keep
                await client.sensitivities()
        known = await client.sensitivities()
        client._sensitivity = (0.0, known)  # expired
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(client, "_get", down)
            assert await client.sensitivities() == known
            assert await client.element_schema("person.birthDate") == {
                "type": "string",
                "format": "date",
            }
