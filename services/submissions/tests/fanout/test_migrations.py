"""The fan-out tables: alembic builds them from empty on PostgreSQL and SQLite, and the
models match the migrations (no autogenerate diff on our tables)."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import create_engine, inspect, text

from tellonce_shared.migrations import alembic_config, sync_url, upgrade
from tellonce_shared.testing import empty_database as fresh_database
from tellonce_shared.testing import migration_diff, upgrade_statements
from tellonce_submissions.models import Base

from .conftest import SERVICE_DIR

FANOUT_TABLES = {"deliveries", "webhook_endpoints", "delivery_attempts", "answer_access_log"}


SHARE_REVISION = "0007_delivery_share_retention"
"""The revision that builds the share index: the tests below stop there and rewind to 0006,
so later revisions run once, after the rewind."""


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


SHARE_INDEX = "ix_deliveries_share_held"


def _share_index(url: str) -> tuple[str, bool] | None:
    """The retention index's definition and whether PostgreSQL counts it valid."""
    engine = create_engine(sync_url(url))
    try:
        with engine.connect() as conn:
            row = conn.execute(
                text(
                    "SELECT pg_get_indexdef(i.indexrelid), i.indisvalid FROM pg_index i "
                    "JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname = :name"
                ),
                {"name": SHARE_INDEX},
            ).first()
    finally:
        engine.dispose()
    return None if row is None else (str(row[0]), bool(row[1]))


@pytest.fixture
def empty_database() -> Iterator[str]:
    with fresh_database("submissions_mig") as url:
        yield url


def test_the_retention_index_is_built_without_holding_writes(empty_database: str) -> None:
    """deliveries is written by every worker all the time: on PostgreSQL the retention
    index is built CONCURRENTLY (outside a transaction), not with a plain CREATE INDEX."""
    statements = upgrade_statements(SERVICE_DIR, empty_database)
    builds = [s for s in statements if "CREATE INDEX" in s and SHARE_INDEX in s]
    assert len(builds) == 1
    assert "CREATE INDEX CONCURRENTLY" in builds[0]
    assert _share_index(empty_database) == (
        f"CREATE INDEX {SHARE_INDEX} ON public.deliveries USING btree (status, created_at) "
        "WHERE (share_purged_at IS NULL)",
        True,
    )


def test_an_upgrade_whose_index_build_failed_can_be_run_again(empty_database: str) -> None:
    """A concurrent build that fails has committed the new column (it runs outside the
    transaction) while alembic still records 0006, and leaves an INVALID index of that name:
    running the upgrade again finds the column there and replaces the index (IF NOT EXISTS
    alone would keep the broken one)."""
    upgrade(SERVICE_DIR, empty_database, SHARE_REVISION)
    engine = create_engine(sync_url(empty_database), isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text(f"DROP INDEX {SHARE_INDEX}"))
            conn.execute(text(f"CREATE INDEX {SHARE_INDEX} ON deliveries (status)"))
            conn.execute(
                text(
                    "UPDATE pg_index SET indisvalid = false "
                    f"WHERE indexrelid = '{SHARE_INDEX}'::regclass"
                )
            )
            conn.execute(text("UPDATE alembic_version SET version_num = '0006_measure_durations'"))
    finally:
        engine.dispose()
    assert _share_index(empty_database) == (
        f"CREATE INDEX {SHARE_INDEX} ON public.deliveries USING btree (status)",
        False,
    )
    upgrade(SERVICE_DIR, empty_database)
    index = _share_index(empty_database)
    assert index is not None
    assert index[1] is True
    assert index[0].endswith("(status, created_at) WHERE (share_purged_at IS NULL)")


def test_the_migrations_can_be_written_out_as_sql(capsys: pytest.CaptureFixture[str]) -> None:
    """`alembic upgrade head --sql` on PostgreSQL (for a DBA who applies the SQL by hand)
    renders every migration, 0007's concurrent index build included, without a database."""
    url = "postgresql+psycopg://nobody@127.0.0.1:1/none"
    command.upgrade(alembic_config(SERVICE_DIR, url), "head", sql=True)
    out = capsys.readouterr().out
    assert "ADD COLUMN IF NOT EXISTS share_purged_at" in out
    assert f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {SHARE_INDEX}" in out


def test_two_runners_at_once_take_turns(empty_database: str) -> None:
    """Two upgrades of one empty database at the same moment, each its own process (a Job
    retried while its first pod still runs): the advisory lock makes the second wait and
    then find the work done."""
    code = (
        "import sys, time; from pathlib import Path; "
        "from tellonce_shared.migrations import upgrade; "
        "time.sleep(max(0.0, float(sys.argv[3]) - time.time())); "  # both start together
        "upgrade(Path(sys.argv[1]), sys.argv[2])"
    )
    at = str(time.time() + 4)
    runners = [
        subprocess.Popen(
            [sys.executable, "-c", code, str(SERVICE_DIR), empty_database, at],
            stderr=subprocess.PIPE,
        )
        for _ in range(2)
    ]
    failures = [r.stderr.read().decode()[-600:] for r in runners if r.wait(120) != 0 and r.stderr]
    assert failures == []
    assert _share_index(empty_database) is not None
    assert _fanout_diffs(empty_database) == []


def test_an_upgrade_refuses_while_another_process_still_builds_the_index(
    empty_database: str,
) -> None:
    """A migration pod killed mid-build leaves its server process building: a re-run names
    that process at once instead of queueing its ALTER behind the build (which would hold up
    every worker's write) or dropping what is being built."""
    upgrade(SERVICE_DIR, empty_database, SHARE_REVISION)
    engine = create_engine(sync_url(empty_database), isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text(f"DROP INDEX {SHARE_INDEX}"))
            conn.execute(text("UPDATE alembic_version SET version_num = '0006_measure_durations'"))
        holder = engine.connect().execution_options(isolation_level="REPEATABLE READ")
        builder = engine.connect()
        build = threading.Thread(
            target=builder.execute,
            args=(
                text(
                    f"CREATE INDEX CONCURRENTLY {SHARE_INDEX} ON deliveries (status, created_at) "
                    "WHERE share_purged_at IS NULL"
                ),
            ),
        )
        try:
            holder.begin()
            holder.execute(text("SELECT count(*) FROM deliveries"))  # a snapshot to wait on
            build.start()
            with engine.connect() as conn:
                probe = text("SELECT count(*) FROM pg_stat_progress_create_index")
                eventually_true(lambda: conn.execute(probe).scalar() == 1)
            with pytest.raises(RuntimeError, match="still being built by server process"):
                upgrade(SERVICE_DIR, empty_database)
        finally:
            holder.rollback()
            holder.close()
            if build.ident is not None:  # started
                build.join(30)
            builder.close()
    finally:
        engine.dispose()
    upgrade(SERVICE_DIR, empty_database)  # the build finished: nothing left to do but stamp
    assert _share_index(empty_database) == (
        f"CREATE INDEX {SHARE_INDEX} ON public.deliveries USING btree (status, created_at) "
        "WHERE (share_purged_at IS NULL)",
        True,
    )


def eventually_true(check: Callable[[], bool], seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "the build never showed in the progress view"
        time.sleep(0.05)
