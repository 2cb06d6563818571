"""Fixtures of the referral-rule tests: a fresh PostgreSQL database at alembic head with the
reference data and the demo catalog, and real signed tokens."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from tellonce_registry.config import Settings
from tellonce_registry.main import create_app
from tellonce_registry.seeding import Report, seed_demo_forms, seed_reference
from tellonce_shared.testing import TokenFactory, asgi_client, migrated_database, static_verifier

SERVICE_DIR = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    with migrated_database("perf_test", SERVICE_DIR) as url:
        yield url


@pytest.fixture(scope="session")
def tokens() -> TokenFactory:
    return TokenFactory()


@pytest.fixture(scope="session")
async def app(database_url: str, tokens: TokenFactory) -> AsyncIterator[FastAPI]:
    settings = Settings(database_url=database_url)
    app = create_app(settings, verifier=static_verifier(tokens))
    report = Report()
    await seed_reference(app.state.database, report)
    await seed_demo_forms(app.state.database, settings, report)
    yield app
    await app.state.database.dispose()


@pytest.fixture(scope="session")
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with asgi_client(app) as c:
        yield c
