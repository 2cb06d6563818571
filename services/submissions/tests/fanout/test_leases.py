"""Leases while a webhook is being sent (PostgreSQL): the sending worker renews them, so a
receiver slower than the lease is never sent the delivery twice; and a worker that lost
its lease anyway (renewal failed or came too late, another worker claimed the row) records
nothing over the new holder's claim. Clocks are fake and moved by hand; the receiver holds
each request until the test releases it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, text

from tellonce_shared.testing import TokenFactory
from tellonce_submissions.db import Database
from tellonce_submissions.deliveries.clock import aware
from tellonce_submissions.deliveries.models import Delivery, DeliveryAttempt
from tellonce_submissions.deliveries.repository import claim_due
from tellonce_submissions.worker import DeliveryWorker

from .conftest import FakeClock, Receiver, agency_code, enqueue_submission, make_settings
from .test_concurrency import register, wait_until, wait_until_async

LEASE = timedelta(seconds=30)  # the default delivery_lease_seconds


@dataclass
class Gate:
    """The receiver's answer to one request, given when the test releases it."""

    status: int
    release: asyncio.Event


def gated(receiver: Receiver, gates: list[Gate]) -> None:
    """Request n waits for ``gates[n]`` to be released, then answers its status."""

    async def answer(_: Any) -> tuple[int, dict[str, str]]:
        gate = gates[len(receiver.received) - 1]
        await gate.release.wait()
        return gate.status, {}

    receiver.answer = answer


@dataclass
class Parts:
    url: str
    database: Database
    tokens: TokenFactory

    async def row(self, delivery_id: str) -> Delivery:
        async with self.database.sessions() as session:
            row = await session.get(Delivery, delivery_id)
            assert row is not None
            return row

    async def attempts(self, delivery_id: str) -> list[tuple[str, int | None, str]]:
        async with self.database.sessions() as session:
            rows = await session.scalars(
                select(DeliveryAttempt)
                .where(DeliveryAttempt.delivery_id == delivery_id)
                .order_by(DeliveryAttempt.id)
            )
            return [(a.worker, a.status_code, a.outcome) for a in rows]


@pytest.fixture
async def parts(fresh_database_url: str, tokens: TokenFactory) -> AsyncIterator[Parts]:
    database = Database(fresh_database_url)
    yield Parts(fresh_database_url, database, tokens)
    await database.dispose()


async def one_delivery(parts: Parts, receiver: Receiver) -> str:
    agency = agency_code()
    await register(parts.url, parts.tokens, agency, receiver.url)
    [delivery_id] = await enqueue_submission(parts.database, [(agency, {"x": 1}, ["/x"])])
    return delivery_id


async def test_a_send_slower_than_the_lease_keeps_its_lease_and_is_sent_once(
    parts: Parts, receiver_factory: Callable[[], Awaitable[Receiver]]
) -> None:
    receiver = await receiver_factory()
    gate = Gate(204, asyncio.Event())
    gated(receiver, [gate])
    delivery_id = await one_delivery(parts, receiver)
    settings = make_settings(parts.url)
    clock = FakeClock()  # both workers see the same time
    sender = DeliveryWorker(parts.database, settings, clock=clock, name="w-a", renew_every=0.05)
    other = DeliveryWorker(parts.database, settings, clock=clock, name="w-b")
    turn = asyncio.create_task(sender.run_once())
    try:
        await wait_until(lambda: len(receiver.received) == 1, 30)
        claimed = await parts.row(delivery_id)
        assert claimed.leased_by == "w-a"
        assert claimed.lease_until is not None
        first_lease = aware(claimed.lease_until)

        # 25 s into the send, a renewal extends the lease from that moment.
        clock.advance(timedelta(seconds=25))

        async def renewed() -> bool:
            row = await parts.row(delivery_id)
            assert row.lease_until is not None
            return aware(row.lease_until) >= first_lease + timedelta(seconds=25)

        await wait_until_async(renewed, 30)
        # 50 s in: the claim's own lease ran out 20 s ago, yet nobody else may take it.
        clock.advance(timedelta(seconds=25))
        assert await other.run_once() == 0
        row = await parts.row(delivery_id)
        assert row.leased_by == "w-a"
        assert aware(row.lease_until or first_lease) > clock.now()

        gate.release.set()
        assert await turn == 1
    finally:
        gate.release.set()
        await asyncio.gather(turn, return_exceptions=True)
        await sender.aclose()
        await other.aclose()
    assert len(receiver.received) == 1
    row = await parts.row(delivery_id)
    assert (row.status, row.attempts, row.leased_by, row.lease_until) == (
        "delivered",
        1,
        None,
        None,
    )
    assert await parts.attempts(delivery_id) == [("w-a", 204, "delivered")]
    assert sender.leases_lost == 0


