"""Several workers on PostgreSQL: never the same row twice at once (FOR UPDATE SKIP
LOCKED); a worker killed with SIGKILL mid-delivery loses nothing (its lease expires and
another worker retakes the row within 60 s); 1,000 submissions to 3 agencies with 3
worker processes, one killed and restarted, all arrive with only each agency's fields."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

import orjson
from sqlalchemy import func, select
from standardwebhooks import Webhook

from tellonce_shared.testing import TokenFactory, asgi_client, static_verifier
from tellonce_submissions.db import Database
from tellonce_submissions.deliveries.models import Delivery, DeliveryAttempt
from tellonce_submissions.main import create_app
from tellonce_submissions.worker import DeliveryWorker

from .conftest import Receiver, agency_code, enqueue_submission, make_settings


async def register(url: str, tokens: TokenFactory, agency: str, receiver_url: str) -> str:
    app = create_app(make_settings(url), verifier=static_verifier(tokens))
    try:
        async with asgi_client(app) as client:
            answer = await client.post(
                "/api/v1/deliveries/endpoints",
                json={"url": receiver_url},
                headers=tokens.headers(role="agency", agency=agency),
            )
            assert answer.status_code == 201, answer.text
            secret: str = answer.json()["secret"]
            return secret
    finally:
        await app.state.database.dispose()


def spawn_worker(url: str, **env: str) -> subprocess.Popen[bytes]:
    environment = {
        **os.environ,
        "SUBMISSIONS_DATABASE_URL": url,
        "SUBMISSIONS_MODE": "local",
        "SUBMISSIONS_LOG_LEVEL": "WARNING",
        **env,
    }
    return subprocess.Popen(
        [sys.executable, "-m", "tellonce_submissions.cli", "worker"],
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


async def wait_until(check: Callable[[], bool], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.05)


async def worker_has_attempts(database: Database, marker: str) -> bool:
    async with database.sessions() as session:
        found = await session.scalar(
            select(func.count())
            .select_from(DeliveryAttempt)
            .where(DeliveryAttempt.worker.contains(marker))
        )
    return bool(found)


async def all_delivered(database: Database, count: int) -> bool:
    async with database.sessions() as session:
        done = await session.scalar(
            select(func.count()).select_from(Delivery).where(Delivery.status == "delivered")
        )
    return done == count


async def wait_until_async(check: Callable[[], Awaitable[bool]], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not await check():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.1)


async def test_two_workers_never_deliver_the_same_row_twice(
    fresh_database_url: str,
    tokens: TokenFactory,
    receiver_factory: Callable[[], Awaitable[Receiver]],
) -> None:
    receiver = await receiver_factory()

    async def slow(_: Any) -> tuple[int, dict[str, str]]:
        await asyncio.sleep(0.01)
        return 200, {}

    receiver.answer = slow
    agency = agency_code()
    await register(fresh_database_url, tokens, agency, receiver.url)
    settings = make_settings(fresh_database_url, delivery_batch_size=16)
    databases = [Database(fresh_database_url) for _ in range(3)]
    ids: list[str] = []
    for n in range(300):
        ids.extend(await enqueue_submission(databases[0], [(agency, {"n": n}, ["/n"])]))
    workers = [DeliveryWorker(databases[i + 1], settings, name=f"w{i}") for i in range(2)]
    halt = asyncio.Event()
    runs = [asyncio.create_task(w.run(halt)) for w in workers]
    try:
        await wait_until(lambda: len(receiver.received) >= 300, 60)
        await asyncio.sleep(0.5)
    finally:
        halt.set()
        await asyncio.gather(*runs)
        for w in workers:
            await w.aclose()
    counts = Counter(r.headers["webhook-id"] for r in receiver.received)
    assert set(counts) == set(ids)
    assert max(counts.values()) == 1, "a delivery was sent twice"
    async with databases[0].sessions() as session:
        per_worker = dict(
            (
                await session.execute(
                    select(DeliveryAttempt.worker, func.count()).group_by(DeliveryAttempt.worker)
                )
            ).all()
        )
        delivered = await session.scalar(
            select(func.count()).select_from(Delivery).where(Delivery.status == "delivered")
        )
    assert delivered == 300
    assert sum(per_worker.values()) == 300
    assert set(per_worker) == {"w0", "w1"}, per_worker  # both took a share
    for db in databases:
        await db.dispose()


async def test_killed_worker_delivery_is_retaken_within_60_seconds(
    fresh_database_url: str,
    tokens: TokenFactory,
    receiver_factory: Callable[[], Awaitable[Receiver]],
) -> None:
    receiver = await receiver_factory()
    hang = asyncio.Event()

    async def first_hangs(_: Any) -> tuple[int, dict[str, str]]:
        if len(receiver.received) == 1:
            await hang.wait()
        return 200, {}

    receiver.answer = first_hangs
    agency = agency_code()
    secret = await register(fresh_database_url, tokens, agency, receiver.url)
    database = Database(fresh_database_url)
    process = spawn_worker(fresh_database_url)  # the default 30 s lease
    try:
        [delivery_id] = await enqueue_submission(database, [(agency, {"x": 1}, ["/x"])])
        await wait_until(lambda: len(receiver.received) == 1, 30)
        process.send_signal(signal.SIGKILL)
        process.wait()
        killed_at = time.monotonic()
        hang.set()
        worker = DeliveryWorker(database, make_settings(fresh_database_url), name="rescuer")
        halt = asyncio.Event()
        run = asyncio.create_task(worker.run(halt))
        try:
            await wait_until(lambda: len(receiver.received) == 2, 65)
            retaken_after = time.monotonic() - killed_at
        finally:
            halt.set()
            await run
            await worker.aclose()
        assert retaken_after < 60
        first, second = receiver.received
        assert first.headers["webhook-id"] == second.headers["webhook-id"] == delivery_id
        Webhook(secret).verify(second.body, second.headers)
        async with database.sessions() as session:
            row = await session.get(Delivery, delivery_id)
            assert row is not None
            assert row.status == "delivered"
    finally:
        stop(process)
        await database.dispose()


async def test_thousand_submissions_three_agencies_three_workers_one_killed(
    fresh_database_url: str,
    tokens: TokenFactory,
    receiver_factory: Callable[[], Awaitable[Receiver]],
) -> None:
    fields = {
        "OWN": ["/name", "/ssn", "/income", "/address"],
        "DOL": ["/income"],
        "DMV": ["/name", "/address"],
    }
    agencies = {key: agency_code() for key in fields}
    receivers = {key: await receiver_factory() for key in fields}
    secrets = {
        key: await register(fresh_database_url, tokens, agencies[key], receivers[key].url)
        for key in fields
    }
    database = Database(fresh_database_url)
    lease = {"SUBMISSIONS_DELIVERY_LEASE_SECONDS": "5"}
    # Worker 0 starts first and the others once it has delivered: started together on a
    # loaded machine, the other two could drain every row before worker 0 had imported,
    # leaving it nothing to be killed in the middle of (a CI run timed out that way).
    workers = [spawn_worker(fresh_database_url, **lease)]
    expected: set[str] = set()
    try:

        async def submit(n: int) -> None:
            answers = {"name": f"R{n}", "ssn": f"000-00-{n:04d}", "income": n, "address": "1 Main"}
            receivers_list = [
                (agencies[key], {k.strip("/"): answers[k.strip("/")] for k in f}, f)
                for key, f in fields.items()
            ]
            expected.update(await enqueue_submission(database, receivers_list))

        # Eight writers at a time, one transaction per submission; worker 0 is killed
        # (SIGKILL) after 400 submissions and started again after 600.
        for wave in range(0, 1000, 8):
            await asyncio.gather(*(submit(n) for n in range(wave, min(wave + 8, 1000))))
            if wave == 0:
                first = f":{workers[0].pid}:"
                await wait_until_async(partial(worker_has_attempts, database, first), 60)
                workers += [spawn_worker(fresh_database_url, **lease) for _ in range(2)]
            if wave == 400:
                # Kill it mid-run: only once it has recorded deliveries of its own.
                victim = f":{workers[0].pid}:"
                await wait_until_async(partial(worker_has_attempts, database, victim), 60)
                workers[0].send_signal(signal.SIGKILL)
                workers[0].wait()
            if wave == 600:
                workers[0] = spawn_worker(fresh_database_url, **lease)

        def arrived() -> set[str]:
            return {r.headers["webhook-id"] for rc in receivers.values() for r in rc.received}

        await wait_until(lambda: arrived() >= expected, 120)
        # Rows the killed worker had sent but not recorded stay leased until the lease runs
        # out; another worker must then retake them (a duplicate with the same id), so nothing
        # is left pending.
        await wait_until_async(lambda: all_delivered(database, 3000), 120)
    finally:
        for process in workers:
            stop(process)
    assert len(expected) == 3000
    bodies: dict[str, bytes] = {}
    for key, receiver in receivers.items():
        allowed = {f.strip("/") for f in fields[key]}
        webhook = Webhook(secrets[key])
        for got in receiver.received:
            payload = webhook.verify(got.body, got.headers)
            data = payload["data"]
            assert data["agency"] == agencies[key]
            assert data["delivery_id"] == got.headers["webhook-id"]
            assert set(data["answers"]) == allowed, "a field outside the agreement"
            previous = bodies.setdefault(got.headers["webhook-id"], orjson.dumps(data))
            assert previous == orjson.dumps(data), "a duplicate differs from the first"
    assert set(bodies) == expected
    async with database.sessions() as session:
        states = dict(
            (
                await session.execute(
                    select(Delivery.status, func.count()).group_by(Delivery.status)
                )
            ).all()
        )
    assert states == {"delivered": 3000}
    await database.dispose()
