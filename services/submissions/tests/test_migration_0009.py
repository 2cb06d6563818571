"""Migration 0009 starts the history of performance targets: a target already set is copied
in as in force since 1970 (before the history it judged every period, and it still does),
and the downgrade drops the history alone."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from alembic import command
from sqlalchemy import create_engine, inspect, text

from tellonce_shared.migrations import alembic_config, sync_url
from tellonce_shared.testing import create_database, drop_database

from .conftest import SERVICE_DIR


@pytest.fixture
def at_0008() -> Iterator[str]:
    url = create_database("submissions_mig9")
    try:
        command.upgrade(alembic_config(SERVICE_DIR, url), "0008_erase_unconsented_values")
        yield url
    finally:
        drop_database(url)


def test_targets_already_set_are_in_force_since_1970(at_0008: str) -> None:
    engine = create_engine(sync_url(at_0008))
    config = alembic_config(SERVICE_DIR, at_0008)
    try:
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO performance_targets (form, days, share, updated_at, updated_by)"
                    " VALUES ('snap', 30, 0.9, :t, 'opm-1')"
                ),
                {"t": datetime(2026, 10, 1, tzinfo=UTC)},
            )
        command.upgrade(config, "0009_performance_target_history")
        with engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT form, days, share, effective_from, set_by"
                    " FROM performance_target_history"
                )
            ).all()
        assert [tuple(r) for r in rows] == [
            ("snap", 30, 0.9, datetime(1970, 1, 1, tzinfo=UTC), "opm-1")
        ]
        command.downgrade(config, "0008_erase_unconsented_values")
        tables = inspect(engine).get_table_names()
        assert "performance_target_history" not in tables
        assert "performance_targets" in tables
    finally:
        engine.dispose()
