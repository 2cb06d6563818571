"""One receiver's answer, or one bad row, must never cost a worker its whole batch.

A review found that a ``Retry-After: 99999999999999`` (OverflowError in the delay) or an
error body holding a NUL (PostgreSQL refuses it in text) made the batch's recording fail:
nothing of the batch was recorded (not the other agencies' successes, not the attempt log,
not the access log), the leases ran out and every row of it was sent again, for ever.
These tests hold each delivery of a batch to its own fate."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import update
from sqlalchemy.exc import DataError, OperationalError

from tellonce_shared.testing import TokenFactory
from tellonce_submissions.deliveries import dispatch, metrics
from tellonce_submissions.deliveries.clock import aware
from tellonce_submissions.deliveries.dispatch import AttemptResult, Decision
from tellonce_submissions.deliveries.models import Delivery, WebhookEndpoint
from tellonce_submissions.deliveries.schedule import MAX_RETRY_AFTER
from tellonce_submissions.worker import (
    UNOPENABLE_SECRET,
    UNOPENABLE_SHARE,
    UNRECORDABLE,
    UNSTORED_ERROR,
    database_unreachable,
)

from .conftest import agency_code, enqueue_submission
from .worker_env import ScriptedClient, WorkerEnv, answers, raises, raw_receiver, worker_env

LEASE = timedelta(seconds=31)


@pytest.fixture
async def env(fresh_database_url: str, tokens: TokenFactory) -> AsyncIterator[WorkerEnv]:
    async with worker_env(fresh_database_url, tokens) as made:
        yield made


@pytest.fixture
async def scripted(fresh_database_url: str, tokens: TokenFactory) -> AsyncIterator[WorkerEnv]:
    """The worker's client answers from ``env.worker.client.scripts`` (nothing is sent)."""
    async with worker_env(fresh_database_url, tokens, client=ScriptedClient({})) as made:
        yield made


def scripts(env: WorkerEnv) -> ScriptedClient:
    assert isinstance(env.worker.client, ScriptedClient)
    return env.worker.client


async def two_agencies(env: WorkerEnv, bad_url: str, good_url: str) -> tuple[str, str]:
    """One submission for a bad receiver's agency and a good one's: (bad id, good id)."""
    bad, good = agency_code(), agency_code()
    await env.register(bad, bad_url)
    await env.register(good, good_url)
    ids = await enqueue_submission(
        env.database, [(bad, {"ssn": "123-45-6789"}, ["/ssn"]), (good, {"b": 2}, ["/b"])]
    )
    return ids[0], ids[1]


async def test_a_huge_retry_after_is_capped_and_the_batch_is_recorded(env: WorkerEnv) -> None:
    async with (
        raw_receiver(503, b"busy", {"Retry-After": "99999999999999"}) as bad_receiver,
        raw_receiver(204, b"") as good_receiver,
    ):
        bad, good = await two_agencies(env, bad_receiver.url, good_receiver.url)
        before = env.clock.now()
        assert await env.worker.run_once() == 2
        assert (await env.delivery(good)).status == "delivered"
        row = await env.delivery(bad)
        assert (row.status, row.attempts, row.last_status_code) == ("pending", 1, 503)
        assert row.next_attempt_at is not None
        wait = aware(row.next_attempt_at) - before
        assert (
            MAX_RETRY_AFTER - timedelta(seconds=5) <= wait <= MAX_RETRY_AFTER + timedelta(seconds=5)
        )
        for delivery_id in (bad, good):
            assert len(await env.attempts(delivery_id)) == 1
            assert len(await env.reads(delivery_id)) == 1
        # Nothing comes back when the lease would have run out: each was sent once.
        env.clock.advance(LEASE)
        assert await env.worker.run_once() == 0
        assert (len(bad_receiver.received), len(good_receiver.received)) == (1, 1)


async def test_an_answer_body_with_a_nul_is_recorded_without_the_body(env: WorkerEnv) -> None:
    """The body is not stored at all (it may echo the answers); a NUL in it is harmless."""
    async with (
        raw_receiver(500, b"invalid ssn 123-45-6789\x00 here") as bad_receiver,
        raw_receiver(204, b"") as good_receiver,
    ):
        bad, good = await two_agencies(env, bad_receiver.url, good_receiver.url)
        assert await env.worker.run_once() == 2
        assert (await env.delivery(good)).status == "delivered"
        row = await env.delivery(bad)
        assert (row.status, row.attempts) == ("pending", 1)
        assert row.last_error == "HTTP 500 Internal Server Error"
        [logged] = await env.attempts(bad)
        assert logged.error == "HTTP 500 Internal Server Error"
        assert logged.outcome == "retry"
        assert (row.leased_by, row.lease_until) == (None, None)
        assert (len(bad_receiver.received), len(good_receiver.received)) == (1, 1)

        # Dead at once on a 400: the reason says why, the body is not echoed to staff.
        bad_receiver.status = 400
        assert row.next_attempt_at is not None
        env.clock.move_to(aware(row.next_attempt_at))
        assert await env.worker.run_once() == 1
        dead = await env.client.get(
            f"/api/v1/deliveries/{bad}", headers=env.tokens.headers(role="auditor")
        )
        body = dead.json()
        assert body["status"] == "dead"
        assert "123-45-6789" not in dead.text
        assert body["last_error"] == (
            "the endpoint refused it with HTTP 400; last error: HTTP 400 Bad Request"
        )


