"""create_app() for the identity service."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI
from sqlalchemy.exc import SQLAlchemyError

from tellonce_identity.accounts.router import router as accounts_router
from tellonce_identity.audit.router import router as audit_router
from tellonce_identity.clients.router import router as clients_router
from tellonce_identity.config import Settings, get_settings
from tellonce_identity.db import Database
from tellonce_identity.keys.router import router as keys_router
from tellonce_identity.keys.service import Keyring
from tellonce_identity.passwords.hashing import Passwords
from tellonce_identity.seed import demo_accounts_present
from tellonce_identity.tokens import errors as token_errors
from tellonce_identity.tokens.router import router as tokens_router
from tellonce_shared.app import create_service_app
from tellonce_shared.auth import TokenVerifier
from tellonce_shared.db import ping

SELF_URL = "http://identity.internal"


def self_verifier(app: FastAPI, settings: Settings) -> TokenVerifier:
    """Identity checks tokens exactly as every other service does (TokenVerifier on the
    JWKS), reading its own JWKS in-process instead of over the network."""
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=SELF_URL)
    app.state.self_client = client
    return TokenVerifier(
        jwks_url=f"{SELF_URL}/.well-known/jwks.json",
        issuer=settings.issuer,
        audience=settings.audience,
        cache_seconds=settings.jwks_cache_seconds,
        min_refresh_seconds=0,  # an in-process read: a new kid is seen at once
        client=client,
        verified_cache_seconds=settings.token_cache_seconds,
    )


def create_app(settings: Settings | None = None, verifier: TokenVerifier | None = None) -> FastAPI:
    settings = settings or get_settings()
    database = Database.from_settings(settings)
    keyring = Keyring(settings)
    passwords = Passwords(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        try:
            async with database.sessions() as session:
                await keyring.check_decryptable(session)
                demo = [] if settings.is_local else await demo_accounts_present(session, passwords)
        except SQLAlchemyError:
            demo = []  # not migrated yet: /readyz reports the database
        if demo:
            raise RuntimeError(
                "production mode refuses to start while demo accounts keep the demo password: "
                + ", ".join(demo)
            )
        yield
        client: httpx.AsyncClient | None = getattr(app.state, "self_client", None)
        if client is not None:
            await client.aclose()
        await database.dispose()

    app = create_service_app(
        service="identity",
        settings=settings,
        routers=[keys_router, tokens_router, accounts_router, clients_router, audit_router],
        checks={"database": lambda: ping(database.engine)},
        lifespan=lifespan,
        verifier=verifier,
    )
    token_errors.install(app)
    app.state.database = database
    app.state.keyring = keyring
    app.state.passwords = passwords
    if verifier is None:
        app.state.verifier = self_verifier(app, settings)
    return app
