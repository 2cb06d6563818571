"""The service's engine and session factory, made once per process."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from tellonce_shared.db import create_engine, session_factory


class Database:
    def __init__(self, url: str, **engine_options: Any) -> None:
        """``engine_options`` go to SQLAlchemy (e.g. ``pool_pre_ping=False``)."""
        self.url = url
        self.engine: AsyncEngine = create_engine(url, **engine_options)
        self.sessions: async_sessionmaker[AsyncSession] = session_factory(self.engine)

    async def dispose(self) -> None:
        await self.engine.dispose()
