"""Known callers: an account's failures spread over many addresses (one home's /60 of IPv6
/64 networks is enough) reach the account-wide limit, yet the owner still signs in from an
address (an IPv6 address's /64) they signed in from in the last
IDENTITY_LOGIN_KNOWN_CALLER_DAYS. Everyone else still gets 429 at that limit, a known caller
is still held to its own two limits, an unknown account (which never has known callers) is
locked exactly like a known one, and known callers expire."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select, update

from tellonce_identity.config import Settings
from tellonce_identity.main import create_app
from tellonce_identity.models import AuditEvent, KnownSignIn, User
from tellonce_identity.seed import run_seed
from tellonce_identity.tokens import throttle
from tellonce_shared.migrations import upgrade

from .conftest import (
    SERVICE_DIR,
    TOKEN_URL,
    close_app,
    fresh_address,
    make_settings,
    new_resident,
    password_login,
)

WRONG = "wrong wrong wrong wrong"


@pytest.fixture(scope="module")
async def small_app(database_url: str, app: FastAPI) -> AsyncIterator[FastAPI]:
    """An instance with small limits (`app` seeds the portal): 3 failures at an account from
    one address, 6 at an account from everywhere, 5 from one address; the default 30 days
    for a known caller."""
    instance: FastAPI = create_app(
        make_settings(
            database_url,
            login_max_failures_per_account_address=3,
            login_max_failures_per_account=6,
            login_max_failures_per_address=5,
            login_window_seconds=120,
        )
    )
    yield instance
    await close_app(instance)


@pytest.fixture(scope="module")
async def small(small_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=small_app), base_url="https://testserver"
    ) as http:
        yield http


def _hextet() -> int:
    return uuid.uuid4().int % 0xFFFF


async def _reach_account_limit(small: httpx.AsyncClient, email: str) -> None:
    """Six failures from two fresh addresses (3 each): the account-wide limit of 6."""
    for _ in range(2):
        address = fresh_address()
        for _ in range(3):
            assert (await password_login(small, email, WRONG, address=address)).status_code == 400


async def _known_rows(app: FastAPI, email: str) -> dict[str, datetime]:
    async with app.state.database.sessions() as session:
        rows = await session.execute(
            select(KnownSignIn.caller, KnownSignIn.last_success_at)
            .join(User, User.id == KnownSignIn.user_id)
            .where(User.email == email)
        )
        return {caller: at for caller, at in rows.all()}


async def _age(app: FastAPI, email: str, caller: str, days: float) -> None:
    """Move the user's last success from this caller back by ``days``."""
    async with app.state.database.sessions() as session:
        user_id = (await session.execute(select(User.id).where(User.email == email))).scalar_one()
        result = await session.execute(
            update(KnownSignIn)
            .where(KnownSignIn.user_id == user_id, KnownSignIn.caller == caller)
            .values(last_success_at=datetime.now(UTC) - timedelta(days=days))
        )
        await session.commit()
    assert result.rowcount == 1


def test_known_callers_are_remembered_for_30_days_by_default() -> None:
    assert Settings().login_known_caller_days == 30
    with pytest.raises(ValueError):
        Settings(login_known_caller_days=0)


def test_a_known_caller_is_the_rate_limits_caller() -> None:
    assert throttle.known_caller("2001:db8:1:2:aaaa::7") == "2001:db8:1:2::/64"
    assert throttle.known_caller("::ffff:203.0.113.9") == "203.0.113.9"
    assert len(throttle.known_caller("x" * 400)) == throttle.CALLER_LENGTH
    assert KnownSignIn.__table__.c["caller"].type.length == throttle.CALLER_LENGTH  # type: ignore[attr-defined]


def test_a_known_caller_past_the_account_limit_clears_only_its_own_count() -> None:
    keys = throttle.sign_in_keys("r@example.org", "203.0.113.9")
    assert throttle.forgiven_on_sign_in(keys) == [
        "account:r@example.org",
        "account-address:203.0.113.9 r@example.org",
    ]
    assert throttle.forgiven_on_sign_in(keys, known_caller=True) == [
        "account-address:203.0.113.9 r@example.org"
    ]


