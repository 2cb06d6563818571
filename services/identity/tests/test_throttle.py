"""Login rate limiting per account from one address, per account and per address: a clear
429 with Retry-After, the same for unknown accounts, and a success forgiving the account's
earlier failures. One address guessing at an account locks only itself out of it, so a
stranger who knows a resident's email cannot lock the resident out. Wrong current passwords
on a password change are limited on their own and never lock the sign-in."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import String

from tellonce_identity.config import Settings
from tellonce_identity.main import create_app
from tellonce_identity.models import LoginFailure
from tellonce_identity.tokens import throttle

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


@pytest.fixture(scope="module")
async def paired(database_url: str, app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """Another instance with small limits: 3 failures at an account from one address, 6 at
    an account from everywhere, 20 from one address (out of the way here)."""
    paired_app: FastAPI = create_app(
        make_settings(
            database_url,
            login_max_failures_per_account_address=3,
            login_max_failures_per_account=6,
            login_max_failures_per_address=20,
            login_window_seconds=120,
        )
    )
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=paired_app), base_url="https://testserver"
    ) as http:
        yield http
    await close_app(paired_app)


WRONG = "wrong wrong wrong wrong"


def test_defaults_lock_an_address_out_of_an_account_early_and_everyone_late() -> None:
    settings = Settings()
    assert settings.login_max_failures_per_account_address == 10
    assert settings.login_max_failures_per_account == 100  # NIST SP 800-63B: at most 100
    assert settings.login_max_failures_per_address == 100


async def test_a_stranger_cannot_lock_a_resident_out(client: httpx.AsyncClient) -> None:
    """With the default settings: ten wrong passwords from the attacker's address lock that
    address out of the account, while the resident signs in from their own."""
    email, password = await new_resident(client)
    attacker = fresh_address()
    for _ in range(10):
        assert (await password_login(client, email, WRONG, address=attacker)).status_code == 400
    blocked = await password_login(client, email, password, address=attacker)
    assert blocked.status_code == 429  # even the right password, from that address
    assert 1 <= int(blocked.headers["retry-after"]) <= 900
    assert blocked.headers["content-type"] == "application/problem+json"
    assert blocked.json()["status"] == 429
    home = fresh_address()
    assert (await password_login(client, email, password, address=home)).status_code == 200
    # The resident's success does not forgive the attacker's address.
    assert (await password_login(client, email, WRONG, address=attacker)).status_code == 429
    # The attacker's address is locked out of that account only.
    own_email, own_password = await new_resident(client)
    own = await password_login(client, own_email, own_password, address=attacker)
    assert own.status_code == 200


async def test_the_account_wide_limit_still_stops_guesses_from_many_addresses(
    paired: httpx.AsyncClient,
) -> None:
    email, password = await new_resident(paired)
    for _ in range(3):  # 2 failures from each of 3 addresses: under 3 per address, 6 in all
        address = fresh_address()
        for _ in range(2):
            assert (await password_login(paired, email, WRONG, address=address)).status_code == 400
    blocked = await password_login(paired, email, password, address=fresh_address())
    assert blocked.status_code == 429
    assert 1 <= int(blocked.headers["retry-after"]) <= 120


async def _attack_from_one_address(client: httpx.AsyncClient, email: str) -> list[int]:
    """Four wrong passwords from one address, then one from another: the status codes."""
    address = fresh_address()
    answers = [await password_login(client, email, WRONG, address=address) for _ in range(4)]
    answers.append(await password_login(client, email, WRONG, address=fresh_address()))
    for answer in answers:
        if answer.status_code == 429:
            assert 1 <= int(answer.headers["retry-after"]) <= 120
    return [answer.status_code for answer in answers]


async def test_an_unknown_account_is_locked_per_address_like_a_known_one(
    paired: httpx.AsyncClient,
) -> None:
    known, _ = await new_resident(paired)
    ghost = f"ghost-{uuid.uuid4().hex[:8]}@example.org"
    assert await _attack_from_one_address(paired, known) == [400, 400, 400, 429, 400]
    assert await _attack_from_one_address(paired, ghost) == [400, 400, 400, 429, 400]


async def test_success_forgives_failures_from_that_address(paired: httpx.AsyncClient) -> None:
    email, password = await new_resident(paired)
    address = fresh_address()
    for _ in range(2):
        assert (await password_login(paired, email, WRONG, address=address)).status_code == 400
    assert (await password_login(paired, email, password, address=address)).status_code == 200
    for _ in range(2):
        assert (await password_login(paired, email, WRONG, address=address)).status_code == 400
    # 4 failures from this address in the window, but only 2 since the success.
    assert (await password_login(paired, email, password, address=address)).status_code == 200


async def test_guesses_from_one_address_sent_at_once_are_counted_one_after_the_other(
    paired: httpx.AsyncClient,
) -> None:
    """Twenty wrong guesses at one account from one address at the same moment: exactly the
    limit per account and address (3) of them are checked, the rest get 429."""
    email, _ = await new_resident(paired)
    address = fresh_address()
    answers = await asyncio.gather(
        *(
            password_login(paired, email, f"wrong guess {n} wrong wrong", address=address)
            for n in range(20)
        )
    )
    assert sorted(a.status_code for a in answers) == [400] * 3 + [429] * 17


async def test_one_address_has_one_count_however_it_is_written(paired: httpx.AsyncClient) -> None:
    """The address in the key is the canonical one, without an IPv6 zone: the spellings of
    one address share a count, and a zone as long as the sender likes is no 500."""
    email, _ = await new_resident(paired)
    n = uuid.uuid4().int % 0xFFFF
    spellings = [f"2001:db8::{n:x}", f"2001:DB8:0:0:0:0:0:{n:X}", f"2001:db8::{n:x}%" + "z" * 400]
    for spelling in spellings:
        assert (await password_login(paired, email, WRONG, address=spelling)).status_code == 400
    assert (await password_login(paired, email, WRONG, address=spellings[0])).status_code == 429


async def test_one_ipv6_network_of_64_has_one_count(paired: httpx.AsyncClient) -> None:
    """A subscriber holds a whole /64: rotating addresses inside it does not get past the
    count of the account from that address, while another /64 has a count of its own."""
    email, password = await new_resident(paired)
    n = uuid.uuid4().int % 0xFFFF
    for host in range(3):
        address = f"2001:db8:{n:x}:1::{host + 1:x}"
        assert (await password_login(paired, email, WRONG, address=address)).status_code == 400
    rotated = await password_login(paired, email, WRONG, address=f"2001:db8:{n:x}:1:ffff::9")
    assert rotated.status_code == 429
    elsewhere = await password_login(paired, email, password, address=f"2001:db8:{n:x}:2::1")
    assert elsewhere.status_code == 200


def test_who_an_address_stands_for() -> None:
    assert throttle.caller("203.0.113.9") == "203.0.113.9"
    assert throttle.caller("2001:db8:1:2:3:4:5:6") == "2001:db8:1:2::/64"
    assert throttle.caller("::ffff:203.0.113.9") == "203.0.113.9"
    assert throttle.caller("not-an-address") == "not-an-address"
    assert throttle.address_key("2001:db8:1:2::7") == "address:2001:db8:1:2::/64"


def test_a_key_of_an_account_and_address_fits_its_column() -> None:
    column = LoginFailure.__table__.c["key"]
    assert isinstance(column.type, String)
    assert column.type.length == throttle.KEY_LENGTH
    key = throttle.account_address_key(" " + "A" * 400 + "@Example.org ", "2001:db8::1")
    assert key.startswith("account-address:2001:db8::/64 aaaa")
    assert len(key) == throttle.KEY_LENGTH
    assert throttle.account_address_key("Resident@Example.org", "203.0.113.9") == (
        "account-address:203.0.113.9 resident@example.org"
    )


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
