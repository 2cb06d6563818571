"""create_app() for the identity service."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
from fastapi import FastAPI
from sqlalchemy.exc import SQLAlchemyError

from tellonce_identity.accounts.router import router as accounts_router
from tellonce_identity.audit.router import router as audit_router
from tellonce_identity.clients.router import router as clients_router
from tellonce_identity.config import Settings, get_settings
from tellonce_identity.db import Database
from tellonce_identity.keys.crypto import KeyDecryptionError
from tellonce_identity.keys.router import router as keys_router
from tellonce_identity.keys.service import Keyring
from tellonce_identity.models import Base
from tellonce_identity.passwords.hashing import Passwords
from tellonce_identity.seed import demo_accounts_present
from tellonce_identity.tokens import errors as token_errors
from tellonce_identity.tokens.router import router as tokens_router
from tellonce_shared.app import create_service_app
from tellonce_shared.auth import TokenVerifier
from tellonce_shared.db import ping, schema_missing
from tellonce_shared.health import NotReady
from tellonce_shared.migrations import SchemaCheck

SELF_URL = "http://identity.internal"
SERVICE_DIR = Path(__file__).resolve().parents[2]
STARTUP_WAIT_SECONDS = 30.0
"""How long production start-up waits for the database to answer its safety checks before
the process exits (under the Deployments' startup probe allowance of 60 s)."""
STARTUP_RETRY_SECONDS = 1.0

log = logging.getLogger("tellonce.identity")


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


class DemoAccountsRefused(RuntimeError):
    """Production mode found demo accounts that still have the demo password."""


class StartupChecks:
    """What production refuses to run with: a key-encryption key that does not open the
    signing keys, and demo accounts still on the demo password.

    At start-up (the lifespan) a database that does not answer is waited for, up to
    ``STARTUP_WAIT_SECONDS``, then the process exits non-zero (Kubernetes restarts the pod): a
    database down for a moment never skips the checks. A database not migrated yet (a
    missing table) lets the process start, and the checks then run with each /readyz until
    they pass: until then the pod is not ready and gets no traffic. A refusal found then
    keeps it not ready, naming the cause. Local mode checks once and lets a database error
    pass (``make run``)."""

    def __init__(
        self, settings: Settings, database: Database, keyring: Keyring, passwords: Passwords
    ) -> None:
        self.settings = settings
        self.database = database
        self.keyring = keyring
        self.passwords = passwords
        self.passed = settings.is_local

    async def run(self) -> None:
        """Raises the refusal (DemoAccountsRefused, KeyDecryptionError) or the database's
        error."""
        async with self.database.sessions() as session:
            await self.keyring.check_decryptable(session)
            if not self.settings.is_local:
                demo = await demo_accounts_present(session, self.passwords)
                if demo:
                    raise DemoAccountsRefused(
                        "production mode refuses to start while demo accounts keep the demo "
                        "password: " + ", ".join(demo)
                    )
        self.passed = True

    async def at_start(self) -> None:
        if self.settings.is_local:
            with contextlib.suppress(SQLAlchemyError):  # not migrated: /readyz says so
                await self.run()
            return
        deadline = time.monotonic() + STARTUP_WAIT_SECONDS
        while True:
            try:
                async with asyncio.timeout(max(deadline - time.monotonic(), 0.1)):
                    await self.run()
                return
            except SQLAlchemyError as exc:
                if schema_missing(exc):
                    log.warning(
                        "start-up checks wait for the migrations: not ready until they pass",
                        extra={"error": type(exc).__name__},
                    )
                    return
                failure: Exception = exc
            except TimeoutError as exc:
                failure = exc
            if time.monotonic() >= deadline:
                raise RuntimeError(
                    f"production mode refuses to start: the database did not answer the "
                    f"start-up checks within {STARTUP_WAIT_SECONDS} s "
                    f"({type(failure).__name__})"
                ) from failure
            log.warning(
                "start-up checks: the database does not answer; retrying",
                extra={"error": type(failure).__name__},
            )
            await asyncio.sleep(STARTUP_RETRY_SECONDS)

    async def readiness(self) -> None:
        if self.passed:
            return
        try:
            await self.run()
        except (DemoAccountsRefused, KeyDecryptionError) as exc:
            raise NotReady(str(exc)) from exc
        except SQLAlchemyError as exc:
            if schema_missing(exc):
                raise NotReady("not run yet: the database is not migrated") from exc
            raise


def create_app(settings: Settings | None = None, verifier: TokenVerifier | None = None) -> FastAPI:
    settings = settings or get_settings()
    database = Database.from_settings(settings)
    keyring = Keyring(settings)
    passwords = Passwords(settings)
    checks = StartupChecks(settings, database, keyring, passwords)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await checks.at_start()
        yield
        client: httpx.AsyncClient | None = getattr(app.state, "self_client", None)
        if client is not None:
            await client.aclose()
        await database.dispose()

    app = create_service_app(
        service="identity",
        settings=settings,
        routers=[keys_router, tokens_router, accounts_router, clients_router, audit_router],
        checks={
            "database": lambda: ping(database.engine),
            "migrations": SchemaCheck(SERVICE_DIR, database.engine, metadata=Base.metadata),
            "startup_checks": checks.readiness,
        },
        lifespan=lifespan,
        verifier=verifier,
    )
    token_errors.install(app)
    app.state.database = database
    app.state.keyring = keyring
    app.state.passwords = passwords
    app.state.startup_checks = checks
    if verifier is None:
        app.state.verifier = self_verifier(app, settings)
    return app
