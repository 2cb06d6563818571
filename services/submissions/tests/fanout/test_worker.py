"""Workers against real receivers on 127.0.0.1: signatures checked by the standardwebhooks
package (also during a rotation), the payload of API.md with only the agency's fields, the
retry schedule on a fake clock, Retry-After, 410, 4xx, dead letters and replay, the 5-day
endpoint disable, and the SSRF guard at connection time."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import aiohttp
import orjson
import pytest
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from tellonce_shared.testing import TokenFactory, asgi_client, static_verifier
from tellonce_submissions.config import Settings
from tellonce_submissions.db import Database
from tellonce_submissions.deliveries.clock import aware
from tellonce_submissions.deliveries.models import Delivery
from tellonce_submissions.deliveries.schedule import RETRY_DELAYS
from tellonce_submissions.deliveries.ssrf import Refused, webhook_client
from tellonce_submissions.main import create_app
from tellonce_submissions.worker import DeliveryWorker

from .conftest import FakeClock, Receiver, agency_code, enqueue_submission, make_settings


@dataclass
class Env:
    database: Database
    settings: Settings
    clock: FakeClock
    worker: DeliveryWorker
    client: Any
    tokens: TokenFactory

    async def delivery(self, delivery_id: str) -> Delivery:
        async with self.database.sessions() as session:
            row = await session.get(Delivery, delivery_id)
            assert row is not None
            return row

    async def register(self, agency: str, url: str) -> dict[str, Any]:
        answer = await self.client.post(
            "/api/v1/deliveries/endpoints",
            json={"url": url},
            headers=self.tokens.headers(role="agency", agency=agency),
        )
        assert answer.status_code == 201, answer.text
        body: dict[str, Any] = answer.json()
        return body


@pytest.fixture
async def env(fresh_database_url: str, tokens: TokenFactory) -> AsyncIterator[Env]:
    settings = make_settings(fresh_database_url)
    database = Database(fresh_database_url)
    clock = FakeClock()
    worker = DeliveryWorker(database, settings, clock=clock, rng=random.Random(6), name="w-test")
    app = create_app(settings, verifier=static_verifier(tokens))
    app.state.delivery_clock = clock
    async with asgi_client(app) as client:
        yield Env(database, settings, clock, worker, client, tokens)
    await worker.aclose()
    await app.state.database.dispose()
    await database.dispose()


def verify(secret: str, received: Any) -> dict[str, Any]:
    payload: dict[str, Any] = Webhook(secret).verify(received.body, received.headers)
    return payload


async def test_delivers_signed_payload_with_only_the_agencys_fields(
    env: Env, receiver_factory: Callable[[], Awaitable[Receiver]]
) -> None:
    receiver = await receiver_factory()
    pushed, pulled = agency_code(), agency_code()
    endpoint = await env.register(pushed, receiver.url)
    ids = await enqueue_submission(
        env.database,
        [
            (pushed, {"income": 1200, "household": {"size": 3}}, ["/income", "/household/size"]),
            (pulled, {"name": "Ada"}, ["/name"]),
        ],
        reference="CT-2026-TEST-0001",
    )
    assert await env.worker.run_once() == 2
    assert len(receiver.received) == 1
    got = receiver.received[0]
    payload = verify(endpoint["secret"], got)
    assert got.headers["webhook-id"] == ids[0]
    assert got.headers["content-type"] == "application/json"
    assert set(payload) == {"type", "timestamp", "data"}
    assert payload["type"] == "submission.created"
    data = payload["data"]
    assert set(data) == {
        "delivery_id",
        "submission_id",
        "reference",
        "form",
        "version",
        "agency",
        "submitted_at",
        "answers",
    }
    assert data["delivery_id"] == ids[0]
    assert data["agency"] == pushed
    assert data["reference"] == "CT-2026-TEST-0001"
    assert data["answers"] == {"income": 1200, "household": {"size": 3}}
    assert "name" not in got.body.decode()

    delivered = await env.delivery(ids[0])
    assert delivered.status == "delivered"
    # The agency without an endpoint: nothing pushed, waiting in its pull feed.
    waiting = await env.delivery(ids[1])
    assert waiting.status == "pending"
    assert waiting.next_attempt_at is None
    assert await env.worker.run_once() == 0

    state = await env.client.get(
        f"/api/v1/deliveries/{ids[0]}", headers=env.tokens.headers(role="admin")
    )
    assert state.json()["status"] == "delivered"
    assert state.json()["attempt_log"][0]["status_code"] == 204
    assert "answers" not in state.json()
    log = await env.client.get(
        "/api/v1/deliveries/access-log",
        params={"agency": pushed},
        headers=env.tokens.headers(role="auditor"),
    )
    entries = log.json()["items"]
    assert [(e["delivery_id"], e["channel"]) for e in entries] == [(ids[0], "webhook")]
    assert entries[0]["fields"] == ["/income", "/household/size"]


async def test_rotation_signs_with_both_secrets_for_24_hours(
    env: Env, receiver_factory: Callable[[], Awaitable[Receiver]]
) -> None:
    receiver = await receiver_factory()
    agency = agency_code()
    endpoint = await env.register(agency, receiver.url)
    old = endpoint["secret"]
    rotated = await env.client.post(
        f"/api/v1/deliveries/endpoints/{endpoint['id']}/rotate-secret",
        headers=env.tokens.headers(role="agency", agency=agency),
    )
    new = rotated.json()["secret"]
    await enqueue_submission(env.database, [(agency, {"a": 1}, ["/a"])])
    await env.worker.run_once()
    during = receiver.received[-1]
    assert len(during.headers["webhook-signature"].split(" ")) == 2
    assert verify(old, during)["data"]["answers"] == {"a": 1}
    assert verify(new, during)["data"]["answers"] == {"a": 1}

    env.clock.advance(timedelta(hours=24, minutes=1))
    await enqueue_submission(env.database, [(agency, {"a": 2}, ["/a"])])
    # The outbox row is due at its (real) creation time; the fake clock is ahead of it.
    await env.worker.run_once()
    after = receiver.received[-1]
    assert len(after.headers["webhook-signature"].split(" ")) == 1
    assert verify(new, after)["data"]["answers"] == {"a": 2}
    with pytest.raises(WebhookVerificationError):
        verify(old, after)


async def _step_to_next_attempt(env: Env, delivery_id: str) -> datetime:
    row = await env.delivery(delivery_id)
    assert row.next_attempt_at is not None
    due = aware(row.next_attempt_at)
    env.clock.move_to(due)
    return due


async def test_down_then_up_follows_the_schedule_and_all_arrive(
    env: Env, receiver_factory: Callable[[], Awaitable[Receiver]]
) -> None:
    receiver = await receiver_factory()
    agency = agency_code()
    await env.register(agency, receiver.url)
    receiver.respond(503)
    ids = []
    for n in range(3):
        ids.extend(await enqueue_submission(env.database, [(agency, {"n": n}, ["/n"])]))
    # Attempt 1 is immediate.
    assert await env.worker.run_once() == 3
    start = env.clock.now()
    for failed, base in enumerate(RETRY_DELAYS[:5], start=1):
        rows = [await env.delivery(i) for i in ids]
        for row in rows:
            assert row.attempts == failed
            assert row.status == "pending"
            assert row.next_attempt_at is not None
            wait = aware(row.next_attempt_at) - env.clock.now()
            assert base * 0.9 - timedelta(seconds=1) <= wait <= base * 1.1, (failed, wait)
        # Not due yet: nothing is claimed.
        env.clock.advance(base * 0.85)
        assert await env.worker.run_once() == 0
        env.clock.advance(base * 0.3)
        assert await env.worker.run_once() == 3
    # The receiver comes back: the next scheduled attempt delivers everything.
    receiver.respond(200)
    env.clock.advance(RETRY_DELAYS[5] * 1.2)
    assert await env.worker.run_once() == 3
    for delivery_id in ids:
        row = await env.delivery(delivery_id)
        assert row.status == "delivered"
        assert row.attempts == 7
    by_id: dict[str, int] = {}
    for got in receiver.received:
        by_id[got.headers["webhook-id"]] = by_id.get(got.headers["webhook-id"], 0) + 1
    assert by_id == dict.fromkeys(ids, 7)
    assert env.clock.now() - start > timedelta(hours=7)


async def test_exhausted_retries_are_dead_visible_and_replayable(
    env: Env, receiver_factory: Callable[[], Awaitable[Receiver]]
) -> None:
    receiver = await receiver_factory()
    agency = agency_code()
    await env.register(agency, receiver.url)
    receiver.respond(500)
    [delivery_id] = await enqueue_submission(env.database, [(agency, {"x": 1}, ["/x"])])
    await env.worker.run_once()
    for _ in range(9):
        await _step_to_next_attempt(env, delivery_id)
        assert await env.worker.run_once() == 1
    row = await env.delivery(delivery_id)
    assert row.status == "dead"
    assert len(receiver.received) == 10
    auth = env.tokens.headers(role="agency", agency=agency)
    dead = await env.client.get("/api/v1/deliveries", params={"status": "dead"}, headers=auth)
    assert dead.status_code == 200
    [item] = dead.json()["items"]
    assert item["id"] == delivery_id
    assert item["attempts"] == 10
    assert [a["status_code"] for a in item["attempt_log"]] == [500] * 10
    assert all(a["latency_ms"] >= 0 and a["error"] for a in item["attempt_log"])

    receiver.respond(200)
    replayed = await env.client.post("/api/v1/deliveries/replay", headers=auth)
    assert replayed.json() == {"replayed": 1, "ids": [delivery_id]}
    assert await env.worker.run_once() == 1
    assert (await env.delivery(delivery_id)).status == "delivered"
    assert len(receiver.received) == 11


async def test_400_is_dead_at_once_and_replay_delivers_it_once_fixed(
    env: Env, receiver_factory: Callable[[], Awaitable[Receiver]]
) -> None:
    receiver = await receiver_factory()
    agency = agency_code()
    endpoint = await env.register(agency, receiver.url)
    receiver.respond(400)
    [delivery_id] = await enqueue_submission(env.database, [(agency, {"x": 1}, ["/x"])])
    await env.worker.run_once()
    row = await env.delivery(delivery_id)
    assert row.status == "dead"
    assert row.attempts == 1
    auth = env.tokens.headers(role="agency", agency=agency)
    dead = await env.client.get("/api/v1/deliveries?status=dead", headers=auth)
    assert [i["id"] for i in dead.json()["items"]] == [delivery_id]
    # Another agency cannot replay it; replaying a delivered one is a conflict.
    other = env.tokens.headers(role="agency", agency=agency_code())
    assert (
        await env.client.post(f"/api/v1/deliveries/{delivery_id}/replay", headers=other)
    ).status_code == 404

    receiver.respond(200)
    replay = await env.client.post(f"/api/v1/deliveries/{delivery_id}/replay", headers=auth)
    assert replay.status_code == 200
    assert replay.json()["status"] == "pending"
    assert await env.worker.run_once() == 1
    assert await env.worker.run_once() == 0
    assert (await env.delivery(delivery_id)).status == "delivered"
    assert len(receiver.received) == 2
    assert verify(endpoint["secret"], receiver.received[-1])["data"]["delivery_id"] == delivery_id
    again = await env.client.post(f"/api/v1/deliveries/{delivery_id}/replay", headers=auth)
    assert again.status_code == 409


async def test_410_disables_the_endpoint_and_later_deliveries_wait_for_pull(
    env: Env, receiver_factory: Callable[[], Awaitable[Receiver]]
) -> None:
    receiver = await receiver_factory()
    agency = agency_code()
    endpoint = await env.register(agency, receiver.url)
    receiver.respond(410)
    [first] = await enqueue_submission(env.database, [(agency, {"x": 1}, ["/x"])])
    await env.worker.run_once()
    assert (await env.delivery(first)).status == "dead"
    auth = env.tokens.headers(role="agency", agency=agency)
    [listed] = (await env.client.get("/api/v1/deliveries/endpoints", headers=auth)).json()["items"]
    assert listed["status"] == "disabled"
    assert "410" in listed["disabled_reason"]
    [second] = await enqueue_submission(env.database, [(agency, {"x": 2}, ["/x"])])
    await env.worker.run_once()
    assert len(receiver.received) == 1
    assert (await env.delivery(second)).next_attempt_at is None
    feed = await env.client.get("/api/v1/deliveries", headers=auth)
    assert [i["id"] for i in feed.json()["items"]] == [first, second]
    summary = await env.client.get("/api/v1/deliveries/summary", headers=auth)
    assert summary.status_code == 200
    assert summary.json()["agencies"] == [
        {
            "agency": agency,
            "pending": 1,
            "delivered": 0,
            "acked": 0,
            "dead": 1,
            "endpoint_status": "disabled",
        }
    ]
    admin_view = await env.client.get(
        "/api/v1/deliveries/summary", headers=env.tokens.headers(role="admin")
    )
    assert agency in {a["agency"] for a in admin_view.json()["agencies"]}
    scraped = await env.client.get("/metrics")
    assert f'tellonce_deliveries{{agency="{agency}",state="dead"}} 1.0' in scraped.text
    # The agency fixes its receiver, re-enables the endpoint and replays the dead one.
    receiver.respond(200)
    enabled = await env.client.post(
        f"/api/v1/deliveries/endpoints/{endpoint['id']}/enable", headers=auth
    )
    assert enabled.json()["status"] == "active"
    await env.client.post(f"/api/v1/deliveries/{first}/replay", headers=auth)
    await env.worker.run_once()
    assert (await env.delivery(first)).status == "delivered"


async def test_retry_after_is_honoured(
    env: Env, receiver_factory: Callable[[], Awaitable[Receiver]]
) -> None:
    receiver = await receiver_factory()
    agency = agency_code()
    await env.register(agency, receiver.url)
    receiver.respond(429, {"Retry-After": "3600"})
    [delivery_id] = await enqueue_submission(env.database, [(agency, {"x": 1}, ["/x"])])
    await env.worker.run_once()
    row = await env.delivery(delivery_id)
    assert row.status == "pending"
    assert row.next_attempt_at is not None
    assert aware(row.next_attempt_at) - env.clock.now() >= timedelta(seconds=3595)
    env.clock.advance(timedelta(minutes=30))
    assert await env.worker.run_once() == 0


async def test_endpoint_failing_five_days_straight_is_disabled_with_a_reason(
    env: Env, receiver_factory: Callable[[], Awaitable[Receiver]]
) -> None:
    receiver = await receiver_factory()
    agency = agency_code()
    await env.register(agency, receiver.url)
    receiver.respond(503)
    auth = env.tokens.headers(role="agency", agency=agency)
    start = env.clock.now()
    next_new = start
    for _ in range(200):
        if env.clock.now() >= next_new:
            await enqueue_submission(env.database, [(agency, {"x": 1}, ["/x"])])
            next_new = env.clock.now() + timedelta(hours=12)
        await env.worker.run_once()
        [endpoint] = (await env.client.get("/api/v1/deliveries/endpoints", headers=auth)).json()[
            "items"
        ]
        if endpoint["status"] == "disabled":
            break
        env.clock.advance(timedelta(hours=1))
    assert endpoint["status"] == "disabled"
    assert "no successful delivery since" in endpoint["disabled_reason"]
    assert env.clock.now() - start >= timedelta(days=5)
    assert env.clock.now() - start < timedelta(days=5, hours=2)


async def test_production_client_refuses_loopback_at_connection_time(
    receiver_factory: Callable[[], Awaitable[Receiver]],
) -> None:
    receiver = await receiver_factory()
    client = webhook_client(production=True)
    try:
        with pytest.raises(Refused):
            await client.post(receiver.url, body=b"{}", headers={})
        # A name (as after DNS rebinding) is resolved and checked at connection time.
        with pytest.raises(aiohttp.ClientConnectorError):
            await client.post(
                receiver.url.replace("127.0.0.1", "localhost"), body=b"{}", headers={}
            )
    finally:
        await client.aclose()
    assert receiver.received == []
    local = webhook_client(production=False)
    try:
        answer = await local.post(receiver.url, body=b"{}", headers={})
        assert answer.status == 204
    finally:
        await local.aclose()


async def test_redirects_are_not_followed(
    env: Env, receiver_factory: Callable[[], Awaitable[Receiver]]
) -> None:
    target = await receiver_factory()
    receiver = await receiver_factory()
    agency = agency_code()
    await env.register(agency, receiver.url)
    receiver.respond(307, {"Location": target.url})
    [delivery_id] = await enqueue_submission(env.database, [(agency, {"x": 1}, ["/x"])])
    await env.worker.run_once()
    assert target.received == []
    row = await env.delivery(delivery_id)
    assert row.status == "pending"
    assert row.last_status_code == 307
    assert orjson.loads(receiver.received[0].body)["data"]["delivery_id"] == delivery_id


async def test_a_recovered_endpoint_gets_its_waiting_retries_at_once(
    env: Env, receiver_factory: Callable[[], Awaitable[Receiver]]
) -> None:
    receiver = await receiver_factory()
    agency = agency_code()
    await env.register(agency, receiver.url)
    receiver.respond(503)
    waiting = []
    for n in range(3):
        waiting.extend(await enqueue_submission(env.database, [(agency, {"n": n}, ["/n"])]))
    await env.worker.run_once()
    env.clock.advance(timedelta(seconds=6))
    await env.worker.run_once()  # second failure: the next try is ~5 minutes away
    receiver.respond(200)
    [fresh] = await enqueue_submission(env.database, [(agency, {"n": 9}, ["/n"])])
    assert await env.worker.run_once() == 1  # only the new one is due; it succeeds
    assert (await env.delivery(fresh)).status == "delivered"
    # No clock movement: the success made the waiting retries due now.
    assert await env.worker.run_once() == 3
    for delivery_id in waiting:
        assert (await env.delivery(delivery_id)).status == "delivered"
