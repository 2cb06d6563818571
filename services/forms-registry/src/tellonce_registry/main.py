"""create_app() for the forms registry service."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from starlette.middleware import Middleware

from tellonce_registry.agencies.router import router as agencies_router
from tellonce_registry.agreements.router import router as agreements_router
from tellonce_registry.audit.router import router as audit_router
from tellonce_registry.config import Settings, get_settings
from tellonce_registry.db import Database
from tellonce_registry.elements.router import router as elements_router
from tellonce_registry.forms.cache import PublishedCache
from tellonce_registry.forms.fastpath import PublishedFastPath
from tellonce_registry.forms.router import router as forms_router
from tellonce_registry.models import Base
from tellonce_registry.referral_rules.router import router as referral_rules_router
from tellonce_shared.app import create_service_app
from tellonce_shared.auth import TokenVerifier
from tellonce_shared.db import ping
from tellonce_shared.migrations import SchemaCheck

log = logging.getLogger("tellonce.problems")
SERVICE_DIR = Path(__file__).resolve().parents[2]

ROUTERS = [
    agencies_router,
    elements_router,
    forms_router,
    agreements_router,
    audit_router,
    referral_rules_router,
]


def create_app(settings: Settings | None = None, verifier: TokenVerifier | None = None) -> FastAPI:
    settings = settings or get_settings()
    database = Database.from_settings(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        await database.dispose()

    app = create_service_app(
        service="registry",
        settings=settings,
        routers=ROUTERS,
        checks={
            "database": lambda: ping(database.engine),
            "migrations": SchemaCheck(SERVICE_DIR, database.engine, metadata=Base.metadata),
        },
        lifespan=lifespan,
        verifier=verifier,
    )
    app.state.database = database
    cache = PublishedCache(settings.published_cache_seconds, settings.published_cache_entries)
    app.state.published_cache = cache
    # innermost (inside request id, access log, metrics and body limit), before routing
    app.user_middleware.append(Middleware(PublishedFastPath, cache=cache))
    return app
