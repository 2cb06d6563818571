from __future__ import annotations

import copy
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tellonce_shared.testing import TokenFactory, asgi_client, migrated_database, static_verifier
from tellonce_submissions.config import Settings
from tellonce_submissions.main import create_app

from .registry_double import RegistryDouble, load

SERVICE_DIR = Path(__file__).resolve().parents[1]


@dataclass
class FakeClock:
    now: datetime

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kw: float) -> None:
        self.now += timedelta(**kw)


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    with migrated_database("submissions_test", SERVICE_DIR) as url:
        yield url


@pytest.fixture(scope="session")
def tokens() -> TokenFactory:
    return TokenFactory()


@pytest.fixture(scope="session")
def registry() -> RegistryDouble:
    return RegistryDouble()


@pytest.fixture(scope="session")
def settings(database_url: str) -> Settings:
    return Settings(
        database_url=database_url,
        retention_interval_seconds=0,
        version_status_cache_seconds=0,
        agreements_cache_seconds=0,
    )


@pytest.fixture(scope="session")
async def app(
    settings: Settings, tokens: TokenFactory, registry: RegistryDouble
) -> AsyncIterator[FastAPI]:
    application = create_app(
        settings,
        verifier=static_verifier(tokens),
        registry_transport=httpx.ASGITransport(app=registry.app()),
    )
    application.state.clock = FakeClock(datetime.now(UTC))
    yield application
    application.state.receipts.close()
    await application.state.registry.aclose()
    await application.state.database.dispose()


@pytest.fixture
def clock(app: FastAPI) -> Iterator[FakeClock]:
    fake: FakeClock = app.state.clock
    fake.now = datetime.now(UTC)
    yield fake
    fake.now = datetime.now(UTC)


@pytest.fixture(scope="session")
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with asgi_client(app) as c:
        yield c


@pytest.fixture
def cg_answers() -> dict[str, Any]:
    return copy.deepcopy(load("10-10CG-example.json"))
