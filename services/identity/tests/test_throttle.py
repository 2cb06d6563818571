"""Login rate limiting per account and per address: a clear 429 with Retry-After, the same
for unknown accounts, and a success forgiving the account's earlier failures."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from tellonce_identity.main import create_app

from .conftest import close_app, fresh_address, make_settings, new_resident, password_login


@pytest.fixture(scope="module")
async def strict(database_url: str, app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """A second instance on the same database, with small limits (`app` seeds the portal)."""
    strict_app: FastAPI = create_app(
        make_settings(
            database_url,
            login_max_failures_per_account=3,
            login_max_failures_per_address=5,
            login_window_seconds=120,
        )
    )
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=strict_app), base_url="https://testserver"
    ) as http:
        yield http
    await close_app(strict_app)


async def test_per_account_limit(strict: httpx.AsyncClient) -> None:
    email, password = await new_resident(strict)
    for _ in range(3):
        resp = await password_login(strict, email, "wrong wrong wrong wrong")
        assert resp.status_code == 400
    blocked = await password_login(strict, email, password)  # even the right password
    assert blocked.status_code == 429
    assert 1 <= int(blocked.headers["retry-after"]) <= 120
    assert blocked.headers["content-type"] == "application/problem+json"
    assert blocked.json()["status"] == 429


async def test_unknown_account_is_limited_the_same_way(strict: httpx.AsyncClient) -> None:
    ghost = f"ghost-{uuid.uuid4().hex[:8]}@example.org"
    for _ in range(3):
        assert (await password_login(strict, ghost, "wrong wrong wrong wrong")).status_code == 400
    assert (await password_login(strict, ghost, "wrong wrong wrong wrong")).status_code == 429


async def test_success_forgives_account_failures(strict: httpx.AsyncClient) -> None:
    email, password = await new_resident(strict)
    for _ in range(2):
        assert (await password_login(strict, email, "nope nope nope nope")).status_code == 400
    assert (await password_login(strict, email, password)).status_code == 200
    for _ in range(2):
        assert (await password_login(strict, email, "nope nope nope nope")).status_code == 400
    assert (await password_login(strict, email, password)).status_code == 200


async def test_per_address_limit(strict: httpx.AsyncClient) -> None:
    address = fresh_address()
    for _ in range(5):
        other = f"spray-{uuid.uuid4().hex[:8]}@example.org"
        resp = await password_login(strict, other, "wrong wrong wrong wrong", address=address)
        assert resp.status_code == 400
    email, password = await new_resident(strict)
    blocked = await password_login(strict, email, password, address=address)
    assert blocked.status_code == 429
    assert int(blocked.headers["retry-after"]) >= 1
    elsewhere = await password_login(strict, email, password, address=fresh_address())
    assert elsewhere.status_code == 200
