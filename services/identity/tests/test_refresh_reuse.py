"""The refresh-token reuse interval (IDENTITY_REFRESH_REUSE_SECONDS): two requests of one
browser that refresh with the same token at the same moment both stay signed in; a reuse
after the interval, a second reuse, or a reuse after sign-out still ends the sign-in."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from tellonce_identity.config import Settings
from tellonce_identity.main import create_app
from tellonce_identity.models import AuditEvent, RefreshToken

from .conftest import TOKEN_URL, close_app, make_settings, new_resident, password_login

REFRESH = {"grant_type": "refresh_token", "client_id": "portal"}
ME = "/api/v1/identity/me"


async def sign_in(client: httpx.AsyncClient) -> dict[str, str]:
    email, password = await new_resident(client)
    resp = await password_login(client, email, password)
    assert resp.status_code == 200, resp.text
    tokens: dict[str, str] = resp.json()
    return tokens


async def refresh(client: httpx.AsyncClient, token: str) -> httpx.Response:
    return await client.post(TOKEN_URL, data={**REFRESH, "refresh_token": token})


async def assert_signed_in(client: httpx.AsyncClient, body: dict[str, str]) -> None:
    """The access token works and the refresh token rotates once more."""
    me = await client.get(ME, headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.status_code == 200, me.text
    again = await refresh(client, body["refresh_token"])
    assert again.status_code == 200, again.text


async def token_row(app: FastAPI, token: str) -> RefreshToken:
    digest = hashlib.sha256(token.encode()).hexdigest()
    async with app.state.database.sessions() as session:
        row: RefreshToken = (
            await session.execute(select(RefreshToken).where(RefreshToken.token_hash == digest))
        ).scalar_one()
        return row


def test_setting_bounds() -> None:
    assert Settings().refresh_reuse_seconds == 30
    assert Settings(refresh_reuse_seconds=0).refresh_reuse_seconds == 0
    with pytest.raises(ValueError):
        Settings(refresh_reuse_seconds=-1)
    with pytest.raises(ValueError):
        Settings(refresh_reuse_seconds=301)


async def test_reuse_within_the_interval_keeps_both_callers_signed_in(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    first = await sign_in(client)
    winner = await refresh(client, first["refresh_token"])
    assert winner.status_code == 200, winner.text
    late = await refresh(client, first["refresh_token"])
    assert late.status_code == 200, late.text
    a, b = winner.json(), late.json()
    # A fresh sibling, not the winner's successor again (only digests are stored).
    assert len({first["refresh_token"], a["refresh_token"], b["refresh_token"]}) == 3
    row_a = await token_row(app, a["refresh_token"])
    row_b = await token_row(app, b["refresh_token"])
    original = await token_row(app, first["refresh_token"])
    assert row_a.family_id == row_b.family_id == original.family_id
    assert row_b.family_expires_at == original.family_expires_at
    assert original.reused_at is not None
    assert original.revoked_at is None
    async with app.state.database.sessions() as session:
        events = (
            (
                await session.execute(
                    select(AuditEvent).where(
                        AuditEvent.action == "token.refresh",
                        AuditEvent.detail["family"].as_string() == original.family_id,
                    )
                )
            )
            .scalars()
            .all()
        )
    assert sorted(e.detail["reuse_interval"] for e in events) == [False, True]
    await assert_signed_in(client, a)
    await assert_signed_in(client, b)


async def test_only_one_reuse_is_accepted_then_the_family_is_revoked(
    client: httpx.AsyncClient,
) -> None:
    first = await sign_in(client)
    a = (await refresh(client, first["refresh_token"])).json()
    b = (await refresh(client, first["refresh_token"])).json()
    third = await refresh(client, first["refresh_token"])
    assert third.status_code == 400
    assert third.json()["error"] == "invalid_grant"
    assert "already used" in third.json()["error_description"]
    for body in (a, b):
        assert (await refresh(client, body["refresh_token"])).status_code == 400


async def test_reuse_after_the_interval_revokes_the_family(
    client: httpx.AsyncClient, app: FastAPI, settings: Settings
) -> None:
    from sqlalchemy import update

    first = await sign_in(client)
    a = (await refresh(client, first["refresh_token"])).json()
    rotated_at = datetime.now(UTC) - timedelta(seconds=settings.refresh_reuse_seconds + 1)
    digest = hashlib.sha256(first["refresh_token"].encode()).hexdigest()
    async with app.state.database.sessions() as session:
        await session.execute(
            update(RefreshToken).where(RefreshToken.token_hash == digest).values(used_at=rotated_at)
        )
        await session.commit()
    late = await refresh(client, first["refresh_token"])
    assert late.status_code == 400
    assert "already used" in late.json()["error_description"]
    assert (await refresh(client, a["refresh_token"])).status_code == 400


async def test_reuse_within_the_interval_after_sign_out_fails(client: httpx.AsyncClient) -> None:
    first = await sign_in(client)
    a = (await refresh(client, first["refresh_token"])).json()
    out = await client.post(
        "/api/v1/identity/revoke", data={"token": a["refresh_token"], "client_id": "portal"}
    )
    assert out.status_code == 200
    late = await refresh(client, first["refresh_token"])
    assert late.status_code == 400
    assert late.json()["error"] == "invalid_grant"
    assert "revoked" in late.json()["error_description"]
    assert (await refresh(client, a["refresh_token"])).status_code == 400


async def test_signing_out_with_the_sibling_ends_the_whole_sign_in(
    client: httpx.AsyncClient,
) -> None:
    first = await sign_in(client)
    a = (await refresh(client, first["refresh_token"])).json()
    b = (await refresh(client, first["refresh_token"])).json()
    out = await client.post(
        "/api/v1/identity/revoke", data={"token": b["refresh_token"], "client_id": "portal"}
    )
    assert out.status_code == 200
    assert (await refresh(client, a["refresh_token"])).status_code == 400
    assert (await refresh(client, b["refresh_token"])).status_code == 400


@pytest.mark.parametrize("attempt", range(3))
async def test_two_concurrent_refreshes_both_succeed(
    client: httpx.AsyncClient, app: FastAPI, attempt: int
) -> None:
    """Truly concurrent on PostgreSQL: one request rotates, the other waits on the row lock
    and takes the reuse interval; both new refresh tokens keep working."""
    first = await sign_in(client)
    results = await asyncio.gather(
        refresh(client, first["refresh_token"]), refresh(client, first["refresh_token"])
    )
    assert [r.status_code for r in results] == [200, 200], [r.text for r in results]
    a, b = (r.json() for r in results)
    assert a["refresh_token"] != b["refresh_token"]
    original = await token_row(app, first["refresh_token"])
    assert original.used_at is not None
    assert original.reused_at is not None
    await assert_signed_in(client, a)
    await assert_signed_in(client, b)


async def test_three_concurrent_refreshes_one_is_a_reuse_too_many(
    client: httpx.AsyncClient,
) -> None:
    """Of three racing uses exactly one rotates and one takes the reuse interval; the third
    is theft and ends the sign-in, including the tokens the other two just got."""
    first = await sign_in(client)
    results = await asyncio.gather(*(refresh(client, first["refresh_token"]) for _ in range(3)))
    assert sorted(r.status_code for r in results) == [200, 200, 400]
    for r in results:
        if r.status_code == 200:
            assert (await refresh(client, r.json()["refresh_token"])).status_code == 400


@pytest.fixture
async def strict_client(database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """The identity app with the reuse interval disabled (IDENTITY_REFRESH_REUSE_SECONDS=0)."""
    application = create_app(make_settings(database_url, refresh_reuse_seconds=0))
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=application), base_url="https://testserver"
        ) as http:
            yield http
    finally:
        await close_app(application)


async def test_interval_zero_treats_any_reuse_as_theft(
    client: httpx.AsyncClient, strict_client: httpx.AsyncClient
) -> None:
    first = await sign_in(client)
    a = await refresh(strict_client, first["refresh_token"])
    assert a.status_code == 200
    reuse = await refresh(strict_client, first["refresh_token"])
    assert reuse.status_code == 400
    assert "already used" in reuse.json()["error_description"]
    assert (await refresh(strict_client, a.json()["refresh_token"])).status_code == 400

    racing = await sign_in(client)
    results = await asyncio.gather(
        refresh(strict_client, racing["refresh_token"]),
        refresh(strict_client, racing["refresh_token"]),
    )
    assert sorted(r.status_code for r in results) == [200, 400]
    winner = next(r for r in results if r.status_code == 200).json()
    assert (await refresh(strict_client, winner["refresh_token"])).status_code == 400
