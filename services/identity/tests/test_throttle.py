"""Login rate limiting per account and per address: a clear 429 with Retry-After, the same
for unknown accounts, and a success forgiving the account's earlier failures. Wrong current
passwords on a password change are limited on their own and never lock the sign-in."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from tellonce_identity.main import create_app

from .conftest import (
    bearer,
    close_app,
    fresh_address,
    make_settings,
    new_resident,
    password_login,
)


@pytest.fixture(scope="module")
async def strict(database_url: str, app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """A second instance on the same database, with small limits (`app` seeds the portal)."""
    strict_app: FastAPI = create_app(
        make_settings(
            database_url,
            login_max_failures_per_account=3,
            login_max_failures_per_address=5,
            login_window_seconds=120,
            password_change_max_failures=3,
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


CHANGE = "/api/v1/identity/me/password"
NEW_PASSWORD = "seventeen quiet harbor lamps"


async def change(
    client: httpx.AsyncClient, auth: dict[str, str], current: str, new: str = NEW_PASSWORD
) -> httpx.Response:
    return await client.post(
        CHANGE, json={"current_password": current, "new_password": new}, headers=auth
    )


async def test_wrong_current_passwords_do_not_lock_the_sign_in(strict: httpx.AsyncClient) -> None:
    email, password = await new_resident(strict)
    auth = await bearer(strict, email, password)
    # As many wrong current passwords as the sign-in allows failures (3): all refused.
    for _ in range(3):
        wrong = await change(strict, auth, "not it at all, not at all")
        assert wrong.status_code == 422
        assert wrong.json()["errors"][0]["pointer"] == "/current_password"
    # The account still signs in with its password.
    assert (await password_login(strict, email, password)).status_code == 200
    # The change has a limit of its own: the next try is refused without checking.
    throttled = await change(strict, auth, password)
    assert throttled.status_code == 429
    assert 1 <= int(throttled.headers["retry-after"]) <= 120
    assert throttled.headers["content-type"] == "application/problem+json"
    assert (await password_login(strict, email, password)).status_code == 200


async def test_a_locked_sign_in_does_not_stop_a_signed_in_user_changing_the_password(
    strict: httpx.AsyncClient,
) -> None:
    email, password = await new_resident(strict)
    auth = await bearer(strict, email, password)
    for _ in range(3):
        assert (await password_login(strict, email, "guess guess guess guess")).status_code == 400
    assert (await password_login(strict, email, password)).status_code == 429
    assert (await change(strict, auth, password)).status_code == 204


async def test_a_successful_change_forgives_earlier_wrong_current_passwords(
    strict: httpx.AsyncClient,
) -> None:
    email, password = await new_resident(strict)
    auth = await bearer(strict, email, password)
    for _ in range(2):
        assert (await change(strict, auth, "not it at all, not at all")).status_code == 422
    assert (await change(strict, auth, password)).status_code == 204
    for _ in range(2):
        assert (await change(strict, auth, "not it at all, not at all")).status_code == 422
    # 4 wrong in the window, but only 2 since the success: still allowed.
    assert (await change(strict, auth, NEW_PASSWORD, "another long calm phrase")).status_code == 204


async def test_guesses_sent_at_once_are_counted_one_after_the_other(
    strict: httpx.AsyncClient,
) -> None:
    """Twenty wrong guesses at one account at the same moment, each from its own address:
    exactly the account's limit (3) of them are checked, the rest get 429."""
    email, _ = await new_resident(strict)
    answers = await asyncio.gather(
        *(
            password_login(strict, email, f"wrong guess {n} wrong wrong", address=fresh_address())
            for n in range(20)
        )
    )
    codes = sorted(a.status_code for a in answers)
    assert codes == [400] * 3 + [429] * 17


async def test_wrong_current_passwords_sent_at_once_are_counted_one_after_the_other(
    strict: httpx.AsyncClient,
) -> None:
    """Ten wrong current passwords on a password change at the same moment: exactly the
    change's limit (3) of them are checked, the rest get 429."""
    email, password = await new_resident(strict)
    auth = await bearer(strict, email, password)
    answers = await asyncio.gather(
        *(change(strict, auth, f"not it at all, guess {n}") for n in range(10))
    )
    assert sorted(a.status_code for a in answers) == [422] * 3 + [429] * 7
