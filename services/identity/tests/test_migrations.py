"""Migrations build the schema from empty on PostgreSQL and SQLite, and agree with the
models."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect, text

from tellonce_identity.models import Base
from tellonce_shared.migrations import alembic_config, sync_url, upgrade
from tellonce_shared.testing import empty_database as fresh_database
from tellonce_shared.testing import migration_diff, upgrade_statements

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


# -- 0004: the indexes of revocation by user and of prune --------------------------------

INDEXES = {
    "ix_refresh_tokens_user_id": "refresh_tokens USING btree (user_id)",
    "ix_refresh_tokens_family_expires_at": "refresh_tokens USING btree (family_expires_at)",
    "ix_login_failures_at": "login_failures USING btree (at)",
}


def _indexes(url: str) -> dict[str, tuple[str, bool]]:
    """The 0004 indexes present: definition (after ``ON public.``) and validity."""
    engine = create_engine(sync_url(url))
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT c.relname, pg_get_indexdef(i.indexrelid), i.indisvalid "
                    "FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
                    "WHERE c.relname = ANY(:names)"
                ),
                {"names": list(INDEXES)},
            ).all()
    finally:
        engine.dispose()
    return {
        str(name): (str(definition).partition(" ON public.")[2], bool(valid))
        for name, definition, valid in rows
    }


def _explain(url: str, sql: str) -> str:
    engine = create_engine(sync_url(url))
    try:
        with engine.connect() as conn:
            conn.execute(text("SET enable_seqscan = off"))
            return "\n".join(str(r[0]) for r in conn.execute(text(f"EXPLAIN {sql}")))
    finally:
        engine.dispose()


@pytest.fixture
def empty_database() -> Iterator[str]:
    with fresh_database("identity_mig") as url:
        yield url


def test_postgresql_head_has_the_revocation_and_prune_indexes(database_url: str) -> None:
    assert _indexes(database_url) == {name: (d, True) for name, d in INDEXES.items()}
    # ... and the planner can use them for the statements they are for
    revoke_all = "UPDATE refresh_tokens SET revoked_at = now() WHERE user_id = 'u'"
    assert "ix_refresh_tokens_user_id" in _explain(database_url, revoke_all)
    prune = "DELETE FROM refresh_tokens WHERE family_expires_at < now()"
    assert "ix_refresh_tokens_family_expires_at" in _explain(database_url, prune)
    failures = "DELETE FROM login_failures WHERE at < now()"
    assert "ix_login_failures_at" in _explain(database_url, failures)


def test_the_indexes_are_built_without_holding_writes(empty_database: str) -> None:
    """refresh_tokens and login_failures are written by every sign-in: on PostgreSQL 0004
    builds CONCURRENTLY (outside a transaction), not with a plain CREATE INDEX."""
    statements = upgrade_statements(SERVICE_DIR, empty_database)
    for name in INDEXES:
        (build,) = [s for s in statements if "CREATE INDEX" in s and name in s]
        assert "CREATE INDEX CONCURRENTLY" in build


def test_an_upgrade_whose_index_build_failed_can_be_run_again(empty_database: str) -> None:
    """A failed concurrent build leaves an INVALID index of its name while alembic still
    records 0003: running the upgrade again replaces it (IF NOT EXISTS alone would keep the
    broken one) and keeps the indexes already built."""
    upgrade(SERVICE_DIR, empty_database)
    engine = create_engine(sync_url(empty_database), isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text("DROP INDEX ix_refresh_tokens_user_id"))
            conn.execute(text("CREATE INDEX ix_refresh_tokens_user_id ON refresh_tokens (scope)"))
            conn.execute(
                text(
                    "UPDATE pg_index SET indisvalid = false "
                    "WHERE indexrelid = 'ix_refresh_tokens_user_id'::regclass"
                )
            )
            conn.execute(text("DROP INDEX ix_login_failures_at"))
            conn.execute(text("UPDATE alembic_version SET version_num = '0003'"))
    finally:
        engine.dispose()
    before = _indexes(empty_database)
    assert before["ix_refresh_tokens_user_id"] == ("refresh_tokens USING btree (scope)", False)
    assert "ix_login_failures_at" not in before
    upgrade(SERVICE_DIR, empty_database)
    assert _indexes(empty_database) == {name: (d, True) for name, d in INDEXES.items()}
    assert migration_diff(empty_database, Base.metadata) == []


def test_0004_goes_down_and_up_again(empty_database: str, tmp_path: Path) -> None:
    from alembic import command

    for url in (empty_database, f"sqlite+aiosqlite:///{tmp_path / 'identity.db'}"):
        upgrade(SERVICE_DIR, url)
        command.downgrade(alembic_config(SERVICE_DIR, url), "0003")
        engine = create_engine(sync_url(url))
        try:
            names = {
                ix["name"]
                for table in ("refresh_tokens", "login_failures")
                for ix in inspect(engine).get_indexes(table)
            }
        finally:
            engine.dispose()
        assert names.isdisjoint(INDEXES)
        assert {"ix_refresh_tokens_family_id", "ix_login_failures_key_at"} <= names
        upgrade(SERVICE_DIR, url)
        assert migration_diff(url, Base.metadata) == []
