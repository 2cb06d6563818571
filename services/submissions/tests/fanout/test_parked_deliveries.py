"""Deliveries parked while their agency had no active endpoint are pushed again.

A review found that a delivery whose retry fell due while its agency's endpoint was
disabled (a 410 on another delivery, or the 5-day rule) was parked for good: pending with
no push scheduled, it was not pushed after the agency enabled its endpoint, replay refused
it (not dead) and it never showed under ``?status=dead``. Enabling now pushes every parked
delivery of the agency (never one it acked from the feed), and replay takes a parked one."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from datetime import timedelta
from typing import Any

import orjson
import pytest
from sqlalchemy import select, text, update
from sqlalchemy.exc import DBAPIError

from tellonce_shared.testing import TokenFactory
from tellonce_submissions.deliveries import repository
from tellonce_submissions.deliveries import service as delivery_service
from tellonce_submissions.deliveries.clock import aware
from tellonce_submissions.deliveries.dispatch import Job
from tellonce_submissions.deliveries.models import Delivery, WebhookEndpoint
from tellonce_submissions.deliveries.ssrf import UnsafeURL

from .conftest import agency_code, enqueue_submission
from .worker_env import RawReceiver, WorkerEnv, raw_receiver, worker_env


@pytest.fixture
async def env(fresh_database_url: str, tokens: TokenFactory) -> AsyncIterator[WorkerEnv]:
    async with worker_env(fresh_database_url, tokens) as made:
        yield made


@pytest.fixture
async def receiver() -> AsyncIterator[RawReceiver]:
    async with raw_receiver(503, b"") as made:
        yield made


def sent_ids(receiver: RawReceiver) -> list[str]:
    return [orjson.loads(body)["data"]["delivery_id"] for body in receiver.received]


async def disabled_with_parked(
    env: WorkerEnv, receiver: RawReceiver
) -> tuple[str, dict[str, Any], str, str, str]:
    """The review's scenario: D1 fails (503) and waits for its retry; D2 gets a 410, which
    disables the endpoint; D1's retry falls due and D3 arrives while it is disabled, so
    both are parked. Returns (agency, endpoint, d1, d2, d3)."""
    agency = agency_code()
    endpoint = await env.register(agency, receiver.url)
    [d1] = await enqueue_submission(env.database, [(agency, {"n": 1}, ["/n"])])
    assert await env.worker.run_once() == 1
    receiver.status = 410
    [d2] = await enqueue_submission(env.database, [(agency, {"n": 2}, ["/n"])])
    assert await env.worker.run_once() == 1
    assert (await env.endpoint(endpoint["id"])).status == "disabled"
    env.clock.advance(timedelta(seconds=10))
    [d3] = await enqueue_submission(env.database, [(agency, {"n": 3}, ["/n"])])
    assert await env.worker.run_once() == 2
    for parked in (d1, d3):
        row = await env.delivery(parked)
        assert (row.status, row.next_attempt_at, row.lease_until) == ("pending", None, None)
    assert (await env.delivery(d2)).status == "dead"
    assert sent_ids(receiver) == [d1, d2]
    # Parked, they stay readable in the pull feed meanwhile.
    feed = await env.client.get("/api/v1/deliveries", headers=env.auth(agency))
    assert [i["id"] for i in feed.json()["items"]] == [d1, d2, d3]
    return agency, endpoint, d1, d2, d3


async def test_enabling_the_endpoint_pushes_what_was_parked(
    env: WorkerEnv, receiver: RawReceiver
) -> None:
    agency, endpoint, d1, d2, d3 = await disabled_with_parked(env, receiver)
    receiver.status = 204
    enabled = await env.client.post(
        f"/api/v1/deliveries/endpoints/{endpoint['id']}/enable", headers=env.auth(agency)
    )
    assert enabled.status_code == 200, enabled.text
    assert enabled.json()["status"] == "active"
    for parked in (d1, d3):
        row = await env.delivery(parked)
        assert row.status == "pending"
        assert row.attempts == 0  # a fresh round
        assert row.next_attempt_at is not None
        assert aware(row.next_attempt_at) <= env.clock.now()
    # No clock movement: they are due now.
    assert await env.worker.run_once() == 2
    for parked in (d1, d3):
        row = await env.delivery(parked)
        assert (row.status, row.attempts) == ("delivered", 1)
    assert sorted(sent_ids(receiver)[2:]) == sorted([d1, d3])
    # The dead one stays dead until replayed, as before.
    assert (await env.delivery(d2)).status == "dead"
    assert await env.worker.run_once() == 0


async def test_what_the_agency_acked_from_the_feed_is_not_pushed_after_enabling(
    env: WorkerEnv, receiver: RawReceiver
) -> None:
    agency, endpoint, d1, _, d3 = await disabled_with_parked(env, receiver)
    acked = await env.client.post(f"/api/v1/deliveries/{d1}/ack", headers=env.auth(agency))
    assert acked.json()["status"] == "acked"
    receiver.status = 204
    await env.client.post(
        f"/api/v1/deliveries/endpoints/{endpoint['id']}/enable", headers=env.auth(agency)
    )
    assert (await env.delivery(d1)).next_attempt_at is None
    assert await env.worker.run_once() == 1
    for _ in range(3):
        env.clock.advance(timedelta(hours=30))
        assert await env.worker.run_once() == 0
    assert sent_ids(receiver)[2:] == [d3]
    assert (await env.delivery(d1)).status == "acked"
    assert (await env.delivery(d3)).status == "delivered"


async def test_a_parked_delivery_is_replayed_once_an_endpoint_is_active(
    env: WorkerEnv, receiver: RawReceiver
) -> None:
    agency, endpoint, _, _, d3 = await disabled_with_parked(env, receiver)
    auth = env.auth(agency)
    refused = await env.client.post(f"/api/v1/deliveries/{d3}/replay", headers=auth)
    assert refused.status_code == 409
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert "no active webhook endpoint" in refused.json()["detail"]
    # The agency deletes the disabled endpoint and registers a new one instead of enabling
    # it: registering pushes nothing that waited, but a replay does.
    deleted = await env.client.delete(
        f"/api/v1/deliveries/endpoints/{endpoint['id']}", headers=auth
    )
    assert deleted.status_code == 204
    receiver.status = 204
    await env.register(agency, receiver.url)
    assert await env.worker.run_once() == 0
    replayed = await env.client.post(f"/api/v1/deliveries/{d3}/replay", headers=auth)
    assert replayed.status_code == 200, replayed.text
    body = replayed.json()
    assert (body["status"], body["replays"]) == ("pending", 1)
    assert await env.worker.run_once() == 1
    assert (await env.delivery(d3)).status == "delivered"
    assert sent_ids(receiver)[-1] == d3
    # A pending delivery with a push scheduled is not replayed (it is on its way).
    receiver.status = 503
    [d4] = await enqueue_submission(env.database, [(agency, {"n": 4}, ["/n"])])
    assert await env.worker.run_once() == 1
    scheduled = await env.client.post(f"/api/v1/deliveries/{d4}/replay", headers=auth)
    assert scheduled.status_code == 409
    assert "next push due at" in scheduled.json()["detail"]


async def test_a_delivery_claimed_before_the_endpoint_was_enabled_is_not_parked_after_it(
    env: WorkerEnv, receiver: RawReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The worker claims a delivery while the endpoint is disabled; the agency enables it
    before the worker parks the delivery. Enabling pushed what was parked then; the worker
    sees the endpoint active and leaves the delivery due rather than parking it after."""
    agency, endpoint, *_ = await disabled_with_parked(env, receiver)
    receiver.status = 204
    park = env.worker._park
    enabled: list[int] = []

    async def enable_first(jobs: Sequence[Job]) -> None:
        answer = await env.client.post(
            f"/api/v1/deliveries/endpoints/{endpoint['id']}/enable", headers=env.auth(agency)
        )
        enabled.append(answer.status_code)
        await park(jobs)

    monkeypatch.setattr(env.worker, "_park", enable_first)
    [late] = await enqueue_submission(env.database, [(agency, {"n": 5}, ["/n"])])
    assert await env.worker.run_once() == 1
    assert enabled == [200]
    row = await env.delivery(late)
    assert (row.status, row.lease_until) == ("pending", None)
    assert row.next_attempt_at is not None
    monkeypatch.setattr(env.worker, "_park", park)
    # The next turn pushes it with the two enabling made due.
    assert await env.worker.run_once() == 3
    assert (await env.delivery(late)).status == "delivered"
    assert late in sent_ids(receiver)


