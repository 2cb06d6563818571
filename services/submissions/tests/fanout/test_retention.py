"""Retention of the agencies' shares in the outbox: a delivery final (delivered, acked, dead)
for ``delivery_share_retention_days`` has its answers erased by the retention job, and keeps
its metadata; pending and leased rows are never touched; the pull feed says so; a purged dead
delivery cannot be replayed; batches, idempotence, concurrent runs, SQLite."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from prometheus_client import REGISTRY
from sqlalchemy import create_engine, func, inspect, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tellonce_shared.migrations import alembic_config, sync_url, upgrade
from tellonce_shared.testing import TokenFactory, asgi_client, static_verifier
from tellonce_submissions.config import Settings
from tellonce_submissions.db import Database
from tellonce_submissions.deliveries.models import AnswerAccess, Delivery, DeliveryAttempt
from tellonce_submissions.deliveries.outbox import open_answers, share_box
from tellonce_submissions.deliveries.repository import ECHO_ERASED, claim_due, revive
from tellonce_submissions.deliveries.service import purge_expired_shares
from tellonce_submissions.main import create_app
from tellonce_submissions.retention import purge, purge_round
from tellonce_submissions.worker import DeliveryWorker

from .conftest import (
    SERVICE_DIR,
    FakeClock,
    Receiver,
    agency_code,
    enqueue_submission,
    make_settings,
)

PROBLEM = "application/problem+json"
NOW = datetime(2026, 11, 26, 6, 0, tzinfo=UTC)
LONG_AGO = NOW - timedelta(days=40)


@dataclass
class Outbox:
    database: Database
    settings: Settings
    agency: str
    numbers: dict[str, int] = field(default_factory=dict)

    async def add(self, n: int, **state: Any) -> str:
        """One delivery for ``self.agency`` holding ``{"n": n}``, created 40 days ago and
        then put in ``state`` (columns of the row)."""
        (delivery_id,) = await enqueue_submission(
            self.database, [(self.agency, {"n": n, "ssn": "123-45-6789"}, ["/n", "/ssn"])]
        )
        async with self.database.sessions() as session, session.begin():
            await session.execute(
                update(Delivery)
                .where(Delivery.id == delivery_id)
                .values(created_at=LONG_AGO, submitted_at=LONG_AGO, **state)
            )
        self.numbers[delivery_id] = n
        return delivery_id

    async def rows(self) -> dict[str, Delivery]:
        async with self.database.sessions() as session:
            found = (await session.scalars(select(Delivery))).all()
            session.expunge_all()
        return {row.id: row for row in found}


@pytest.fixture
async def outbox(fresh_database_url: str) -> AsyncIterator[Outbox]:
    database = Database(fresh_database_url)
    settings = make_settings(fresh_database_url, delivery_share_retention_days=30)
    yield Outbox(database, settings, agency_code())
    await database.dispose()


def held(row: Delivery, settings: Settings) -> dict[str, Any]:
    return open_answers(row, share_box(settings))


def days_ago(days: float) -> datetime:
    return NOW - timedelta(days=days)


async def test_final_rows_are_erased_after_the_window_and_not_before(outbox: Outbox) -> None:
    add = outbox.add
    delivered_31 = await add(1, status="delivered", delivered_at=days_ago(31), attempts=1)
    delivered_29 = await add(2, status="delivered", delivered_at=days_ago(29))  # created at 40
    acked_31 = await add(3, status="acked", acked_at=days_ago(31), next_attempt_at=None)
    # A delivery pushed, then acknowledged on the feed later: counted from the ack.
    acked_late = await add(
        4, status="acked", delivered_at=days_ago(35), acked_at=days_ago(29), next_attempt_at=None
    )
    dead_31 = await add(5, status="dead", dead_at=days_ago(31), next_attempt_at=None)
    dead_29 = await add(6, status="dead", dead_at=days_ago(29), next_attempt_at=None)
    retrying = await add(7, status="pending", attempts=3, next_attempt_at=NOW + timedelta(hours=1))
    pull_only = await add(8, status="pending", next_attempt_at=None)  # waits in the feed
    leased = await add(
        9,
        status="pending",
        lease_until=NOW + timedelta(seconds=20),
        leased_by="w-test",
    )
    # Not a state the service writes (recording clears the lease), but a row a worker holds a
    # lease on is never erased, whatever its status says.
    delivered_leased = await add(
        10,
        status="delivered",
        delivered_at=days_ago(31),
        lease_until=NOW + timedelta(days=3),
        leased_by="w-test",
    )
    async with outbox.database.sessions() as session, session.begin():
        session.add(
            DeliveryAttempt(
                delivery_id=delivered_31,
                endpoint_id="e1",
                url="https://agency.example/hook",
                started_at=days_ago(31),
                status_code=204,
                latency_ms=12,
                outcome="delivered",
                worker="w-test",
            )
        )
        session.add(
            AnswerAccess(
                agency=outbox.agency,
                submission_id="s",
                delivery_id=delivered_31,
                fields=["/n", "/ssn"],
                channel="webhook",
                actor="https://agency.example/hook",
                at=days_ago(31),
            )
        )
    before = await outbox.rows()

    removed = await purge(outbox.database, outbox.settings, NOW)
    assert removed["delivery_shares"] == 3

    rows = await outbox.rows()
    erased = {i for i, r in rows.items() if r.share_purged_at is not None}
    assert erased == {delivered_31, acked_31, dead_31}
    for delivery_id in erased:
        row = rows[delivery_id]
        assert row.answers == {}
        assert row.sealed_answers is None
        assert row.share_purged_at is not None
        assert row.share_purged_at.replace(tzinfo=UTC) == NOW.replace(tzinfo=UTC)
        # The metadata stays, for audit.
        was = before[delivery_id]
        for column in (
            "status",
            "fields",
            "agency",
            "form",
            "submission_id",
            "reference",
            "created_at",
            "delivered_at",
            "acked_at",
            "dead_at",
            "attempts",
            "replays",
        ):
            assert getattr(row, column) == getattr(was, column), column
    assert len(rows) == 10
    for delivery_id in set(rows) - erased:
        n = outbox.numbers[delivery_id]
        assert held(rows[delivery_id], outbox.settings) == {"n": n, "ssn": "123-45-6789"}
    async with outbox.database.sessions() as session:
        attempts = await session.scalar(select(func.count()).select_from(DeliveryAttempt))
        reads = await session.scalar(select(func.count()).select_from(AnswerAccess))
    assert (attempts, reads) == (1, 1)

    # Idempotent: a second run erases nothing and leaves the first run's marks.
    assert (await purge(outbox.database, outbox.settings, NOW))["delivery_shares"] == 0
    assert {i for i, r in (await outbox.rows()).items() if r.share_purged_at} == erased

    # Two days on, the 29-day ones have had their 30 days; pending rows are still held, and
    # so is the leased one.
    later = NOW + timedelta(days=2)
    assert (await purge(outbox.database, outbox.settings, later))["delivery_shares"] == 3
    rows = await outbox.rows()
    assert {i for i, r in rows.items() if r.share_purged_at is None} == {
        retrying,
        pull_only,
        leased,
        delivered_leased,
    }
    assert {delivered_29, acked_late, dead_29} <= {i for i, r in rows.items() if r.share_purged_at}
    assert rows[retrying].status == "pending"
    assert rows[retrying].attempts == 3


@pytest.mark.parametrize("days", [0, -1])
async def test_zero_or_negative_days_keep_every_share(outbox: Outbox, days: int) -> None:
    delivery_id = await outbox.add(1, status="delivered", delivered_at=days_ago(400))
    keep = make_settings(outbox.settings.database_url, delivery_share_retention_days=days)
    assert (await purge(outbox.database, keep, NOW))["delivery_shares"] == 0
    row = (await outbox.rows())[delivery_id]
    assert row.share_purged_at is None
    assert held(row, keep) == {"n": 1, "ssn": "123-45-6789"}


async def test_a_large_backlog_is_erased_in_bounded_batches(outbox: Outbox) -> None:
    for n in range(7):
        await outbox.add(n, status="acked", acked_at=days_ago(60), next_attempt_at=None)
    # One batch takes at most the batch size...
    async with outbox.database.sessions() as session:
        assert (await purge_expired_shares(session, now=NOW, retention_days=30, batch=3)) == 3
        await session.commit()
    # ...and the job goes on batch after batch (3, then 1, short: done).
    small = make_settings(
        outbox.settings.database_url,
        delivery_share_retention_days=30,
        delivery_share_purge_batch=3,
    )
    assert (await purge(outbox.database, small, NOW))["delivery_shares"] == 4
    assert all(r.share_purged_at for r in (await outbox.rows()).values())
    assert (await purge(outbox.database, small, NOW))["delivery_shares"] == 0


async def test_concurrent_runs_share_the_work_and_skip_locked_rows(outbox: Outbox) -> None:
    ids = [await outbox.add(n, status="delivered", delivered_at=days_ago(45)) for n in range(40)]
    small = make_settings(
        outbox.settings.database_url,
        delivery_share_retention_days=30,
        delivery_share_purge_batch=5,
    )
    others = [Database(outbox.settings.database_url) for _ in range(2)]
    try:
        # A row another transaction holds (a worker recording, an ack, a replay) is skipped
        # at once, not waited for: it is erased by a later round.
        async with others[0].sessions() as holder, holder.begin():
            await holder.execute(select(Delivery.id).where(Delivery.id == ids[0]).with_for_update())
            first, second = await asyncio.wait_for(
                asyncio.gather(
                    purge(others[1], small, NOW),
                    purge(outbox.database, small, NOW),
                ),
                timeout=20,
            )
        assert first["delivery_shares"] + second["delivery_shares"] == 39
        assert (await outbox.rows())[ids[0]].share_purged_at is None
        assert (await purge(outbox.database, small, NOW))["delivery_shares"] == 1
    finally:
        for database in others:
            await database.dispose()


async def test_the_feed_and_replay_after_the_window(
    fresh_database_url: str,
    tokens: TokenFactory,
    receiver_factory: Callable[[], Awaitable[Receiver]],
) -> None:
    settings = make_settings(fresh_database_url, delivery_share_retention_days=30)
    app = create_app(settings, verifier=static_verifier(tokens))
    database = Database(fresh_database_url)
    receiver = await receiver_factory()
    agency = agency_code()
    auth = tokens.headers(role="agency", agency=agency)
    admin = tokens.headers(role="admin")
    worker = DeliveryWorker(database, settings, clock=FakeClock(), name="w-retention")
    try:
        async with asgi_client(app) as client:
            created = await client.post(
                "/api/v1/deliveries/endpoints", json={"url": receiver.url}, headers=auth
            )
            assert created.status_code == 201, created.text
            (pushed,) = await enqueue_submission(database, [(agency, {"n": 1}, ["/n"])])
            assert await worker.run_once() == 1  # a real push: delivered
            assert len(receiver.received) == 1
            (recent,) = await enqueue_submission(database, [(agency, {"n": 2}, ["/n"])])
            receiver.respond(400)
            assert await worker.run_once() == 1  # refused for good: dead
            (dead_kept,) = await enqueue_submission(database, [(agency, {"n": 3}, ["/n"])])
            assert await worker.run_once() == 1
            async with database.sessions() as session, session.begin():
                await _age(session, [pushed, recent], days=45)
            real_now = datetime.now(UTC)
            assert (await purge(database, settings, real_now))["delivery_shares"] == 2

            feed = await client.get("/api/v1/deliveries", headers=auth)
            assert feed.status_code == 200, feed.text
            items = {i["id"]: i for i in feed.json()["items"]}
            assert set(items) == {pushed, recent, dead_kept}
            for gone in (pushed, recent):
                # Listed, and honest: no answers, and when they were erased.
                assert items[gone]["answers"] is None
                assert items[gone]["share_purged_at"] is not None
                assert items[gone]["fields"] == ["/n"]
            assert items[dead_kept]["answers"] == {"n": 3}
            assert items[dead_kept]["share_purged_at"] is None
            async with database.sessions() as session:
                feed_reads = set(
                    (
                        await session.scalars(
                            select(AnswerAccess.delivery_id).where(AnswerAccess.channel == "feed")
                        )
                    ).all()
                )
            assert feed_reads == {dead_kept}  # erased rows disclosed nothing

            one = await client.get(f"/api/v1/deliveries/{pushed}", headers=admin)
            assert one.status_code == 200
            assert one.json()["status"] == "delivered"
            assert one.json()["share_purged_at"] is not None
            assert [a["outcome"] for a in one.json()["attempt_log"]] == ["delivered"]

            # A dead delivery whose answers were erased cannot be replayed: 410, saying why.
            refused = await client.post(f"/api/v1/deliveries/{recent}/replay", headers=auth)
            assert refused.status_code == 410, refused.text
            assert refused.headers["content-type"].startswith(PROBLEM)
            problem = refused.json()
            assert problem["type"].endswith("/delivery-share-erased")
            assert "retention" in problem["title"]
            assert problem["share_purged_at"]
            # Replaying all of the agency's dead letters skips it, and replays the other.
            replayed = await client.post("/api/v1/deliveries/replay", headers=auth)
            assert replayed.status_code == 200
            assert replayed.json()["ids"] == [dead_kept]
            rows = {r.id: r for r in await _rows(database)}
            assert rows[recent].status == "dead"
            assert rows[recent].replays == 0
            assert rows[dead_kept].status == "pending"
            # Acknowledging an erased delivery still works (metadata only).
            acked = await client.post(f"/api/v1/deliveries/{pushed}/ack", headers=auth)
            assert acked.status_code == 200
            assert acked.json()["status"] == "acked"
    finally:
        await worker.aclose()
        await database.dispose()
        await app.state.database.dispose()


async def _age(session: AsyncSession, ids: list[str], *, days: float) -> None:
    """Move the rows' timestamps ``days`` into the past (as if that much time had gone by)."""
    shift = timedelta(days=days)
    for row in (await session.scalars(select(Delivery).where(Delivery.id.in_(ids)))).all():
        row.created_at -= shift
        for column in ("delivered_at", "acked_at", "dead_at"):
            value = getattr(row, column)
            if value is not None:
                setattr(row, column, value - shift)


