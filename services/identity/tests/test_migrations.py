"""Migrations build the schema from empty on PostgreSQL and SQLite, and agree with the
models."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import create_engine, inspect

from tellonce_identity.models import Base
from tellonce_shared.migrations import sync_url, upgrade
from tellonce_shared.testing import migration_diff

from .conftest import SERVICE_DIR

TABLES = {
    "users",
    "clients",
    "signing_keys",
    "refresh_tokens",
    "login_failures",
    "known_sign_ins",
    "audit_events",
}


def _diff(url: str) -> list[object]:
    engine = create_engine(sync_url(url))
    try:
        assert set(inspect(engine).get_table_names()) >= TABLES
    finally:
        engine.dispose()
    return migration_diff(url, Base.metadata)


def test_postgresql_upgrade_from_empty_matches_models(database_url: str) -> None:
    assert _diff(database_url) == []


def test_sqlite_upgrade_from_empty_matches_models(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'identity.db'}"
    upgrade(SERVICE_DIR, url)
    assert _diff(url) == []
