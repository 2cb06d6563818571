"""Alembic helpers: every service's ``migrations/env.py`` calls :func:`run_env`, and
``upgrade`` runs ``alembic upgrade head`` from code (start-up, seeds and tests).

Migrations run on a synchronous engine (psycopg 3 and sqlite3 both have one), so they can be
called from a thread while an event loop runs elsewhere."""

from __future__ import annotations

from pathlib import Path

from alembic import command, context
from alembic.config import Config
from sqlalchemy import MetaData, create_engine, pool

from tellonce_shared.db import ensure_sqlite_dir


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