async def _rows(database: Database) -> list[Delivery]:
    async with database.sessions() as session:
        found = list((await session.scalars(select(Delivery))).all())
        session.expunge_all()
    return found


async def test_retention_on_sqlite(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'submissions.db'}"
    await asyncio.to_thread(upgrade, SERVICE_DIR, url)
    database = Database(url)
    try:
        outbox = Outbox(database, make_settings(url, delivery_share_purge_batch=2), "SQ")
        old = [await outbox.add(n, status="delivered", delivered_at=days_ago(31)) for n in range(3)]
        fresh = await outbox.add(9, status="delivered", delivered_at=days_ago(1))
        pending = await outbox.add(10, status="pending")
        assert (await purge(database, outbox.settings, NOW))["delivery_shares"] == 3
        rows = await outbox.rows()
        assert {i for i, r in rows.items() if r.share_purged_at} == set(old)
        assert all(rows[i].sealed_answers is None and rows[i].answers == {} for i in old)
        assert held(rows[fresh], outbox.settings) == {"n": 9, "ssn": "123-45-6789"}
        assert held(rows[pending], outbox.settings) == {"n": 10, "ssn": "123-45-6789"}
        assert (await purge(database, outbox.settings, NOW))["delivery_shares"] == 0
    finally:
        await database.dispose()


