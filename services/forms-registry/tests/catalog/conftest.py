"""Fixtures of the catalog tests: one fresh PostgreSQL database at alembic head per run, the
reference data (agencies, element dictionary) loaded, and real signed tokens."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tellonce_registry.config import Settings
from tellonce_registry.main import create_app
from tellonce_registry.seeding import Report, seed_reference
from tellonce_shared.testing import TokenFactory, asgi_client, migrated_database, static_verifier

SERVICE_DIR = Path(__file__).resolve().parents[2]
DATA = Path(__file__).resolve().parents[1] / "data"
VA_FORMS = DATA / "va-forms"


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    with migrated_database("registry_test", SERVICE_DIR) as url:
        yield url


@pytest.fixture(scope="session")
def tokens() -> TokenFactory:
    return TokenFactory()


@pytest.fixture(scope="session")
def settings(database_url: str) -> Settings:
    return Settings(database_url=database_url, max_schema_bytes=200_000)


@pytest.fixture(scope="session")
async def app(settings: Settings, tokens: TokenFactory) -> AsyncIterator[FastAPI]:
    app = create_app(settings, verifier=static_verifier(tokens))
    await seed_reference(app.state.database, Report())
    yield app
    await app.state.database.dispose()


@pytest.fixture(scope="session")
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with asgi_client(app) as c:
        yield c


@pytest.fixture(scope="session")
def admin(tokens: TokenFactory) -> dict[str, str]:
    return tokens.headers(role="admin")


@pytest.fixture(scope="session")
def resident(tokens: TokenFactory) -> dict[str, str]:
    return tokens.headers(role="resident")


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


class Catalog:
    """Steps the API tests repeat: a new form, a new (published) version."""

    def __init__(self, client: httpx.AsyncClient, admin: dict[str, str]) -> None:
        self.client = client
        self.admin = admin

    unique = staticmethod(unique)

    async def make_form(self, agency: str = "DSS", **extra: Any) -> str:
        slug = unique("form")
        body = {"slug": slug, "agency": agency, "title": "A test form", **extra}
        resp = await self.client.post("/api/v1/forms", json=body, headers=self.admin)
        assert resp.status_code == 201, resp.text
        return slug

    async def add_version(
        self,
        slug: str,
        schema: Any,
        ui: dict[str, Any] | None = None,
        *,
        publish: bool = False,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"schema": schema}
        if ui is not None:
            body["ui"] = ui
        resp = await self.client.post(
            f"/api/v1/forms/{slug}/versions", json=body, headers=self.admin
        )
        assert resp.status_code == 201, resp.text
        created: dict[str, Any] = resp.json()
        if publish:
            number = created["version"]
            pub = await self.client.post(
                f"/api/v1/forms/{slug}/versions/{number}/publish", headers=self.admin
            )
            assert pub.status_code == 200, pub.text
        return created


@pytest.fixture(scope="session")
def catalog(client: httpx.AsyncClient, admin: dict[str, str]) -> Catalog:
    return Catalog(client, admin)
