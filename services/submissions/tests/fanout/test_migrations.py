"""The fan-out tables: alembic builds them from empty on PostgreSQL and SQLite, and the
models match the migrations (no autogenerate diff on our tables)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, inspect

from tellonce_shared.migrations import sync_url, upgrade
from tellonce_shared.testing import migration_diff
from tellonce_submissions.models import Base

from .conftest import SERVICE_DIR

FANOUT_TABLES = {"deliveries", "webhook_endpoints", "delivery_attempts", "answer_access_log"}


def _table_of(diff: Any) -> str | None:
    """The table an autogenerate diff entry is about."""
    item = diff[0] if isinstance(diff, list) else diff
    for part in item[1:]:
        name = getattr(part, "name", None)
        table = getattr(part, "table", None)
        if table is not None and getattr(table, "name", None):
            return str(table.name)
        if isinstance(part, str) and part in FANOUT_TABLES:
            return part
        if name in FANOUT_TABLES:
            return str(name)
    return None


def _fanout_diffs(url: str) -> list[Any]:
    return [d for d in migration_diff(url, Base.metadata) if _table_of(d) in FANOUT_TABLES]


def test_postgresql_from_empty_matches_the_models(database_url: str) -> None:
    engine = create_engine(sync_url(database_url))
    try:
        tables = set(inspect(engine).get_table_names())
    finally:
        engine.dispose()
    assert tables >= FANOUT_TABLES
    assert _fanout_diffs(database_url) == []


def test_sqlite_from_empty_matches_the_models(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'submissions.db'}"
    upgrade(SERVICE_DIR, url)
    assert _fanout_diffs(url) == []
