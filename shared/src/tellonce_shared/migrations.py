"""Alembic helpers: every service's ``migrations/env.py`` calls :func:`run_env`, and
``upgrade`` runs ``alembic upgrade head`` from code (start-up, seeds and tests).

Migrations run on a synchronous engine (psycopg 3 and sqlite3 both have one), so they can be
called from a thread while an event loop runs elsewhere."""

from __future__ import annotations

import time
from pathlib import Path

from alembic import command, context
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, MetaData, create_engine, inspect, pool, text
from sqlalchemy.ext.asyncio import AsyncEngine

from tellonce_shared.db import ensure_sqlite_dir
from tellonce_shared.health import NotReady

MIGRATION_LOCK = 7_415_020_261_126
"""The PostgreSQL advisory lock key a migration run holds (per database)."""
LOCK_POLL_SECONDS = 0.2
VERSION_TABLE = "alembic_version"


def sync_url(url: str) -> str:
    """The synchronous twin of an async database URL."""
    return url.replace("sqlite+aiosqlite", "sqlite").replace(
        "postgresql+asyncpg", "postgresql+psycopg"
    )


def run_env(metadata: MetaData, default_url: str) -> None:
    """Body of a service's ``env.py``."""
    config = context.config
    url = config.attributes.get("database_url") or config.get_main_option("sqlalchemy.url")
    url = sync_url(url or default_url)
    ensure_sqlite_dir(url)
    batch = url.startswith("sqlite")
    if context.is_offline_mode():
        context.configure(
            url=url, target_metadata=metadata, literal_binds=True, render_as_batch=batch
        )
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = create_engine(url, poolclass=pool.NullPool)
    with engine.connect() as connection:
        if connection.dialect.name == "postgresql":
            # One runner at a time per database (a Job retried while its first pod still
            # runs, two replicas migrating at start-up): the second waits, then finds the
            # work done. A session lock, so it outlasts the commits of a migration that
            # builds an index CONCURRENTLY; it ends with the connection. Tried, not waited
            # for: a runner waiting inside a statement holds a snapshot, which a concurrent
            # index build of the other runner would wait for in turn (a deadlock).
            lock = text("SELECT pg_try_advisory_lock(:key)")
            while not connection.execute(lock, {"key": MIGRATION_LOCK}).scalar():
                connection.commit()
                time.sleep(LOCK_POLL_SECONDS)
            connection.commit()
        context.configure(
            connection=connection,
            target_metadata=metadata,
            render_as_batch=batch,
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


def alembic_config(service_dir: Path, url: str) -> Config:
    cfg = Config(str(service_dir / "alembic.ini"))
    cfg.set_main_option("script_location", str(service_dir / "migrations"))
    cfg.attributes["database_url"] = url
    return cfg


def upgrade(service_dir: Path, url: str, revision: str = "head") -> str:
    """Upgrade to ``revision``; the database's revision afterwards (heads comma-separated)."""
    command.upgrade(alembic_config(service_dir, url), revision)
    engine = create_engine(sync_url(url), poolclass=pool.NullPool)
    try:
        with engine.connect() as connection:
            return ",".join(sorted(_current_heads(connection)))
    finally:
        engine.dispose()


def _current_heads(connection: Connection) -> frozenset[str]:
    """The database's alembic revisions; empty when it was never migrated (no table). Read
    directly rather than through alembic's MigrationContext, which logs on every use."""
    if not inspect(connection).has_table(VERSION_TABLE):
        return frozenset()
    return frozenset(connection.execute(text("SELECT version_num FROM alembic_version")).scalars())


class SchemaCheck:
    """A readiness check: the database has been migrated at least as far as this code needs.

    Ready when the database is at the code's head, or at a revision the code does not know
    (a newer release's migration ran first: during a rolling upgrade the old pods keep
    serving, which the "every migration keeps the previous release working" rule makes
    safe), and in both cases holds every table of the code's ``metadata``. Not ready, with
    the reason, when the database was never migrated, is at an older revision of this code
    (the migration Job has not run yet), or lacks tables the code needs: the services number
    their revisions alike ("0001", "0002"...), so a service pointed at another service's
    database would otherwise pass for "at head" or "newer" and fail on every request. The
    code's heads are read once from the service's alembic scripts; the database's revision
    and tables are remembered for ``cache_seconds`` (a failed read is not remembered).
    """

    def __init__(
        self,
        service_dir: Path,
        engine: AsyncEngine,
        *,
        metadata: MetaData,
        cache_seconds: float = 5.0,
    ) -> None:
        script = ScriptDirectory.from_config(alembic_config(service_dir, ""))
        self.heads = frozenset(script.get_heads())
        self.known = frozenset(rev.revision for rev in script.walk_revisions())
        self.tables = frozenset(metadata.tables)
        self.engine = engine
        self.cache_seconds = cache_seconds
        self._read_at = float("-inf")
        self._current: tuple[frozenset[str], frozenset[str]] = (frozenset(), frozenset())

    async def database_state(self) -> tuple[frozenset[str], frozenset[str]]:
        """The database's alembic revisions and its table names."""
        now = time.monotonic()
        if now - self._read_at >= self.cache_seconds:
            async with self.engine.connect() as connection:
                self._current = await connection.run_sync(_current_state)
            self._read_at = now
        return self._current

    def problem(self, current: frozenset[str], tables: frozenset[str]) -> str | None:
        """Why a database at revisions ``current`` holding ``tables`` is not enough for this
        code; None when it is."""
        head = ",".join(sorted(self.heads))
        at = ",".join(sorted(current))
        if not current:
            return f"database not migrated (no alembic revision; this code needs {head})"
        if not tables & self.tables:
            return (
                f"database at revision {at} holds none of this service's tables: "
                "is the database URL this service's own database?"
            )
        if self.heads <= current or current - self.known:
            # at head, or past it (a revision of a newer release): every table is there
            missing = sorted(self.tables - tables)
            if missing:
                return (
                    f"database at revision {at} lacks tables {', '.join(missing)}: "
                    "is the database URL this service's own database?"
                )
            return None
        return f"database at revision {at}, this code needs {head}: run migrate"

    async def __call__(self) -> None:
        problem = self.problem(*await self.database_state())
        if problem is not None:
            raise NotReady(problem)


def _current_state(connection: Connection) -> tuple[frozenset[str], frozenset[str]]:
    return _current_heads(connection), frozenset(inspect(connection).get_table_names())
