"""Login rate limiting, kept in the database so that every replica of the service sees the
same counts. A failed sign-in counts against three keys: the account from that address
(strict: one address guessing at one account is stopped early, and only that address is
locked out of that account), the account from anywhere (far higher: it caps guessing spread
over many addresses without letting one address lock the owner out) and the address (caps
one address spraying many accounts). Unknown accounts are counted like known ones, so a 429
says nothing about whether an account exists. Wrong current passwords on a password change
have a count of their own (per user), apart from the sign-in counts."""

from __future__ import annotations

import ipaddress
import math
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from tellonce_identity.config import Settings
from tellonce_identity.models import LoginFailure

KEY_LENGTH = 300
"""The length of ``login_failures.key``: a longer key would fail the insert."""


def _email(email: str) -> str:
    return email.strip().lower()[:280]


def account_key(email: str) -> str:
    return f"account:{_email(email)}"


def caller(address: str) -> str:
    """Who an address stands for in the counts: an IPv4 address itself, an IPv6 address its
    /64 network. One IPv6 subscriber is usually given a whole /64 (RFC 6177), so counting
    single IPv6 addresses would let one caller rotate through 2^64 of them; counting the /64
    keeps one count per subscriber, as one IPv4 address is. Not an address: kept as given."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        mapped = ip.ipv4_mapped
        if mapped is not None:
            return str(mapped)
        return str(ipaddress.IPv6Network((int(ip) >> 64 << 64, 64)))
    return str(ip)


def address_key(address: str) -> str:
    return f"address:{caller(address)}"[:KEY_LENGTH]


def account_address_key(email: str, address: str) -> str:
    """Failed sign-ins at one account from one address. The address comes first (it has no
    space), so the key reads back unambiguously; cut to the column's length, which only
    makes emails of over 200 characters from one address share a count."""
    return f"account-address:{caller(address)} {_email(email)}"[:KEY_LENGTH]


def password_change_key(user_id: str) -> str:
    """Failed password changes of one signed-in user: never counted toward sign-in."""
    return f"password-change:{user_id}"


def _limit(settings: Settings, key: str) -> int:
    kind = key.partition(":")[0]
    if kind == "account":
        return settings.login_max_failures_per_account
    if kind == "account-address":
        return settings.login_max_failures_per_account_address
    if kind == "address":
        return settings.login_max_failures_per_address
    if kind == "password-change":
        return settings.password_change_max_failures
    raise ValueError(f"not a rate-limit key: {key!r}")


def _limits(settings: Settings, keys: list[str]) -> dict[str, int]:
    return {key: _limit(settings, key) for key in keys}


def sign_in_keys(email: str, address: str | None) -> list[str]:
    """The keys a sign-in attempt counts against: the account, and, when the caller's
    address is known, the account from that address and the address."""
    keys = [account_key(email)]
    if address:
        keys += [account_address_key(email, address), address_key(address)]
    return keys


def forgiven_on_sign_in(keys: list[str]) -> list[str]:
    """The keys a successful sign-in clears: the account's and the account-from-address's
    failures (not the address's, which may be guessing at other accounts)."""
    return [key for key in keys if not key.startswith("address:")]


async def serialize(session: AsyncSession, keys: list[str]) -> None:
    """Take the keys' turn until the transaction ends, so attempts on one account (or from
    one address, or on one account from one address) running at once are counted one after
    the other: without it, guesses sent in parallel all read the count before any failure
    is written, and more of them are checked than the limit allows. PostgreSQL's
    transaction-level advisory locks, in a fixed order (no deadlock between two attempts
    sharing keys); nothing on SQLite, which is for local use only."""
    if session.get_bind().dialect.name != "postgresql":
        return
    for key in sorted(keys):
        await session.execute(
            text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"), {"key": key}
        )


async def retry_after(session: AsyncSession, settings: Settings, keys: list[str]) -> int | None:
    """Seconds to wait when any key has reached its limit, else None."""
    now = datetime.now(UTC)
    window = timedelta(seconds=settings.login_window_seconds)
    stmt = (
        select(LoginFailure.key, func.count(), func.min(LoginFailure.at))
        .where(LoginFailure.key.in_(keys), LoginFailure.at > now - window)
        .group_by(LoginFailure.key)
    )
    limits = _limits(settings, keys)
    wait: int | None = None
    for key, count, oldest in (await session.execute(stmt)).all():
        if count >= limits[key]:
            oldest_at = oldest if oldest.tzinfo else oldest.replace(tzinfo=UTC)
            seconds = max(1, math.ceil((oldest_at + window - now).total_seconds()))
            wait = max(wait or 0, seconds)
    return wait


async def record_failure(session: AsyncSession, settings: Settings, keys: list[str]) -> None:
    now = datetime.now(UTC)
    horizon = now - timedelta(seconds=settings.login_window_seconds)
    await session.execute(
        delete(LoginFailure).where(LoginFailure.key.in_(keys), LoginFailure.at <= horizon)
    )
    session.add_all([LoginFailure(key=key, at=now) for key in keys])


async def clear(session: AsyncSession, keys: list[str]) -> None:
    """A success forgives these keys' earlier failures: a sign-in the account's and the
    account-from-address's (see :func:`forgiven_on_sign_in`), a password change the user's
    failed changes."""
    await session.execute(delete(LoginFailure).where(LoginFailure.key.in_(keys)))
