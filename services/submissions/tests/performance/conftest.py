"""Fixtures of the performance and referral tests: their own PostgreSQL database (prefix
``perf_test``) at alembic head, the app wired to a registry double that also serves the form
list (priorities, yearly volumes) and the referral rules, a settable clock, real tokens."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route

from tellonce_shared.testing import TokenFactory, asgi_client, migrated_database, static_verifier
from tellonce_submissions.config import Settings
from tellonce_submissions.main import create_app

from ..registry_double import RegistryDouble

SERVICE_DIR = Path(__file__).resolve().parents[2]


@dataclass
class Clock:
    """The wall clock, unless a test pins ``now``."""

    now: datetime | None = None

    def __call__(self) -> datetime:
        return self.now or datetime.now(UTC)


@dataclass
class Catalog:
    """The registry's form list and referral rules, as tests set them."""

    double: RegistryDouble
    facts: dict[str, dict[str, Any]] = field(default_factory=dict)
    rules: list[dict[str, Any]] = field(default_factory=list)
    rule_calls: int = 0
    retired: set[str] = field(default_factory=set)
    """Forms whose every version is retired: listed only with ``?include=retired``, as the
    registry does."""

    def add(self, slug: str, agency: str, priorities: list[str], yearly: int | None) -> None:
        self.facts[slug] = {
            "slug": slug,
            "agency": agency,
            "title": f"Form {slug}",
            "priorities": priorities,
            "yearly_volume": yearly,
        }

    def app(self) -> Starlette:
        async def forms(request: Request) -> JSONResponse:
            with_retired = request.query_params.get("include") == "retired"
            items = [
                {**self.double.forms.get(slug, {}), **facts}
                for slug, facts in self.facts.items()
                if with_retired or slug not in self.retired
            ]
            return JSONResponse({"items": items, "next_cursor": None})

        async def rules(request: Request) -> JSONResponse:
            self.rule_calls += 1
            form = request.query_params.get("form")
            items = [r for r in self.rules if form is None or r["from_form"] == form]
            return JSONResponse({"items": items, "next_cursor": None})

        return Starlette(
            routes=[
                Route("/api/v1/forms", forms),
                Route("/api/v1/referral-rules", rules),
                Mount("", app=self.double.app()),
            ]
        )


@pytest.fixture(scope="session")
def perf_database_url() -> Iterator[str]:
    with migrated_database("perf_test", SERVICE_DIR) as url:
        yield url


@pytest.fixture(scope="session")
def perf_tokens() -> TokenFactory:
    return TokenFactory()


@pytest.fixture(scope="session")
def catalog() -> Catalog:
    return Catalog(RegistryDouble())


@pytest.fixture(scope="session")
async def perf_app(
    perf_database_url: str, perf_tokens: TokenFactory, catalog: Catalog
) -> AsyncIterator[FastAPI]:
    settings = Settings(
        database_url=perf_database_url,
        retention_interval_seconds=0,
        version_status_cache_seconds=0,
        agreements_cache_seconds=0,
        catalog_cache_seconds=0,
    )
    application = create_app(
        settings,
        verifier=static_verifier(perf_tokens),
        registry_transport=httpx.ASGITransport(app=catalog.app()),
    )
    application.state.clock = Clock()
    yield application
    application.state.receipts.close()
    await application.state.registry.aclose()
    await application.state.catalog.aclose()
    await application.state.database.dispose()


@pytest.fixture
def clock(perf_app: FastAPI) -> Iterator[Clock]:
    fake: Clock = perf_app.state.clock
    fake.now = None
    yield fake
    fake.now = None


@pytest.fixture(scope="session")
async def perf_client(perf_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with asgi_client(perf_app) as c:
        yield c