async def test_enabling_brings_scheduled_retries_forward(
    env: WorkerEnv, receiver: RawReceiver
) -> None:
    """A retry still scheduled when the endpoint was disabled goes at once on enabling."""
    agency = agency_code()
    endpoint = await env.register(agency, receiver.url)
    [waiting] = await enqueue_submission(env.database, [(agency, {"n": 1}, ["/n"])])
    assert await env.worker.run_once() == 1  # 503: next try in ~5 s
    receiver.status = 410
    [gone] = await enqueue_submission(env.database, [(agency, {"n": 2}, ["/n"])])
    assert await env.worker.run_once() == 1
    assert (await env.delivery(gone)).status == "dead"
    row = await env.delivery(waiting)
    assert row.next_attempt_at is not None
    assert aware(row.next_attempt_at) > env.clock.now()
    receiver.status = 204
    await env.client.post(
        f"/api/v1/deliveries/endpoints/{endpoint['id']}/enable", headers=env.auth(agency)
    )
    assert await env.worker.run_once() == 1
    row = await env.delivery(waiting)
    assert (row.status, row.attempts) == ("delivered", 2)  # its round goes on


async def test_parking_does_not_wait_for_an_enabling_in_progress(
    env: WorkerEnv, receiver: RawReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same race with the enabling's transaction still open when the worker parks: the
    worker does not wait for the agency's endpoint lock, and does not park the row either;
    it releases it due a poll interval later, and the next turn after the enabling pushes
    it with the others."""
    agency, endpoint, *_ = await disabled_with_parked(env, receiver)
    receiver.status = 204
    park = env.worker._park
    done_under_the_lock: list[bool] = []

    async def race(jobs: Sequence[Job]) -> None:
        async with env.database.sessions() as session, session.begin():
            await repository.lock_agency(session, agency)  # as enabling does
            await asyncio.wait_for(park(jobs), timeout=10)
            done_under_the_lock.append(True)
            await session.execute(
                update(WebhookEndpoint)
                .where(WebhookEndpoint.id == endpoint["id"])
                .values(status="active", disabled_at=None, disabled_reason=None)
            )
            await repository.push_parked(session, agency, env.clock.now())

    monkeypatch.setattr(env.worker, "_park", race)
    [late] = await enqueue_submission(env.database, [(agency, {"n": 5}, ["/n"])])
    assert await env.worker.run_once() == 1
    assert done_under_the_lock == [True]
    row = await env.delivery(late)
    assert (row.status, row.lease_until) == ("pending", None)
    assert row.next_attempt_at is not None  # not parked
    monkeypatch.setattr(env.worker, "_park", park)
    assert await env.worker.run_once() == 2  # the two the enabling pushed
    env.clock.advance(timedelta(seconds=env.settings.delivery_poll_seconds))
    assert await env.worker.run_once() == 1
    assert (await env.delivery(late)).status == "delivered"


async def agency_lock_free(env: WorkerEnv, agency: str) -> bool:
    """Whether another transaction could take the agency's endpoint lock, exclusive, now."""
    async with env.database.sessions() as session, session.begin():
        got = await session.scalar(
            text("SELECT pg_try_advisory_xact_lock(hashtext(:a))"),
            {"a": repository.AGENCY_LOCK + agency},
        )
        return bool(got)


async def endpoint_row_free(env: WorkerEnv, endpoint_id: str) -> bool:
    """Whether another transaction could lock the endpoint's row now."""
    try:
        async with env.database.sessions() as session, session.begin():
            await session.execute(
                select(WebhookEndpoint.id)
                .where(WebhookEndpoint.id == endpoint_id)
                .with_for_update(nowait=True)
            )
    except DBAPIError:
        return False
    return True


async def test_a_turn_is_not_blocked_by_an_enabling_holding_the_agency_lock(
    env: WorkerEnv, receiver: RawReceiver
) -> None:
    """A review (2026-11-26) found enabling held the agency's endpoint lock across its URL
    check (a DNS lookup) while a worker parking one of the agency's deliveries waited for
    it, before its heartbeat started: the other agencies' rows of the batch lost their
    leases, another worker sent them, then the first did too. Here an enabling holds the
    lock in another transaction: the turn ends all the same, the other agency's delivery
    is sent and recorded once, and the agency's row is neither parked nor claimed again
    at once."""
    agency, *_ = await disabled_with_parked(env, receiver)
    async with raw_receiver(204, b"") as other:
        other_agency = agency_code()
        await env.register(other_agency, other.url)
        [late] = await enqueue_submission(env.database, [(agency, {"n": 5}, ["/n"])])
        [theirs] = await enqueue_submission(env.database, [(other_agency, {"n": 1}, ["/n"])])
        async with env.database.sessions() as session, session.begin():
            await repository.lock_agency(session, agency)  # as an enabling does
            assert await asyncio.wait_for(env.worker.run_once(), timeout=10) == 2
            row = await env.delivery(late)
            assert (row.status, row.lease_until, row.leased_by) == ("pending", None, None)
            assert row.next_attempt_at is not None  # not parked
            assert aware(row.next_attempt_at) > env.clock.now()  # not claimed again at once
            assert await env.worker.run_once() == 0
            theirs_row = await env.delivery(theirs)
            assert theirs_row.status == "delivered"
        assert sent_ids(other) == [theirs]
        assert len(await env.attempts(theirs)) == 1
        assert env.worker.leases_lost == 0
    # That enabling never committed: the endpoint is still disabled, and the turn after the
    # delay parks the row.
    env.clock.advance(timedelta(seconds=env.settings.delivery_poll_seconds))
    assert await env.worker.run_once() == 1
    row = await env.delivery(late)
    assert (row.status, row.next_attempt_at, row.lease_until) == ("pending", None, None)


async def test_the_heartbeat_covers_the_batch_while_deliveries_are_parked(
    env: WorkerEnv, receiver: RawReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The heartbeat starts before parking: however long parking takes, the leases of the
    rows being sent are renewed meanwhile."""
    agency, *_ = await disabled_with_parked(env, receiver)
    env.worker.renew_every = 0.05
    park = env.worker._park
    renewed: list[bool] = []
    async with raw_receiver(204, b"") as other:
        other_agency = agency_code()
        await env.register(other_agency, other.url)
        await enqueue_submission(env.database, [(agency, {"n": 5}, ["/n"])])
        [theirs] = await enqueue_submission(env.database, [(other_agency, {"n": 1}, ["/n"])])

        async def slow_park(jobs: Sequence[Job]) -> None:
            claimed = (await env.delivery(theirs)).lease_until
            assert claimed is not None
            for _ in range(100):
                await asyncio.sleep(0.05)
                now = (await env.delivery(theirs)).lease_until
                if now is not None and now > claimed:
                    renewed.append(True)
                    break
            await park(jobs)

        monkeypatch.setattr(env.worker, "_park", slow_park)
        assert await env.worker.run_once() == 2
        assert renewed == [True]
        assert sent_ids(other) == [theirs]
        assert (await env.delivery(theirs)).status == "delivered"


async def test_enabling_checks_the_url_before_taking_the_agency_lock(
    env: WorkerEnv, receiver: RawReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Enabling's URL check (a DNS lookup in production) runs holding neither the agency's
    endpoint lock nor the endpoint's row; what was parked is still pushed."""
    agency, endpoint, d1, _, d3 = await disabled_with_parked(env, receiver)
    seen: list[tuple[str, bool, bool]] = []

    async def probing_check(url: str, *, production: bool) -> None:
        seen.append(
            (url, await agency_lock_free(env, agency), await endpoint_row_free(env, endpoint["id"]))
        )

    monkeypatch.setattr(delivery_service, "check_url", probing_check)
    receiver.status = 204
    enabled = await env.client.post(
        f"/api/v1/deliveries/endpoints/{endpoint['id']}/enable", headers=env.auth(agency)
    )
    assert enabled.status_code == 200, enabled.text
    assert enabled.json()["status"] == "active"
    assert seen == [(receiver.url, True, True)]
    assert await env.worker.run_once() == 2
    assert sorted(sent_ids(receiver)[2:]) == sorted([d1, d3])


async def test_an_enabling_whose_url_check_fails_takes_no_lock(
    env: WorkerEnv, receiver: RawReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A URL that no longer passes (a name that does not resolve, or not in time) is a 422
    before any lock is taken, so calling enable in a loop stalls nothing; the endpoint stays
    disabled and the agency's deliveries are parked as before."""
    agency, endpoint, *_ = await disabled_with_parked(env, receiver)
    free: list[bool] = []

    async def failing_check(url: str, *, production: bool) -> None:
        free.append(await agency_lock_free(env, agency))
        raise UnsafeURL("the host hooks.example.org did not resolve within 5 s")

    monkeypatch.setattr(delivery_service, "check_url", failing_check)
    [late] = await enqueue_submission(env.database, [(agency, {"n": 5}, ["/n"])])
    for _ in range(3):
        refused = await env.client.post(
            f"/api/v1/deliveries/endpoints/{endpoint['id']}/enable", headers=env.auth(agency)
        )
        assert refused.status_code == 422
        assert "did not resolve within" in refused.json()["detail"]
    assert free == [True, True, True]
    assert (await env.endpoint(endpoint["id"])).status == "disabled"
    assert await env.worker.run_once() == 1
    assert (await env.delivery(late)).next_attempt_at is None  # parked


async def test_what_changed_during_the_url_check_is_decided_under_the_lock(
    env: WorkerEnv, receiver: RawReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Registering another endpoint during the enabling's URL check is not held up by it
    (registering takes the agency's lock), and enabling, reading again under the lock,
    then refuses: one active endpoint per agency."""
    agency, endpoint, *_ = await disabled_with_parked(env, receiver)

    calls: list[str] = []

    async def register_meanwhile(url: str, *, production: bool) -> None:
        calls.append(url)
        if len(calls) == 1:  # enabling's check; registering calls it too
            await asyncio.wait_for(env.register(agency, receiver.url), timeout=10)

    monkeypatch.setattr(delivery_service, "check_url", register_meanwhile)
    refused = await env.client.post(
        f"/api/v1/deliveries/endpoints/{endpoint['id']}/enable", headers=env.auth(agency)
    )
    assert refused.status_code == 409, refused.text
    assert "another active webhook endpoint" in refused.json()["detail"]
    assert (await env.endpoint(endpoint["id"])).status == "disabled"
    assert calls == [receiver.url, receiver.url]


async def test_an_endpoint_enabled_during_the_url_check_is_not_enabled_again(
    env: WorkerEnv, receiver: RawReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An enabling that finds, under the lock, that the endpoint was enabled during its URL
    check (another enabling) changes nothing: the status is read afresh, not taken from
    before the check. Here a scheduled retry shows it (it would be brought forward)."""
    agency, endpoint, d1, *_ = await disabled_with_parked(env, receiver)
    later = env.clock.now() + timedelta(minutes=5)

    async def enabled_meanwhile(url: str, *, production: bool) -> None:
        async with env.database.sessions() as session, session.begin():
            await session.execute(
                update(WebhookEndpoint)
                .where(WebhookEndpoint.id == endpoint["id"])
                .values(status="active", disabled_at=None, disabled_reason=None)
            )
            await session.execute(
                update(Delivery).where(Delivery.id == d1).values(next_attempt_at=later)
            )

    monkeypatch.setattr(delivery_service, "check_url", enabled_meanwhile)
    enabled = await env.client.post(
        f"/api/v1/deliveries/endpoints/{endpoint['id']}/enable", headers=env.auth(agency)
    )
    assert enabled.status_code == 200, enabled.text
    assert enabled.json()["status"] == "active"
    row = await env.delivery(d1)
    assert row.next_attempt_at is not None
    assert aware(row.next_attempt_at) == later
