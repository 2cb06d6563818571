"""The migrations build the schema the models describe, on PostgreSQL and on SQLite."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from sqlalchemy import create_engine, inspect

import tellonce_registry.main  # noqa: F401  (registers every feature's models, the audit's too)
from tellonce_registry.models import Base
from tellonce_shared.migrations import alembic_config, sync_url, upgrade
from tellonce_shared.testing import migration_diff

SERVICE_DIR = Path(__file__).resolve().parents[2]
TABLES = {"agencies", "data_elements", "forms", "form_versions", "form_fields", "agreements"}


def _diff(url: str) -> list[object]:
    return migration_diff(url, Base.metadata)


def _tables(url: str) -> set[str]:
    engine = create_engine(sync_url(url))
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_postgresql_upgrade_from_empty_matches_the_models(database_url: str) -> None:
    assert _tables(database_url) >= TABLES
    assert _diff(database_url) == []


def test_sqlite_upgrade_from_empty_matches_the_models(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'registry.db'}"
    upgrade(SERVICE_DIR, url)
    assert _tables(url) >= TABLES
    assert _diff(url) == []


def _element_columns(url: str) -> set[str]:
    engine = create_engine(sync_url(url))
    try:
        return {c["name"] for c in inspect(engine).get_columns("data_elements")}
    finally:
        engine.dispose()


def test_element_options_migration_reverts_and_reapplies(tmp_path: Path) -> None:
    """0005 adds ``data_elements.options`` and its downgrade drops it (the upgrade with data
    on PostgreSQL: test_element_options.py)."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'registry.db'}"
    upgrade(SERVICE_DIR, url)
    assert "options" in _element_columns(url)
    command.downgrade(alembic_config(SERVICE_DIR, url), "0004_referral_rules")
    assert "options" not in _element_columns(url)
    assert {"id", "schema", "label_en", "aliases"} <= _element_columns(url)
    upgrade(SERVICE_DIR, url)
    assert "options" in _element_columns(url)
    assert _diff(url) == []