async def test_one_home_s_60_no_longer_locks_the_resident_out_of_their_own_address(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    """The reviewer's scenario, default settings: ten /64s inside one /60 send ten wrong
    passwords each (100, the account-wide limit). The resident signed in from their home
    /64 before and signs in from it again (from another address of it: privacy addresses
    rotate); a caller that never signed in gets 429, before and after."""
    email, password = await new_resident(client)
    home = f"2001:db8:{_hextet():x}:{_hextet():x}"
    assert (await password_login(client, email, password, address=f"{home}::77")).status_code == 200

    prefix, base = f"2001:db8:{_hextet():x}", uuid.uuid4().int % 0xFFF
    for net in range(10):
        for host in range(10):
            attacker = f"{prefix}:{(base << 4) | net:x}::{host + 1:x}"
            answer = await password_login(client, email, WRONG, address=attacker)
            assert answer.status_code == 400

    stranger = await password_login(client, email, password, address=fresh_address())
    assert stranger.status_code == 429
    assert 1 <= int(stranger.headers["retry-after"]) <= 900
    back_home = await password_login(client, email, password, address=f"{home}:1234::5")
    assert back_home.status_code == 200, back_home.text
    # The resident's success through the exemption leaves the account's count at its limit.
    assert (
        await password_login(client, email, password, address=fresh_address())
    ).status_code == 429
    # The attacker's own /64s stay locked out of the account, even with the right password.
    attacker = f"{prefix}:{(base << 4) | 3:x}::99"
    assert (await password_login(client, email, password, address=attacker)).status_code == 429

    async with app.state.database.sessions() as session:
        detail = (
            await session.execute(
                select(AuditEvent.detail)
                .where(AuditEvent.action == "login", AuditEvent.subject == email)
                .where(AuditEvent.outcome == "success")
                .order_by(AuditEvent.id.desc())
                .limit(1)
            )
        ).scalar_one()
    assert detail["known_caller_past_account_limit"] is True


async def test_an_unknown_caller_is_still_locked_out_at_the_account_limit(
    small: httpx.AsyncClient,
) -> None:
    email, password = await new_resident(small)
    home = fresh_address()
    assert (await password_login(small, email, password, address=home)).status_code == 200
    await _reach_account_limit(small, email)
    for _ in range(3):  # fresh callers, each with its own count of 0 at this account
        blocked = await password_login(small, email, password, address=fresh_address())
        assert blocked.status_code == 429
        assert 1 <= int(blocked.headers["retry-after"]) <= 120
    assert (await password_login(small, email, password, address=home)).status_code == 200


async def test_a_known_caller_is_held_to_its_count_at_the_account(
    small: httpx.AsyncClient,
) -> None:
    email, password = await new_resident(small)
    home = fresh_address()
    assert (await password_login(small, email, password, address=home)).status_code == 200
    await _reach_account_limit(small, email)
    for _ in range(3):
        assert (await password_login(small, email, WRONG, address=home)).status_code == 400
    blocked = await password_login(small, email, password, address=home)
    assert blocked.status_code == 429
    assert 1 <= int(blocked.headers["retry-after"]) <= 120


async def test_a_known_caller_is_held_to_its_own_count(small: httpx.AsyncClient) -> None:
    email, password = await new_resident(small)
    home = fresh_address()
    assert (await password_login(small, email, password, address=home)).status_code == 200
    await _reach_account_limit(small, email)
    for _ in range(5):  # the address's limit, spent on other accounts
        ghost = f"ghost-{uuid.uuid4().hex[:8]}@example.org"
        assert (await password_login(small, ghost, WRONG, address=home)).status_code == 400
    blocked = await password_login(small, email, password, address=home)
    assert blocked.status_code == 429
    assert 1 <= int(blocked.headers["retry-after"]) <= 120


async def test_unknown_accounts_are_indistinguishable(small: httpx.AsyncClient) -> None:
    """A known account, another that never signed in from here, and one that does not exist,
    all at the account-wide limit: a stranger gets the same 429 for each, and so does the
    caller known to the first account for the other two."""
    known, password = await new_resident(small)
    other, other_password = await new_resident(small)
    ghost = f"ghost-{uuid.uuid4().hex[:8]}@example.org"
    home = fresh_address()
    assert (await password_login(small, known, password, address=home)).status_code == 200
    assert (await password_login(small, other, other_password)).status_code == 200  # elsewhere
    for email in (known, other, ghost):
        await _reach_account_limit(small, email)

    def shape(answer: httpx.Response) -> tuple[object, ...]:
        assert 1 <= int(answer.headers["retry-after"]) <= 120
        body = {k: v for k, v in answer.json().items() if k not in ("instance", "request_id")}
        return answer.status_code, answer.headers["content-type"], sorted(body.items())

    stranger = fresh_address()
    answers = [
        shape(await password_login(small, email, WRONG, address=stranger))
        for email in (known, other, ghost)
    ]
    assert answers[0][0] == 429
    assert answers[0] == answers[1] == answers[2]
    from_home = [
        shape(await password_login(small, email, WRONG, address=home)) for email in (other, ghost)
    ]
    assert from_home == [answers[0], answers[0]]
    assert (await password_login(small, known, WRONG, address=home)).status_code == 400


async def test_known_callers_expire(small: httpx.AsyncClient, small_app: FastAPI) -> None:
    """A caller last known 31 days ago is a stranger at the limit (29 days: still known),
    and the account's next sign-in deletes the expired row."""
    email, password = await new_resident(small)
    lapsed, recent = fresh_address(), fresh_address()
    for address in (lapsed, recent):
        assert (await password_login(small, email, password, address=address)).status_code == 200
    await _age(small_app, email, lapsed, days=31)
    await _age(small_app, email, recent, days=29)
    await _reach_account_limit(small, email)
    assert (await password_login(small, email, password, address=lapsed)).status_code == 429
    assert (await password_login(small, email, password, address=recent)).status_code == 200
    assert set(await _known_rows(small_app, email)) == {recent}


async def test_a_sign_in_elsewhere_deletes_expired_callers(
    small: httpx.AsyncClient, small_app: FastAPI
) -> None:
    email, password = await new_resident(small)
    lapsed, today = fresh_address(), fresh_address()
    assert (await password_login(small, email, password, address=lapsed)).status_code == 200
    await _age(small_app, email, lapsed, days=31)
    assert set(await _known_rows(small_app, email)) == {lapsed}
    assert (await password_login(small, email, password, address=today)).status_code == 200
    assert set(await _known_rows(small_app, email)) == {today}


async def test_a_refreshed_sign_in_makes_its_caller_known(
    small: httpx.AsyncClient, small_app: FastAPI
) -> None:
    """A phone that stays signed in (refresh tokens, up to 30 days) proves itself on each
    refresh: its caller is known when it must sign in again."""
    email, password = await new_resident(small)
    first = await password_login(small, email, password, address=fresh_address())
    assert first.status_code == 200
    phone = f"2001:db8:{_hextet():x}:{_hextet():x}"
    refreshed = await small.post(
        TOKEN_URL,
        data={
            "grant_type": "refresh_token",
            "client_id": "portal",
            "refresh_token": first.json()["refresh_token"],
        },
        headers={"X-Forwarded-For": f"{phone}::1"},
    )
    assert refreshed.status_code == 200, refreshed.text
    before = (await _known_rows(small_app, email))[f"{phone}::/64"]
    await _reach_account_limit(small, email)
    assert (
        await password_login(small, email, password, address=fresh_address())
    ).status_code == 429
    assert (await password_login(small, email, password, address=f"{phone}::2")).status_code == 200
    assert (await _known_rows(small_app, email))[f"{phone}::/64"] > before


async def test_a_second_sign_in_from_a_caller_moves_its_time_on_sqlite(tmp_path: Path) -> None:
    """The upsert has a form per backend: SQLite (local use) keeps one row per caller too."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'identity.db'}"
    upgrade(SERVICE_DIR, url)
    settings = make_settings(url)
    await run_seed(settings)
    local = create_app(settings)
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=local), base_url="https://testserver"
        ) as http:
            email, password = await new_resident(http)
            home = fresh_address()
            assert (await password_login(http, email, password, address=home)).status_code == 200
            first = (await _known_rows(local, email))[home]
            assert (await password_login(http, email, password, address=home)).status_code == 200
            rows = await _known_rows(local, email)
        assert list(rows) == [home]
        assert rows[home] > first
    finally:
        await close_app(local)
