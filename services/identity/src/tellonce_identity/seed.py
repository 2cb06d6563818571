"""Seeding and operator tasks run from the CLI: the portal client and a first signing key
(every mode), the demo accounts (local mode only), key rotation, a first admin."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from tellonce_identity.accounts import repository as accounts
from tellonce_identity.accounts.service import create_account
from tellonce_identity.audit.repository import record
from tellonce_identity.clients.service import ensure_portal
from tellonce_identity.config import Settings
from tellonce_identity.db import Database
from tellonce_identity.keys import repository as keys_repository
from tellonce_identity.keys.service import Keyring, utcnow
from tellonce_identity.models import KnownSignIn, LoginFailure, RefreshToken
from tellonce_identity.passwords.hashing import Passwords

DEMO_PASSWORD = "tell-once-demo-password"


@dataclass(frozen=True)
class DemoAccount:
    email: str
    full_name: str
    role: str
    agency: str | None


DEMO_ACCOUNTS = (
    DemoAccount("admin@demo.gov", "Ada Admin", "admin", None),
    DemoAccount("auditor@demo.gov", "Otto Auditor (OPM)", "auditor", "OPM"),
    DemoAccount("staff@dss.demo.gov", "Dana Staff (DSS)", "agency", "DSS"),
    DemoAccount("staff@dol.demo.gov", "Lee Staff (DOL)", "agency", "DOL"),
    DemoAccount("resident@demo.gov", "Rita Resident", "resident", None),
)


class RefusedInProduction(Exception):
    """Demo data is never written, nor accepted, in production mode."""


async def bootstrap(session: AsyncSession, keyring: Keyring) -> list[str]:
    """What every installation needs: the public client ``portal`` and a signing key."""
    done: list[str] = []
    if await ensure_portal(session):
        done.append("created the public client 'portal'")
    if await keys_repository.newest_active(session) is None:
        key = await keyring.signing_key(session)
        record(session, "key.create", actor="cli", subject=key.kid)
        done.append(f"created signing key {key.kid}")
    return done


async def seed_demo(session: AsyncSession, passwords: Passwords, settings: Settings) -> list[str]:
    if not settings.is_local:
        raise RefusedInProduction("production mode refuses to seed the demo accounts")
    done: list[str] = []
    for demo in DEMO_ACCOUNTS:
        if await accounts.by_email(session, demo.email) is not None:
            continue
        await create_account(
            session,
            passwords,
            email=demo.email,
            password=DEMO_PASSWORD,
            full_name=demo.full_name,
            role=demo.role,
            agency=demo.agency,
            actor="seed",
            address=None,
        )
        done.append(f"created {demo.role} {demo.email}")
    return done


async def demo_accounts_present(session: AsyncSession, passwords: Passwords) -> list[str]:
    """Demo accounts that still have the demo password (refused in production)."""
    found = []
    for demo in DEMO_ACCOUNTS:
        user = await accounts.by_email(session, demo.email)
        if user is not None and await passwords.verify_async(user.password_hash, DEMO_PASSWORD):
            found.append(demo.email)
    return found


async def run_seed(settings: Settings) -> list[str]:
    database = Database(settings.database_url)
    try:
        async with database.sessions() as session:
            done = await bootstrap(session, Keyring(settings))
            if settings.is_local:
                done += await seed_demo(session, Passwords(settings), settings)
            await session.commit()
        return done
    finally:
        await database.dispose()


async def run_rotate(
    settings: Settings, *, max_age: timedelta | None = None
) -> tuple[str, list[str]] | None:
    """Rotate now, or, with ``max_age``, only when the signing key is older than that (for a
    scheduled job); None when nothing was rotated."""
    database = Database(settings.database_url)
    try:
        async with database.sessions() as session:
            keyring = Keyring(settings)
            if max_age is not None:
                newest = await keys_repository.newest_active(session)
                if newest is not None and utcnow() - newest.created_at < max_age:
                    return None
            row, retired = await keyring.rotate(session)
            record(
                session,
                "key.rotate",
                actor="cli",
                subject=row.kid,
                detail={"retired": retired},
            )
            await session.commit()
        return row.kid, retired
    finally:
        await database.dispose()


async def run_list_keys(settings: Settings) -> list[dict[str, Any]]:
    """Every signing key, newest first: ``kid``, ``alg``, ``created_at``, ``state``
    (signing or retired), ``retired_at`` and ``published`` (still in the JWKS)."""
    database = Database(settings.database_url)
    keyring = Keyring(settings)
    try:
        async with database.sessions() as session:
            horizon = keyring.publish_horizon(utcnow())
            return [
                {
                    "kid": row.kid,
                    "alg": row.alg,
                    "created_at": row.created_at,
                    "state": "signing" if row.retired_at is None else "retired",
                    "retired_at": row.retired_at,
                    "published": row.retired_at is None or row.retired_at > horizon,
                }
                for row in await keys_repository.all_keys(session)
            ]
    finally:
        await database.dispose()


async def run_create_admin(settings: Settings, email: str, full_name: str, password: str) -> str:
    database = Database(settings.database_url)
    try:
        async with database.sessions() as session:
            user = await create_account(
                session,
                Passwords(settings),
                email=email.strip().lower(),
                password=password,
                full_name=full_name,
                role="admin",
                agency=None,
                actor="cli",
                address=None,
            )
            await session.commit()
            return user.id
    finally:
        await database.dispose()


async def run_prune(settings: Settings) -> dict[str, int]:
    """Delete what no longer matters: refresh tokens of sign-ins past their absolute
    lifetime, login failures outside the rate-limit window, and known callers (an address or
    /64 a resident signed in from) older than ``login_known_caller_days``, which no longer
    count and would otherwise stay for an account that never signs in again. The audit
    trail is kept."""
    now = utcnow()
    database = Database(settings.database_url)
    try:
        async with database.sessions() as session:
            tokens = await session.execute(
                delete(RefreshToken).where(RefreshToken.family_expires_at < now)
            )
            window = timedelta(seconds=settings.login_window_seconds)
            failures = await session.execute(
                delete(LoginFailure).where(LoginFailure.at < now - window)
            )
            known = timedelta(days=settings.login_known_caller_days)
            callers = await session.execute(
                delete(KnownSignIn).where(KnownSignIn.last_success_at <= now - known)
            )
            await session.commit()
        return {
            "refresh_tokens": int(getattr(tokens, "rowcount", 0)),
            "login_failures": int(getattr(failures, "rowcount", 0)),
            "known_sign_ins": int(getattr(callers, "rowcount", 0)),
        }
    finally:
        await database.dispose()


async def run_rewrap(settings: Settings) -> list[str]:
    database = Database(settings.database_url)
    try:
        async with database.sessions() as session:
            rewrapped = await Keyring(settings).rewrap(session)
            if rewrapped:
                record(session, "key.rewrap", actor="cli", detail={"kids": rewrapped})
            await session.commit()
        return rewrapped
    finally:
        await database.dispose()