async def test_an_attempt_that_raises_is_a_failed_attempt(scripted: WorkerEnv) -> None:
    env = scripted
    bad_url, good_url = "http://bad.example.test/hook", "http://good.example.test/hook"
    scripts(env).scripts = {
        bad_url: raises(RuntimeError("unexpected \x00 in the HTTP stack")),
        good_url: answers(204),
    }
    bad, good = await two_agencies(env, bad_url, good_url)
    assert await env.worker.run_once() == 2
    assert (await env.delivery(good)).status == "delivered"
    row = await env.delivery(bad)
    assert (row.status, row.attempts) == ("pending", 1)
    assert row.next_attempt_at is not None
    [logged] = await env.attempts(bad)
    assert logged.error == "RuntimeError: unexpected \ufffd in the HTTP stack"
    assert (row.leased_by, row.lease_until) == (None, None)
    # Whether it went out is unknown: the access log says the agency may have it.
    assert len(await env.reads(bad)) == 1


async def test_a_batch_that_cannot_be_written_is_recorded_row_by_row(
    scripted: WorkerEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A value PostgreSQL refuses (here a NUL let through on purpose) fails the batch's
    transaction: the other rows are recorded one by one, the bad one without the text."""
    env = scripted
    monkeypatch.setattr(dispatch, "clean_text", lambda text, limit=500: text[:limit])
    bad_url, good_url = "http://bad.example.test/hook", "http://good.example.test/hook"
    scripts(env).scripts = {
        bad_url: raises(RuntimeError("refused \x00 by PostgreSQL")),
        good_url: answers(204),
    }
    bad, good = await two_agencies(env, bad_url, good_url)
    batches = metrics.RECORD_FAILURES.labels("batch")._value.get()
    rows = metrics.RECORD_FAILURES.labels("row")._value.get()
    assert await env.worker.run_once() == 2
    assert metrics.RECORD_FAILURES.labels("batch")._value.get() == batches + 1
    assert metrics.RECORD_FAILURES.labels("row")._value.get() == rows + 1
    assert (await env.delivery(good)).status == "delivered"
    assert len(await env.attempts(good)) == 1
    row = await env.delivery(bad)
    assert (row.status, row.attempts, row.last_error) == ("pending", 1, UNSTORED_ERROR)
    [logged] = await env.attempts(bad)
    assert (logged.error, logged.outcome) == (UNSTORED_ERROR, "retry")
    assert (row.leased_by, row.lease_until) == (None, None)
    assert len(await env.reads(bad)) == 1
    assert env.worker.leases_lost == 0


async def test_a_row_that_cannot_be_recorded_at_all_is_made_dead_not_sent_for_ever(
    scripted: WorkerEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = scripted
    bad_url, good_url = "http://bad.example.test/hook", "http://good.example.test/hook"
    scripts(env).scripts = {bad_url: answers(503), good_url: answers(204)}
    bad, good = await two_agencies(env, bad_url, good_url)
    record = env.worker._record_attempts

    async def broken(
        session: Any, decided: Sequence[tuple[AttemptResult, Decision]], held: set[str]
    ) -> None:
        if any(result.job.delivery_id == bad for result, _ in decided):
            raise RuntimeError("a bug that only this row meets")
        await record(session, decided, held)

    monkeypatch.setattr(env.worker, "_record_attempts", broken)
    assert await env.worker.run_once() == 2
    assert (await env.delivery(good)).status == "delivered"
    row = await env.delivery(bad)
    assert (row.status, row.last_error, row.next_attempt_at) == ("dead", UNRECORDABLE, None)
    assert row.lease_until is None
    assert len(await env.reads(bad)) == 1  # it reached the receiver
    for _ in range(3):
        env.clock.advance(timedelta(hours=25))
        assert await env.worker.run_once() == 0
    assert scripts(env).posted.count(bad_url) == 1
    # Listed as dead, and replayable once the cause is fixed.
    auth = env.auth(row.agency)
    listed = await env.client.get("/api/v1/deliveries", params={"status": "dead"}, headers=auth)
    assert [i["id"] for i in listed.json()["items"]] == [bad]
    monkeypatch.setattr(env.worker, "_record_attempts", record)
    scripts(env).scripts[bad_url] = answers(204)
    replayed = await env.client.post(f"/api/v1/deliveries/{bad}/replay", headers=auth)
    assert replayed.status_code == 200, replayed.text
    assert await env.worker.run_once() == 1
    assert (await env.delivery(bad)).status == "delivered"


async def test_a_share_that_cannot_be_opened_is_made_dead_and_the_rest_is_sent(
    scripted: WorkerEnv,
) -> None:
    env = scripted
    bad_url, good_url = "http://bad.example.test/hook", "http://good.example.test/hook"
    scripts(env).scripts = {bad_url: answers(204), good_url: answers(204)}
    bad, good = await two_agencies(env, bad_url, good_url)
    async with env.database.sessions() as session, session.begin():
        await session.execute(
            update(Delivery).where(Delivery.id == bad).values(sealed_answers="k9:bm90IHNlYWxlZA==")
        )
    assert await env.worker.run_once() == 2
    assert (await env.delivery(good)).status == "delivered"
    row = await env.delivery(bad)
    assert (row.status, row.last_error, row.lease_until) == ("dead", UNOPENABLE_SHARE, None)
    assert scripts(env).posted == [good_url]
    env.clock.advance(LEASE)
    assert await env.worker.run_once() == 0


async def test_a_secret_that_cannot_be_opened_is_a_failed_attempt_not_a_parked_one(
    scripted: WorkerEnv,
) -> None:
    """Parked, the delivery would wait for an enabling that never comes (the endpoint is
    active); pushed unsigned it must never be. A failed attempt on the schedule it is, and
    it does not count against the receiver's health."""
    env = scripted
    url = "http://agency.example.test/hook"
    scripts(env).scripts = {url: answers(204)}
    agency = agency_code()
    endpoint = await env.register(agency, url)
    async with env.database.sessions() as session, session.begin():
        await session.execute(
            update(WebhookEndpoint)
            .where(WebhookEndpoint.id == endpoint["id"])
            .values(secret="k9:bm90IHNlYWxlZA==")
        )
    [delivery_id] = await enqueue_submission(env.database, [(agency, {"a": 1}, ["/a"])])
    assert await env.worker.run_once() == 1
    assert scripts(env).posted == []
    row = await env.delivery(delivery_id)
    assert (row.status, row.attempts, row.last_error) == ("pending", 1, UNOPENABLE_SECRET)
    assert row.next_attempt_at is not None
    [logged] = await env.attempts(delivery_id)
    assert (logged.status_code, logged.outcome) == (None, "retry")
    assert await env.reads(delivery_id) == []
    assert (await env.endpoint(endpoint["id"])).failing_since is None


def _operational(sqlstate: str | None) -> OperationalError:
    class Orig(Exception):
        pass

    orig = Orig("x")
    orig.sqlstate = sqlstate  # type: ignore[attr-defined]
    return OperationalError("SELECT 1", {}, orig)


def test_which_database_errors_stop_the_row_by_row_recording() -> None:
    assert database_unreachable(ConnectionRefusedError())
    assert database_unreachable(_operational(None))
    assert database_unreachable(_operational("08006"))
    assert database_unreachable(_operational("57P01"))
    # The database answered: smaller transactions may well succeed.
    assert not database_unreachable(_operational("40P01"))  # a deadlock
    assert not database_unreachable(DataError("UPDATE", {}, Exception("NUL")))
    assert not database_unreachable(RuntimeError("a bug"))


async def test_attempt_never_raises_whatever_the_client_does() -> None:
    target = dispatch.Target("e", "http://x.test/", ("whsec_" + "A" * 43 + "=",))
    job = dispatch.Job(
        delivery_id="d",
        submission_id="s",
        reference="r",
        agency="A",
        form="f",
        version=1,
        submitted_at=datetime.now(UTC),
        answers={},
        fields=[],
        attempts=0,
        created_at=datetime.now(UTC),
        first_attempt_at=None,
    )
    for exc in (KeyError("k"), RuntimeError("r\x00"), ZeroDivisionError()):
        client = ScriptedClient({"http://x.test/": raises(exc)})
        result = await dispatch.attempt(client, job, target, started_at=datetime.now(UTC))
        assert result.status_code is None
        assert result.error is not None
        assert "\x00" not in result.error
        assert result.reached_receiver
        assert not result.local
    # A secret that cannot be used: nothing sent, a local failure.
    broken = dispatch.Target("e", "http://x.test/", ("whsec_not base64!",))
    client = ScriptedClient({"http://x.test/": answers(204)})
    result = await dispatch.attempt(client, job, broken, started_at=datetime.now(UTC))
    assert client.posted == []
    assert result.local
    assert not result.reached_receiver
    assert dispatch.decide(result, rng=random.Random(1)).outcome == "retry"
