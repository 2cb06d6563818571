"""create_app() for the submissions service."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
from fastapi import FastAPI

from tellonce_shared.app import create_service_app
from tellonce_shared.auth import TokenVerifier
from tellonce_shared.db import is_sqlite, ping
from tellonce_shared.http import service_client
from tellonce_shared.migrations import SchemaCheck
from tellonce_submissions.config import Settings, get_settings
from tellonce_submissions.context import system_clock
from tellonce_submissions.crypto import AnswerSealer
from tellonce_submissions.db import Database
from tellonce_submissions.deliveries.router import router as deliveries_router
from tellonce_submissions.drafts.router import router as drafts_router
from tellonce_submissions.models import Base
from tellonce_submissions.performance.catalog import CatalogClient
from tellonce_submissions.performance.router import router as performance_router
from tellonce_submissions.profile.router import router as profile_router
from tellonce_submissions.receipts.render import ReceiptRenderer
from tellonce_submissions.referrals.router import router as referrals_router
from tellonce_submissions.registry.client import RegistryClient
from tellonce_submissions.retention import retention_loop
from tellonce_submissions.submissions.group_commit import GroupWriter
from tellonce_submissions.submissions.router import router as submissions_router

log = logging.getLogger("tellonce.problems")
SERVICE_DIR = Path(__file__).resolve().parents[2]


def create_app(
    settings: Settings | None = None,
    verifier: TokenVerifier | None = None,
    *,
    registry_transport: httpx.AsyncBaseTransport | None = None,
) -> FastAPI:
    """``registry_transport`` lets tests answer the registry's calls in-process."""
    settings = settings or get_settings()
    database = Database.from_settings(settings)
    registry = RegistryClient(
        service_client(
            settings.registry_url,
            timeout=settings.registry_timeout_seconds,
            **({"transport": registry_transport} if registry_transport else {}),
        ),
        status_ttl=settings.version_status_cache_seconds,
        agreements_ttl=settings.agreements_cache_seconds,
    )
    receipts = ReceiptRenderer(workers=settings.receipt_workers)
    # performance management and referrals (issue 11): forms' priorities and referral rules
    catalog = CatalogClient(
        service_client(
            settings.registry_url,
            timeout=settings.registry_timeout_seconds,
            **({"transport": registry_transport} if registry_transport else {}),
        ),
        ttl=settings.catalog_cache_seconds,
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # the receipt workers start and load WeasyPrint in the background: readiness does
        # not wait for them, and the first receipt no longer pays their start (15-36 s)
        receipts.warm()
        async with retention_loop(database, settings, app.state.clock):
            yield
        receipts.close()
        await registry.aclose()
        await catalog.aclose()
        await database.dispose()

    app = create_service_app(
        service="submissions",
        settings=settings,
        routers=[
            submissions_router,
            drafts_router,
            profile_router,
            deliveries_router,
            performance_router,
            referrals_router,
        ],
        checks={
            "database": lambda: ping(database.engine),
            "migrations": SchemaCheck(SERVICE_DIR, database.engine, metadata=Base.metadata),
        },
        lifespan=lifespan,
        verifier=verifier,
    )
    app.state.database = database
    # group commit of submissions (PostgreSQL; SQLite writes in the request's transaction)
    app.state.writer = None if is_sqlite(database.url) else GroupWriter(database.engine)
    app.state.registry = registry
    app.state.catalog = catalog
    app.state.sealer = AnswerSealer(settings.answer_keys.get_secret_value())
    app.state.clock = system_clock
    app.state.receipts = receipts
    return app
