"""Fixtures: one PostgreSQL database at alembic head for the whole run, the identity app on
it (seeded with the portal client and the demo accounts), and helpers that sign in through
the real token endpoint."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tellonce_identity.config import Settings
from tellonce_identity.main import create_app
from tellonce_identity.seed import DEMO_PASSWORD, run_seed
from tellonce_shared.testing import migrated_database

SERVICE_DIR = Path(__file__).resolve().parents[1]
ISSUER = "https://forms.example.gov"
TOKEN_URL = "/api/v1/identity/token"
_addresses = itertools.count(1)


def fresh_address() -> str:
    """A distinct caller address (via X-Forwarded-For from the trusted local proxy)."""
    n = next(_addresses)
    return f"198.51.{n // 250}.{n % 250 + 1}"


def make_settings(database_url: str, **overrides: Any) -> Settings:
    return Settings(database_url=database_url, issuer=ISSUER, **overrides)


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    with migrated_database("identity_test", SERVICE_DIR) as url:
        yield url


@pytest.fixture(scope="session")
def settings(database_url: str) -> Settings:
    return make_settings(database_url)


async def close_app(app: FastAPI) -> None:
    await app.state.self_client.aclose()
    await app.state.database.dispose()


@pytest.fixture(scope="session")
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    await run_seed(settings)
    application = create_app(settings)
    yield application
    await close_app(application)


@pytest.fixture(scope="session")
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="https://testserver"
    ) as http:
        yield http


async def password_login(
    client: httpx.AsyncClient,
    email: str,
    password: str = DEMO_PASSWORD,
    *,
    address: str | None = None,
    **extra: str,
) -> httpx.Response:
    form = {
        "grant_type": "password",
        "username": email,
        "password": password,
        "client_id": "portal",
        **extra,
    }
    return await client.post(
        TOKEN_URL, data=form, headers={"X-Forwarded-For": address or fresh_address()}
    )


async def bearer(
    client: httpx.AsyncClient, email: str, password: str = DEMO_PASSWORD
) -> dict[str, str]:
    resp = await password_login(client, email, password)
    assert resp.status_code == 200, resp.text
    return {"Authorization": f"Bearer {resp.json()['access_token']}"}


async def new_resident(client: httpx.AsyncClient) -> tuple[str, str]:
    email = f"r-{uuid.uuid4().hex[:10]}@example.org"
    password = f"lantern orbit {uuid.uuid4().hex[:8]} meadow"
    resp = await client.post(
        "/api/v1/identity/residents",
        json={"email": email, "password": password, "full_name": "Test Resident"},
    )
    assert resp.status_code == 201, resp.text
    return email, password
