"""Seeding (idempotent; demo accounts in local mode only) and what production refuses: the
demo key-encryption key, seeding demo accounts, and starting while they exist."""

from __future__ import annotations

import pytest
from pydantic import ValidationError
from sqlalchemy import func, select

from tellonce_identity.config import Settings
from tellonce_identity.db import Database
from tellonce_identity.keys.crypto import KeyDecryptionError
from tellonce_identity.main import create_app
from tellonce_identity.models import Client, User
from tellonce_identity.passwords.hashing import Passwords
from tellonce_identity.seed import DEMO_ACCOUNTS, RefusedInProduction, run_seed, seed_demo
from tellonce_shared.testing import migrated_database

from .conftest import ISSUER, SERVICE_DIR

REAL_KEK = "kek-7f3a9c2e1b5d4f608a9e3c7b2d1f0e4a"


def production(url: str, kek: str = REAL_KEK) -> Settings:
    return Settings(mode="production", database_url=url, issuer=ISSUER, key_encryption_key=kek)


async def count(url: str, stmt: object) -> int:
    database = Database(url)
    try:
        async with database.sessions() as session:
            return int((await session.execute(stmt)).scalar_one())  # type: ignore[call-overload]
    finally:
        await database.dispose()


async def test_seed_is_idempotent(settings: Settings, app: object) -> None:
    assert await run_seed(settings) == []
    emails = [d.email for d in DEMO_ACCOUNTS]
    n = await count(settings.database_url, select(func.count()).where(User.email.in_(emails)))
    assert n == 5


def test_production_refuses_the_demo_key_encryption_key() -> None:
    url = "postgresql+psycopg://postgres@127.0.0.1:5432/x"
    with pytest.raises(ValidationError, match="IDENTITY_KEY_ENCRYPTION_KEY"):
        Settings(mode="production", database_url=url)
    with pytest.raises(ValidationError, match="32 characters"):
        production(url, "kek-too-short")
    assert production(url).mode == "production"


async def test_production_seeds_no_demo_accounts_and_refuses_to_start_with_them() -> None:
    with migrated_database("identity_test", SERVICE_DIR) as url:
        prod = production(url)
        done = await run_seed(prod)
        assert any("portal" in line for line in done)
        assert await count(url, select(func.count()).select_from(User)) == 0
        assert await count(url, select(func.count()).where(Client.client_id == "portal")) == 1
        database = Database(url)
        try:
            async with database.sessions() as session:
                with pytest.raises(RefusedInProduction):
                    await seed_demo(session, Passwords(prod), prod)
        finally:
            await database.dispose()

        # The same database seeded in local mode, then started in production: refused.
        local = Settings(database_url=url, issuer=ISSUER, key_encryption_key=REAL_KEK)
        await run_seed(local)
        app = create_app(prod)
        with pytest.raises(RuntimeError, match="demo accounts"):
            async with app.router.lifespan_context(app):
                pass
        await app.state.self_client.aclose()
        await app.state.database.dispose()

        # And a wrong key-encryption key stops the start-up loudly.
        wrong = create_app(production(url, "kek-another-one-0000000000000000"))
        with pytest.raises(KeyDecryptionError):
            async with wrong.router.lifespan_context(wrong):
                pass
        await wrong.state.self_client.aclose()
        await wrong.state.database.dispose()
