"""Login rate limiting, kept in the database so that every replica of the service sees the
same counts. A failed sign-in counts against three keys: the account from that address
(strict: one address guessing at one account is stopped early, and only that address is
locked out of that account), the account from anywhere (far higher: it caps guessing spread
over many addresses without letting one address lock the owner out) and the address (caps
one address spraying many accounts). The account-wide limit does not lock out a known
caller of the account: one from which the account signed in within
``login_known_caller_days``, so an attacker holding many addresses cannot lock the owner out
of the places they sign in from. Unknown accounts are counted like known ones and never
have known callers, so a 429 says nothing about whether an account exists. Wrong current
passwords on a password change have a count of their own (per user), apart from the sign-in
counts."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, func, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from tellonce_identity.config import Settings
from tellonce_identity.models import KnownSignIn, LoginFailure, User
from tellonce_shared.addresses import caller as caller  # the rule identity counts by

# ``caller``: who an address stands for in the counts (an IPv4 address, an IPv6 /64), the
# gateway's rule too. A subscriber usually holds more than one /64 (RFC 6177 recommends a /48
# to /56 per site; ISPs delegate a /56 or /60), so a home can still count as up to 256
# callers: the account-wide limit caps what that buys, and known callers
# (:func:`is_known_caller`) keep it from locking the owner out.

KEY_LENGTH = 300
"""The length of ``login_failures.key``: a longer key would fail the insert."""
CALLER_LENGTH = 64
"""The length of ``known_sign_ins.caller`` (an IPv6 /64 takes at most 24 characters)."""


def _email(email: str) -> str:
    return email.strip().lower()[:280]


def account_key(email: str) -> str:
    return f"account:{_email(email)}"


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


def forgiven_on_sign_in(keys: list[str], *, known_caller: bool = False) -> list[str]:
    """The keys a successful sign-in clears: the account's and the account-from-address's
    failures (not the address's, which may be guessing at other accounts). A known caller let
    past the account-wide limit (``known_caller``) clears only its own count of the account:
    the account's failures came from elsewhere, and clearing them would give whoever spread
    them another full account-wide budget each time the owner signs in."""
    kept = ("address:", "account:") if known_caller else ("address:",)
    return [key for key in keys if not key.startswith(kept)]


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


async def _waits(session: AsyncSession, settings: Settings, keys: list[str]) -> dict[str, int]:
    """The keys at their limit, each with the seconds until its oldest failure in the
    window leaves it."""
    now = datetime.now(UTC)
    window = timedelta(seconds=settings.login_window_seconds)
    stmt = (
        select(LoginFailure.key, func.count(), func.min(LoginFailure.at))
        .where(LoginFailure.key.in_(keys), LoginFailure.at > now - window)
        .group_by(LoginFailure.key)
    )
    limits = _limits(settings, keys)
    waits: dict[str, int] = {}
    for key, count, oldest in (await session.execute(stmt)).all():
        if count >= limits[key]:
            oldest_at = oldest if oldest.tzinfo else oldest.replace(tzinfo=UTC)
            waits[key] = max(1, math.ceil((oldest_at + window - now).total_seconds()))
    return waits


async def retry_after(session: AsyncSession, settings: Settings, keys: list[str]) -> int | None:
    """Seconds to wait when any key has reached its limit, else None."""
    return max((await _waits(session, settings, keys)).values(), default=None)


def _known_since(settings: Settings) -> datetime:
    return datetime.now(UTC) - timedelta(days=settings.login_known_caller_days)


def known_caller(address: str) -> str:
    """The caller an address stands for, as ``known_sign_ins.caller`` keeps it."""
    return caller(address)[:CALLER_LENGTH]


async def is_known_caller(
    session: AsyncSession, settings: Settings, email: str, address: str | None
) -> bool:
    """Whether the account of this email signed in (or refreshed a sign-in) from the
    address's caller within ``login_known_caller_days``. Never for an unknown account (it has
    no sign-ins), so this says nothing about whether an account exists to anyone but a
    caller that has signed in to it."""
    if not address:
        return False
    stmt = (
        select(KnownSignIn.id)
        .join(User, User.id == KnownSignIn.user_id)
        .where(
            User.email == _email(email),
            KnownSignIn.caller == known_caller(address),
            KnownSignIn.last_success_at > _known_since(settings),
        )
        .limit(1)
    )
    return (await session.execute(stmt)).first() is not None


async def sign_in_retry_after(
    session: AsyncSession, settings: Settings, email: str, address: str | None
) -> tuple[int | None, bool]:
    """Seconds to wait before this sign-in attempt may be checked (None: check it now), and
    whether it is checked only because the caller is known to the account, the
    account-wide count being at its limit. A known caller is held to the account from that
    address and the address counts alone; the known-caller lookup runs only when the
    account-wide count is at its limit, for unknown accounts as for known ones."""
    keys = sign_in_keys(email, address)
    waits = await _waits(session, settings, keys)
    account = account_key(email)
    passed = account in waits and await is_known_caller(session, settings, email, address)
    if passed:
        del waits[account]
    return max(waits.values(), default=None), passed


async def remember_caller(
    session: AsyncSession, settings: Settings, user_id: str, address: str | None
) -> None:
    """Note that the user signed in (or refreshed a sign-in) from the address's caller now.
    One row per user and caller, its time moved on (an upsert, so two successes at once do
    not collide)."""
    if not address:
        return
    values = {
        "user_id": user_id,
        "caller": known_caller(address),
        "last_success_at": datetime.now(UTC),
    }
    index = [KnownSignIn.user_id, KnownSignIn.caller]
    if session.get_bind().dialect.name == "postgresql":
        pg = postgresql.insert(KnownSignIn).values(values)
        await session.execute(
            pg.on_conflict_do_update(
                index_elements=index, set_={"last_success_at": pg.excluded.last_success_at}
            )
        )
    else:
        lite = sqlite.insert(KnownSignIn).values(values)
        await session.execute(
            lite.on_conflict_do_update(
                index_elements=index, set_={"last_success_at": lite.excluded.last_success_at}
            )
        )


async def forget_stale_callers(session: AsyncSession, settings: Settings, user_id: str) -> None:
    """Delete the user's known callers older than ``login_known_caller_days`` (they no
    longer count; done at each sign-in, under the account's turn, so the table keeps only
    what is in use)."""
    await session.execute(
        delete(KnownSignIn).where(
            KnownSignIn.user_id == user_id, KnownSignIn.last_success_at <= _known_since(settings)
        )
    )


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