def test_migration_from_empty_adds_the_marker_and_its_index(fresh_database_url: str) -> None:
    engine = create_engine(sync_url(fresh_database_url))
    try:
        inspector = inspect(engine)
        columns = {c["name"]: c for c in inspector.get_columns("deliveries")}
        indexes = {i["name"]: i for i in inspector.get_indexes("deliveries")}
    finally:
        engine.dispose()
    assert columns["share_purged_at"]["nullable"] is True
    assert indexes["ix_deliveries_share_held"]["column_names"] == ["status", "created_at"]
    where = indexes["ix_deliveries_share_held"].get("dialect_options", {})
    assert "share_purged_at IS NULL" in str(where.get("postgresql_where"))


async def test_serves_rounds_are_counted_for_dashboards_and_alerts(outbox: Outbox) -> None:
    """``serve``'s retention rounds feed the metrics: what was removed by kind, each round's
    outcome, and when one last succeeded; a failing round is counted, logged and survived."""

    def sample(name: str, **labels: str) -> float:
        return REGISTRY.get_sample_value(name, labels) or 0.0

    for n in range(2):
        await outbox.add(n, status="delivered", delivered_at=days_ago(45))
    erased = sample("tellonce_retention_removed_total", kind="delivery_shares")
    ok = sample("tellonce_retention_rounds_total", outcome="ok")
    failed = sample("tellonce_retention_rounds_total", outcome="failed")
    before = time.time()

    removed = await purge_round(outbox.database, outbox.settings, lambda: NOW)

    assert removed is not None
    assert removed["delivery_shares"] == 2
    assert sample("tellonce_retention_removed_total", kind="delivery_shares") == erased + 2
    assert sample("tellonce_retention_rounds_total", outcome="ok") == ok + 1
    last = sample("tellonce_retention_last_success_timestamp_seconds")
    assert last >= before

    nowhere = Database("postgresql+psycopg://postgres@127.0.0.1:1/nowhere")
    try:
        assert await purge_round(nowhere, outbox.settings, lambda: NOW) is None
    finally:
        await nowhere.dispose()
    assert sample("tellonce_retention_rounds_total", outcome="failed") == failed + 1
    assert sample("tellonce_retention_last_success_timestamp_seconds") == last