@pytest.mark.parametrize(
    "renew_every",
    [
        pytest.param(0.05, id="the-heartbeat-finds-the-lease-lost"),
        pytest.param(3600.0, id="no-renewal-in-time-recording-finds-it-lost"),
    ],
)
async def test_a_worker_that_lost_its_lease_records_nothing_over_the_new_claim(
    parts: Parts, receiver_factory: Callable[[], Awaitable[Receiver]], renew_every: float
) -> None:
    receiver = await receiver_factory()
    late, holder = Gate(200, asyncio.Event()), Gate(503, asyncio.Event())
    gated(receiver, [late, holder])
    delivery_id = await one_delivery(parts, receiver)
    settings = make_settings(parts.url)
    first_clock, later_clock = FakeClock(), FakeClock()
    first = DeliveryWorker(
        parts.database, settings, clock=first_clock, name="w-a", renew_every=renew_every
    )
    second = DeliveryWorker(parts.database, settings, clock=later_clock, name="w-b")
    turns: list[asyncio.Task[int]] = []
    try:
        first_turn = asyncio.create_task(first.run_once())
        turns.append(first_turn)
        await wait_until(lambda: len(receiver.received) == 1, 30)
        # For the second worker, the first one's lease ran out long ago (as if the first
        # had not been able to renew it): it claims the row and sends it again.
        later_clock.advance(LEASE * 2)
        second_turn = asyncio.create_task(second.run_once())
        turns.append(second_turn)
        await wait_until(lambda: len(receiver.received) == 2, 30)
        assert (await parts.row(delivery_id)).leased_by == "w-b"
        if renew_every < 1:
            await wait_until(lambda: first.leases_lost == 1, 30)

        # The first worker's receiver now says 200: the row stays the second worker's.
        late.release.set()
        assert await first_turn == 1
        assert first.leases_lost == 1
        row = await parts.row(delivery_id)
        assert (row.status, row.leased_by, row.attempts, row.delivered_at) == (
            "pending",
            "w-b",
            0,
            None,
        )
        # The attempt itself is on record (the agency did get the answers).
        assert await parts.attempts(delivery_id) == [("w-a", 200, "delivered")]

        # The holder's own answer decides: a 503 schedules a retry.
        holder.release.set()
        assert await second_turn == 1
    finally:
        late.release.set()
        holder.release.set()
        await asyncio.gather(*turns, return_exceptions=True)
        await first.aclose()
        await second.aclose()
    row = await parts.row(delivery_id)
    assert (row.status, row.leased_by, row.attempts, row.last_status_code) == (
        "pending",
        None,
        1,
        503,
    )
    assert row.next_attempt_at is not None
    assert aware(row.next_attempt_at) > later_clock.now()
    assert await parts.attempts(delivery_id) == [
        ("w-a", 200, "delivered"),
        ("w-b", 503, "retry"),
    ]
    assert second.leases_lost == 0


async def test_renewals_come_every_third_of_the_lease_by_default(database: Database) -> None:
    settings = make_settings(database.url, delivery_lease_seconds=12.0)
    worker = DeliveryWorker(database, settings, name="w-default")
    try:
        assert worker.renew_every == 4.0
    finally:
        await worker.aclose()


async def test_a_claim_takes_at_most_its_limit_on_a_fresh_table(fresh_database_url: str) -> None:
    """Seven due rows in a table PostgreSQL has no statistics for yet: a claim of three takes
    three. (As a plain ``IN (subquery ... LIMIT ... SKIP LOCKED)`` the planner may run the
    locking subquery once per row, each run skipping the rows already taken and locking the
    next ones, so one claim took every row.)"""
    database = Database(fresh_database_url)
    try:
        agency = agency_code()
        for n in range(7):
            await enqueue_submission(database, [(agency, {"n": n}, ["/n"])])
        now = datetime.now(UTC) + timedelta(seconds=1)
        async with database.sessions() as session, session.begin():
            for setting in ("enable_hashjoin", "enable_mergejoin", "enable_material"):
                await session.execute(text(f"SET LOCAL {setting} = off"))
            claimed = await claim_due(
                session, now=now, lease_until=now + timedelta(minutes=1), worker="w1", limit=3
            )
        assert len(claimed) == 3
        async with database.sessions() as session:
            leased = await session.scalar(
                select(func.count()).select_from(Delivery).where(Delivery.leased_by == "w1")
            )
        assert leased == 3
    finally:
        await database.dispose()
