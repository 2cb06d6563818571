"""`make run` uses SQLite with one worker: the outbox, the worker and the pull feed work
there too (no SKIP LOCKED, no LISTEN: the worker polls)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from standardwebhooks import Webhook

from tellonce_shared.migrations import upgrade
from tellonce_shared.testing import TokenFactory, asgi_client, static_verifier
from tellonce_submissions.db import Database
from tellonce_submissions.main import create_app
from tellonce_submissions.worker import AnotherWorkerRuns, DeliveryWorker, sqlite_single_worker

from .conftest import SERVICE_DIR, Receiver, agency_code, enqueue_submission, make_settings


async def test_one_worker_on_sqlite_pushes_and_the_feed_reads(
    tmp_path: Path, tokens: TokenFactory, receiver_factory: Callable[[], Awaitable[Receiver]]
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'submissions.db'}"
    await asyncio.to_thread(upgrade, SERVICE_DIR, url)
    settings = make_settings(url, delivery_poll_seconds=0.05)
    receiver = await receiver_factory()
    pushed, pulled = agency_code(), agency_code()
    app = create_app(settings, verifier=static_verifier(tokens))
    database = Database(url)
    worker = DeliveryWorker(database, settings, name="sqlite-worker")
    stop = asyncio.Event()
    try:
        async with asgi_client(app) as client:
            created = await client.post(
                "/api/v1/deliveries/endpoints",
                json={"url": receiver.url},
                headers=tokens.headers(role="agency", agency=pushed),
            )
            secret = created.json()["secret"]
            running = asyncio.create_task(worker.run(stop))
            ids = []
            for n in range(5):
                ids += await enqueue_submission(
                    database, [(pushed, {"n": n}, ["/n"]), (pulled, {"m": n}, ["/m"])]
                )
            for _ in range(200):
                if len(receiver.received) >= 5:
                    break
                await asyncio.sleep(0.05)
            stop.set()
            await running
            assert len(receiver.received) == 5
            for got in receiver.received:
                assert Webhook(secret).verify(got.body, got.headers)["data"]["agency"] == pushed
            feed = await client.get(
                "/api/v1/deliveries", headers=tokens.headers(role="agency", agency=pulled)
            )
            assert feed.status_code == 200
            assert [i["answers"] for i in feed.json()["items"]] == [{"m": n} for n in range(5)]
    finally:
        stop.set()
        await worker.aclose()
        await database.dispose()
        await app.state.database.dispose()


def test_a_second_worker_on_the_same_sqlite_file_refuses_to_start(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'submissions.db'}"
    first = sqlite_single_worker(url)
    assert first is not None
    try:
        with pytest.raises(AnotherWorkerRuns):
            sqlite_single_worker(url)
    finally:
        first.close()
    again = sqlite_single_worker(url)  # the first one is gone: a new one may start
    assert again is not None
    again.close()
    assert sqlite_single_worker("postgresql+psycopg://postgres@127.0.0.1/x") is None
