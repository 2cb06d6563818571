"""Form definitions kept between requests (``tellonce_portal.definitions``): one per published
(form, version, locale, title), never one of a draft version, and pages drawn from a kept
definition are those a fresh one draws, whatever answers other drafts had before."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx

from tellonce_portal.api import PUBLISHED, FormVersion
from tellonce_portal.config import Settings
from tellonce_portal.definitions import DefinitionCache
from tellonce_portal.main import create_app

from .fake_gateway import FakeGateway
from .test_pages import sign_in

DATA = Path(__file__).parent / "data"
EZ = json.loads((DATA / "10-10EZ-schema.json").read_text())


def version(number: int = 1, status: str = "published", schema: Any = None) -> FormVersion:
    return FormVersion(
        slug="hec", version=number, schema=schema or EZ, ui={"omit": []}, status=status
    )


def test_a_published_version_is_built_once_per_locale_and_title() -> None:
    cache = DefinitionCache(8)
    v1 = version()
    first = cache.get(v1, title="Health care", locale="en")
    assert cache.get(v1, title="Health care", locale="en") is first
    # The same version read again from the registry (equal content, other objects).
    assert cache.get(copy.deepcopy(v1), title="Health care", locale="en") is first
    spanish = cache.get(v1, title="Health care", locale="es")
    assert spanish is not first
    assert spanish.locale == "es"
    assert cache.get(version(2), title="Health care", locale="en") is not first
    renamed = cache.get(v1, title="Health benefits", locale="en")
    assert renamed is not first
    assert renamed.title == "Health benefits"
    assert len(cache) == 4


def test_a_draft_version_is_never_kept() -> None:
    cache = DefinitionCache(8)
    draft = version(3, status="draft")
    first = cache.get(draft)
    assert cache.get(draft) is not first
    assert len(cache) == 0


def test_a_kept_definition_never_answers_for_other_content() -> None:
    cache = DefinitionCache(8)
    first = cache.get(version())
    changed = copy.deepcopy(EZ)
    changed["properties"]["veteranFullName"]["title"] = "Your name"
    other = cache.get(version(schema=changed))
    assert other is not first
    assert other.schema is changed
    assert cache.get(version(schema=changed)) is other


def test_the_least_recently_used_definition_is_dropped() -> None:
    cache = DefinitionCache(2)
    one, two = cache.get(version(1)), cache.get(version(2))
    assert cache.get(version(1)) is one  # 1 used last: 2 goes next
    cache.get(version(3))
    assert len(cache) == 2
    assert cache.get(version(1)) is one
    assert cache.get(version(2)) is not two
    assert DefinitionCache(0).get(version(1)) is not DefinitionCache(0).get(version(1))


# -- pages drawn from a kept definition -----------------------------------------------------

ADDRESS_A = {"street": "1 Main St", "city": "Hartford", "country": "United States",
             "state": "CT", "postalCode": "06101"}  # fmt: skip
ADDRESS_B = {"street": "2 Rue de Rivoli", "city": "Paris", "country": "France", "state": "IDF"}
DRAFTS = {
    # An old draft holding a country's name (read as USA), one dependent.
    "d-a": {"veteranFullName": {"first": "Ana", "last": "Diaz"}, "veteranAddress": ADDRESS_A,
            "dependents": [{"fullName": {"first": "Luz", "last": "Diaz"},
                            "dependentRelation": "Daughter"}]},
    # Another country, two dependents, an answer that does not pass (a one-letter last name).
    "d-b": {"veteranFullName": {"first": "Bo", "last": "X"}, "veteranAddress": ADDRESS_B,
            "spouseAddress": ADDRESS_A,
            "dependents": [{"fullName": {"first": "Al", "last": "Ng"}},
                           {"fullName": {"first": "Cy", "last": "Ng"},
                            "dependentRelation": "Son"}]},
}  # fmt: skip
URLS = ["/pages/2", "/pages/2?check=1", "/pages/6", "/pages/6?check=1", "/pages/11",
        "/pages/13", "/check"]  # fmt: skip


@asynccontextmanager
async def signed_in(cache_size: int) -> AsyncIterator[tuple[httpx.AsyncClient, DefinitionCache]]:
    PUBLISHED.items.pop(("snap", 1), None)  # another test's form under the fake's one slug
    fake = FakeGateway(schema=EZ, ui={})
    for draft_id, answers in DRAFTS.items():
        fake.drafts[draft_id] = {"id": draft_id, "form": "snap", "version": 1,
                                 "answers": copy.deepcopy(answers), "owner": "r1"}  # fmt: skip
    settings = Settings(gateway_url="http://gateway.test", form_definition_cache_size=cache_size)
    app = create_app(settings, transport=fake.transport())
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://portal.test",
        headers={"accept": "text/html"},
    ) as client:
        await sign_in(client)
        yield client, app.state.definitions


def _comparable(html: str) -> str:
    return re.sub(r'name="csrf_token" value="[^"]+"', "", html)


async def test_pages_from_a_kept_definition_are_those_of_a_fresh_one_for_each_draft() -> None:
    async with signed_in(64) as (kept, cache), signed_in(0) as (fresh, no_cache):
        # Draft A, then B, then A again: nothing of one draft's answers may show in another's.
        for draft_id in ("d-a", "d-b", "d-a", "d-b"):
            for url in URLS:
                page = f"/drafts/{draft_id}{url}"
                got, expected = await kept.get(page), await fresh.get(page)
                assert got.status_code == expected.status_code == 200, page
                assert _comparable(got.text) == _comparable(expected.text), page
        assert len(cache) == 1
        assert len(no_cache) == 0
        assert "Hartford" in (await kept.get("/drafts/d-a/check")).text
        assert "Hartford" not in (await kept.get("/drafts/d-b/pages/6")).text
        assert "Paris" in (await kept.get("/drafts/d-b/pages/6")).text
        # The pages compared read an old name as its country and show a page's errors.
        assert 'value="USA" checked' in (await kept.get("/drafts/d-a/pages/6")).text
        assert "usa-error-summary" in (await kept.get("/drafts/d-b/pages/2?check=1")).text
