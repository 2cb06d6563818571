"""create_app() for the submissions service."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from tellonce_shared.app import create_service_app
from tellonce_shared.auth import TokenVerifier
from tellonce_shared.db import ping
from tellonce_submissions.config import Settings, get_settings
from tellonce_submissions.db import Database


def create_app(settings: Settings | None = None, verifier: TokenVerifier | None = None) -> FastAPI:
    settings = settings or get_settings()
    database = Database(settings.database_url)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        await database.dispose()

    app = create_service_app(
        service="submissions",
        settings=settings,
        routers=[],
        checks={"database": lambda: ping(database.engine)},
        lifespan=lifespan,
        verifier=verifier,
    )
    app.state.database = database
    return app
