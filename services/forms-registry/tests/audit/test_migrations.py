"""The audit's tables: the migration creates exactly what the models declare, on PostgreSQL and
on SQLite (``make run``), and can be undone."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from sqlalchemy import create_engine, inspect

import tellonce_registry.audit.models  # noqa: F401  (the audit tables join the metadata)
from tellonce_registry.models import Base
from tellonce_shared.migrations import alembic_config, sync_url, upgrade
from tellonce_shared.testing import migration_diff

SERVICE_DIR = Path(__file__).resolve().parents[2]
AUDIT_TABLES = {"audit_decisions", "audit_field_mappings"}


def _table_of(diff: Any) -> str | None:
    item = diff[0] if isinstance(diff, list) else diff
    for part in item[1:]:
        name = getattr(part, "name", None)
        table = getattr(part, "table", None)
        if table is not None and getattr(table, "name", None):
            return str(table.name)
        if isinstance(part, str) and part in AUDIT_TABLES:
            return part
        if name in AUDIT_TABLES:
            return str(name)
    return None


def test_models_and_migration_agree_on_postgresql(database_url: str) -> None:
    engine = create_engine(sync_url(database_url))
    with engine.connect() as conn:
        assert set(inspect(conn).get_table_names()) >= AUDIT_TABLES
    engine.dispose()
    diffs = migration_diff(database_url, Base.metadata)
    ours = [d for d in diffs if _table_of(d) in AUDIT_TABLES]
    assert ours == []


def test_migration_runs_and_reverts_on_sqlite(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'registry.db'}"
    upgrade(SERVICE_DIR, url)
    engine = create_engine(sync_url(url))
    assert set(inspect(engine).get_table_names()) >= AUDIT_TABLES
    command.downgrade(alembic_config(SERVICE_DIR, url), "0001")
    assert not AUDIT_TABLES & set(inspect(engine).get_table_names())
    upgrade(SERVICE_DIR, url)
    assert set(inspect(engine).get_table_names()) >= AUDIT_TABLES
    engine.dispose()