async def test_what_a_receiver_answered_goes_with_the_share_its_status_stays(
    outbox: Outbox,
) -> None:
    """A receiver's 4xx body may quote the answers ("invalid ssn 123-45-6789"): erased with the
    share, in the delivery's last error and in its attempt log; the status codes and the
    transport errors (no body) stay."""
    delivery_id = await outbox.add(
        1,
        status="dead",
        dead_at=days_ago(45),
        last_status_code=400,
        last_error="HTTP 400: invalid ssn 123-45-6789",
    )
    async with outbox.database.sessions() as session, session.begin():
        for code, error in ((None, "ConnectError: refused"), (400, "HTTP 400: ssn 123-45-6789")):
            session.add(
                DeliveryAttempt(
                    delivery_id=delivery_id,
                    endpoint_id=None,
                    url="https://agency.example/hook",
                    started_at=days_ago(46),
                    status_code=code,
                    latency_ms=5,
                    error=error,
                    outcome="retry" if code is None else "dead",
                    worker="w1",
                )
            )
    assert (await purge(outbox.database, outbox.settings, NOW))["delivery_shares"] == 1
    row = (await outbox.rows())[delivery_id]
    assert row.last_status_code == 400
    assert row.last_error is not None
    assert "123-45-6789" not in row.last_error
    async with outbox.database.sessions() as session:
        attempts = (
            await session.execute(
                select(DeliveryAttempt.status_code, DeliveryAttempt.error).where(
                    DeliveryAttempt.delivery_id == delivery_id
                )
            )
        ).all()
    errors = dict(attempts)
    assert errors[None] == "ConnectError: refused"
    assert "123-45-6789" not in str(errors[400])
    assert errors[400] == ECHO_ERASED


