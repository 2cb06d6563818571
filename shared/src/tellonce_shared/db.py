"""Async SQLAlchemy 2.0 helpers: one engine per service, one session per request,
committed or rolled back by the dependency (never by a router)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from fastapi import Request
from sqlalchemy import MetaData, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from tellonce_shared.settings import ServiceSettings

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def new_metadata() -> MetaData:
    """The metadata of a service's own declarative ``Base`` (each service declares one,
    with this naming convention, so their migrations name constraints alike)."""
    return MetaData(naming_convention=NAMING_CONVENTION)


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def ensure_sqlite_dir(url: str) -> None:
    if is_sqlite(url):
        database = make_url(url).database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)


def create_engine(url: str, **kwargs: Any) -> AsyncEngine:
    ensure_sqlite_dir(url)
    if is_sqlite(url):
        engine = create_async_engine(url, connect_args={"timeout": 30}, **kwargs)

        @event.listens_for(engine.sync_engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        return engine
    # A fixed pool: a request waits for a free connection instead of opening one more (a new
    # PostgreSQL backend costs milliseconds of CPU; under load, overflow connections opened
    # and closed per request cost more than the work they carry).
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 0)
    kwargs.setdefault("pool_pre_ping", False)
    engine = create_async_engine(url, **kwargs)

    @event.listens_for(engine.sync_engine, "connect")
    def _utc(dbapi_conn: Any, _record: Any) -> None:
        # Every session in UTC, whatever the server's, database's or role's TimeZone (or a
        # PGTZ in the environment): timestamptz values are read back as UTC datetimes, so an
        # API answers in UTC whatever the server is set to. A SET, not a startup option: it
        # overrides every other source (PGTZ beats ``options``), and PgBouncer keeps
        # TimeZone per client. Committed, or the pool's reset would roll it back.
        cursor = dbapi_conn.cursor()
        cursor.execute("SET TIME ZONE 'UTC'")
        cursor.close()
        dbapi_conn.commit()

    return engine


class Database:
    """A service's engine and session factory, made once per process."""

    def __init__(
        self,
        url: str,
        *,
        pool_size: int = 10,
        pool_timeout: float = 10.0,
        pool_pre_ping: bool = False,
    ) -> None:
        self.url = url
        options: dict[str, Any] = {}
        if not is_sqlite(url):
            options = {
                "pool_size": pool_size,
                "pool_timeout": pool_timeout,
                "pool_pre_ping": pool_pre_ping,
            }
        self.engine: AsyncEngine = create_engine(url, **options)
        self.sessions: async_sessionmaker[AsyncSession] = session_factory(self.engine)

    @classmethod
    def from_settings(cls, settings: ServiceSettings) -> Database:
        return cls(
            settings.database_url,
            pool_size=settings.db_pool_size,
            pool_timeout=settings.db_pool_timeout_seconds,
            pool_pre_ping=settings.db_pool_pre_ping,
        )

    async def dispose(self) -> None:
        await self.engine.dispose()


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


def request_session(
    keep_changes_on: tuple[type[BaseException], ...] = (),
) -> Callable[[Request], AsyncIterator[AsyncSession]]:
    """A FastAPI dependency yielding one session per request from
    ``request.app.state.database.sessions``: committed when the route returns, rolled back
    when it raises, except for ``keep_changes_on`` errors, after which the writes made so far
    are committed (e.g. a failed login's counter). Declare it with
    ``Depends(..., scope="function")`` so the commit happens before the response is sent."""

    async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
        factory: async_sessionmaker[AsyncSession] = request.app.state.database.sessions
        async with factory() as session:
            try:
                yield session
                await session.commit()
            except keep_changes_on:
                await session.commit()
                raise
            except BaseException:
                await session.rollback()
                raise

    return get_session


UNDEFINED_TABLE = "42P01"
UNDEFINED_COLUMN = "42703"


def schema_missing(exc: BaseException) -> bool:
    """Whether a database error says a table or column does not exist (a database not
    migrated, or not as far as the code needs), rather than that it did not answer."""
    orig = getattr(exc, "orig", None)
    if getattr(orig, "sqlstate", None) in (UNDEFINED_TABLE, UNDEFINED_COLUMN):
        return True
    return "no such table" in str(orig) or "no such column" in str(orig)


async def ping(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        await conn.execute(text("SELECT 1"))
