"""The API client's small cache of published versions (immutable, so safe to keep)."""

from __future__ import annotations

import httpx
import pytest

from tellonce_portal.api import (
    PUBLISHED,
    ApiError,
    FormVersion,
    Gateway,
    PublishedVersions,
    _delivery,
)

from .fake_gateway import FakeGateway


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


def test_an_erased_feed_item_carries_when_its_answers_were_erased() -> None:
    """The pull feed's own shape (flat, no ``data`` envelope): ``"answers": null`` and
    ``share_purged_at`` are read as an erased share, not as "no answers"."""
    item = _delivery(
        {"id": "d1", "delivery_id": "d1", "submission_id": "s1", "reference": "R", "form": "snap",
         "version": 1, "agency": "DSS", "submitted_at": "2026-10-01T00:00:00Z", "answers": None,
         "status": "acked", "share_purged_at": "2026-11-01T03:00:00+00:00"}
    )  # fmt: skip
    assert item.answers == {}
    assert item.share_purged_at == "2026-11-01T03:00:00+00:00"
    held = _delivery({"id": "d2", "answers": {"a": 1}, "share_purged_at": None})
    assert held.share_purged_at is None


async def test_a_confirmation_answers_the_fields_mapped_and_those_left_out() -> None:
    """``confirm_cluster`` reads the registry's 201 (``fields`` mapped, ``left_out`` with whose
    and why) and sends ``fields`` only when the auditor named some."""
    fake = FakeGateway()
    token = fake._issue(fake.users["auditor@demo.gov"])["access_token"]
    async with httpx.AsyncClient(
        transport=fake.transport(), base_url="http://gateway.test"
    ) as client:
        api = Gateway(client, token)
        whole = await api.confirm_cluster("e-address.street", "address.street", None)
        named = await api.confirm_cluster(
            "e-address.street", "address.street", "", [("snap", "/spouse/address/street")]
        )
        with pytest.raises(ApiError) as refused:
            await api.confirm_cluster("c-address.street3", "address.street3", None)
    assert whole.element == "address.street"
    assert whole.fields == [("snap", "/address/street"), ("wic", "/applicant/address/street")]
    assert [(f.form, f.pointer, f.whose) for f in whole.left_out] == [
        ("vba-22-1990", "/veteranAddress/street", "veteran"),
        ("vba-22-1990", "/educationProgram/address/street", "education program"),
        ("snap", "/spouse/address/street", "spouse"),
    ]
    assert whole.left_out[0].reason.startswith("whose: veteran, not the filer's own")
    assert named.fields == [("snap", "/spouse/address/street")]
    assert named.left_out == []
    assert "fields" not in fake.decisions[0], "the registry decides: the filer's own"
    assert fake.decisions[1]["fields"] == [{"form": "snap", "pointer": "/spouse/address/street"}]
    assert refused.value.status == 422
    assert [e["pointer"] for e in refused.value.errors] == ["/fields", "/fields"]
    assert len(fake.decisions) == 2, "a refusal records nothing"