async def test_a_share_erased_after_a_replay_read_it_is_not_revived_nor_sent(
    outbox: Outbox,
) -> None:
    """On SQLite nothing holds a row between a replay reading it and writing it: the revive is
    one conditional statement, so a row erased in between stays dead; and a pending row
    without its share (however it came to be) is never claimed to send nothing."""
    erased = await outbox.add(1, status="dead", dead_at=days_ago(45))
    kept = await outbox.add(2, status="dead", dead_at=days_ago(1))
    assert (await purge(outbox.database, outbox.settings, NOW))["delivery_shares"] == 1
    async with outbox.database.sessions() as session, session.begin():
        assert await revive(session, [erased, kept], NOW) == {kept}
    rows = await outbox.rows()
    assert rows[erased].status == "dead"
    assert (rows[kept].status, rows[kept].replays) == ("pending", 1)
    async with outbox.database.sessions() as session, session.begin():
        await session.execute(
            update(Delivery)
            .where(Delivery.id == erased)
            .values(status="pending", next_attempt_at=NOW)
        )
        claimed = await claim_due(
            session, now=NOW, lease_until=NOW + timedelta(minutes=1), worker="w1", limit=10
        )
    assert [row.id for row in claimed] == [kept]


async def test_the_migration_will_not_go_down_over_erased_shares(outbox: Outbox) -> None:
    """Down to 0006 while nothing is erased works (and up again); once a share is erased the
    downgrade refuses: without the mark the older code would replay it to send nothing."""
    config = alembic_config(SERVICE_DIR, outbox.settings.database_url)
    await asyncio.to_thread(command.downgrade, config, "0006_measure_durations")
    await asyncio.to_thread(command.upgrade, config, "head")
    await outbox.add(1, status="acked", acked_at=days_ago(45))
    assert (await purge(outbox.database, outbox.settings, NOW))["delivery_shares"] == 1
    with pytest.raises(RuntimeError, match="Roll back the code only"):
        await asyncio.to_thread(command.downgrade, config, "0006_measure_durations")
    assert (await outbox.rows()).popitem()[1].share_purged_at is not None
