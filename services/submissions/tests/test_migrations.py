"""The alembic chain builds the schema the models describe, on PostgreSQL and SQLite."""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path

from sqlalchemy import create_engine, inspect

import tellonce_submissions
from tellonce_shared.migrations import sync_url, upgrade
from tellonce_shared.testing import migration_diff
from tellonce_submissions.models import Base

# Every feature's models register on the one metadata: import them all, whatever ran before.
for _module in pkgutil.walk_packages(tellonce_submissions.__path__, "tellonce_submissions."):
    if _module.name.endswith(".models"):
        importlib.import_module(_module.name)

SERVICE_DIR = Path(__file__).resolve().parents[1]
RESIDENT_TABLES = {
    "drafts",
    "submissions",
    "submission_events",
    "idempotency_keys",
    "profiles",
    "profile_values",
}


def test_models_match_migrations_on_postgresql(database_url: str) -> None:
    engine = create_engine(sync_url(database_url))
    try:
        assert set(inspect(engine).get_table_names()) >= RESIDENT_TABLES
    finally:
        engine.dispose()
    assert migration_diff(database_url, Base.metadata) == []


def test_migrations_run_on_sqlite(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'submissions.db'}"
    upgrade(SERVICE_DIR, url)
    engine = create_engine(sync_url(url))
    try:
        with engine.connect() as conn:
            assert set(inspect(conn).get_table_names()) >= RESIDENT_TABLES
    finally:
        engine.dispose()
