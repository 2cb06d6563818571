"""Alembic helpers: every service's ``migrations/env.py`` calls :func:`run_env`, and
``upgrade`` runs ``alembic upgrade head`` from code (start-up, seeds and tests).

Migrations run on a synchronous engine (psycopg 3 and sqlite3 both have one), so they can be
called from a thread while an event loop runs elsewhere."""

from __future__ import annotations

import time
from pathlib import Path

from alembic import command, context
from alembic.config import Config
from sqlalchemy import MetaData, create_engine, pool, text

from tellonce_shared.db import ensure_sqlite_dir

MIGRATION_LOCK = 7_415_020_261_126
"""The PostgreSQL advisory lock key a migration run holds (per database)."""
LOCK_POLL_SECONDS = 0.2


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


def upgrade(service_dir: Path, url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(service_dir, url), revision)
