"""Group commit (``submissions/group_commit.py``): submissions written at the same moment share
one statement, and each is stored, or refused, exactly as it would have been alone. On
PostgreSQL through the ASGI app; the batches are seen by recording ``store_many``."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client import REGISTRY
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from tellonce_shared.testing import TokenFactory
from tellonce_submissions.deliveries.models import Delivery
from tellonce_submissions.models import IdempotencyKey, ProfileValue, Submission, SubmissionEvent
from tellonce_submissions.performance.models import SubmissionFacts
from tellonce_submissions.submissions import group_commit
from tellonce_submissions.submissions.group_commit import GroupWriter
from tellonce_submissions.submissions.store import Stored, SubmissionWrite, shape, store_many

from .test_submissions_api import body, count, draw_taken_first, submit


@pytest.fixture
def batches(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, str]]:
    """(writes, "ok" or the error's class name) of every statement the writer runs."""
    seen: list[tuple[int, str]] = []
    real = store_many  # what group_commit calls, until the test puts `recording` there

    async def recording(connection: AsyncConnection, writes: list[SubmissionWrite]) -> list[Stored]:
        try:
            result = await real(connection, writes)
        except Exception as exc:
            seen.append((len(writes), type(exc).__name__))
            raise
        seen.append((len(writes), "ok"))
        return result

    monkeypatch.setattr(group_commit, "store_many", recording)
    return seen


async def at_once(
    client: httpx.AsyncClient,
    tokens: TokenFactory,
    posts: list[tuple[str, str | None]],
    answers: dict[str, Any],
) -> list[httpx.Response]:
    """10-10CG submitted by each (resident, Idempotency-Key or a fresh one) at the same time."""
    return list(
        await asyncio.gather(
            *(submit(client, tokens, sub, body(answers), key) for sub, key in posts)
        )
    )


async def test_concurrent_submissions_share_statements_and_each_is_whole(
    client: httpx.AsyncClient,
    tokens: TokenFactory,
    app: FastAPI,
    cg_answers: dict[str, Any],
    batches: list[tuple[int, str]],
) -> None:
    residents = [f"batch-{uuid.uuid4().hex[:8]}" for _ in range(12)]
    keys = {sub: uuid.uuid4().hex for sub in residents}
    responses = await at_once(client, tokens, [(sub, keys[sub]) for sub in residents], cg_answers)
    assert [r.status_code for r in responses] == [201] * 12, [r.text for r in responses]
    assert any(size > 1 for size, outcome in batches if outcome == "ok"), batches
    assert sum(size for size, outcome in batches if outcome == "ok") == 12
    metrics = (await client.get("/metrics")).text
    assert "tellonce_submission_write_batch_size_bucket" in metrics
    for sub, response in zip(residents, responses, strict=True):
        created = response.json()
        sid = created["id"]
        assert await count(app, Submission, Submission.owner == sub) == 1
        assert await count(app, SubmissionEvent, SubmissionEvent.submission_id == sid) == 1
        assert await count(app, SubmissionFacts, SubmissionFacts.submission_id == sid) == 1
        assert await count(app, Delivery, Delivery.submission_id == sid) == 3
        assert await count(app, IdempotencyKey, IdempotencyKey.owner == sub) == 1
        # each resident's answers are theirs, whole, and their key replays their outcome
        read = await client.get(f"/api/v1/submissions/{sid}", headers=tokens.headers(sub))
        assert read.status_code == 200
        assert read.json()["answers"]["veteran"]["fullName"] == cg_answers["veteran"]["fullName"]
        again = await submit(client, tokens, sub, body(cg_answers), keys[sub])
        assert again.headers["idempotent-replayed"] == "true"
        assert again.json() == created


async def test_a_taken_reference_in_a_batch_fails_only_its_own_write(
    client: httpx.AsyncClient,
    tokens: TokenFactory,
    app: FastAPI,
    cg_answers: dict[str, Any],
    batches: list[tuple[int, str]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """One write of the batch draws a taken reference: the statement fails, every write is
    written again alone, and the one with the taken number draws another."""
    first = (await submit(client, tokens, "batch-first", body(cg_answers))).json()
    batches.clear()
    draw_taken_first(monkeypatch, first["reference"], 1)
    residents = [f"batch-ref-{n}-{uuid.uuid4().hex[:6]}" for n in range(6)]
    responses = await at_once(client, tokens, [(sub, None) for sub in residents], cg_answers)
    assert [r.status_code for r in responses] == [201] * 6, [r.text for r in responses]
    references = {r.json()["reference"] for r in responses}
    assert len(references) == 6
    assert first["reference"] not in references
    assert any(size > 1 and outcome == "IntegrityError" for size, outcome in batches), batches
    for sub in residents:
        assert await count(app, Submission, Submission.owner == sub) == 1


async def test_one_residents_two_submissions_in_a_batch_both_keep_their_profile_values(
    client: httpx.AsyncClient,
    tokens: TokenFactory,
    app: FastAPI,
    cg_answers: dict[str, Any],
    batches: list[tuple[int, str]],
) -> None:
    """Two submissions of one consenting resident write the same profile values: one
    statement cannot update a row twice, so that batch is written one write at a time."""
    sub = f"batch-profile-{uuid.uuid4().hex[:8]}"
    split_before = split()
    me = tokens.headers(sub)
    assert (
        await client.put("/api/v1/profile/consent", json={"keep": True}, headers=me)
    ).status_code == 200
    responses = await at_once(client, tokens, [(sub, None), (sub, None)], cg_answers)
    assert [r.status_code for r in responses] == [201, 201], [r.text for r in responses]
    assert batches[0] == (2, "ProgrammingError")  # refused together, then written alone
    assert split() == split_before + 1
    assert await count(app, Submission, Submission.owner == sub) == 2
    assert await count(app, ProfileValue, ProfileValue.owner == sub) > 0
    profile = (await client.get("/api/v1/profile", headers=me)).json()
    [birth] = [v for v in profile["values"] if v["element"] == "person.birthDate"]
    assert birth["value"] == cg_answers["veteran"]["dateOfBirth"]


async def test_one_key_twice_in_a_batch_is_one_submission_and_one_replay(
    client: httpx.AsyncClient,
    tokens: TokenFactory,
    app: FastAPI,
    cg_answers: dict[str, Any],
    batches: list[tuple[int, str]],
) -> None:
    sub = f"batch-twins-{uuid.uuid4().hex[:8]}"
    key = uuid.uuid4().hex
    responses = await at_once(client, tokens, [(sub, key)] * 4, cg_answers)
    assert {r.status_code for r in responses} <= {201, 409}
    assert len({r.json()["id"] for r in responses if r.status_code == 201}) == 1
    assert await count(app, Submission, Submission.owner == sub) == 1
    async with app.state.database.sessions() as session:
        [row] = (
            await session.execute(select(IdempotencyKey).where(IdempotencyKey.owner == sub))
        ).all()
    assert row[0].key == key


def split() -> float:
    return REGISTRY.get_sample_value("tellonce_submission_write_batches_split_total") or 0.0


def _write(owner: str, *, outcome: bool = True) -> SubmissionWrite:
    now = datetime.now(UTC)
    return SubmissionWrite(
        submission={"id": owner},
        event={"at": now},
        facts={"submission_id": owner},
        deliveries=[],
        owner=owner,
        outcome={"owner": owner, "key": "k"} if outcome else None,
    )


async def test_a_batch_takes_writes_of_one_shape_in_order_and_skips_cancelled_ones() -> None:
    writer = GroupWriter(engine=None, max_batch=2)  # type: ignore[arg-type]  # never connects
    loop = asyncio.get_running_loop()
    futures = [loop.create_future() for _ in range(5)]
    writes = [_write("a"), _write("b", outcome=False), _write("c"), _write("d"), _write("e")]
    for write, future in zip(writes, futures, strict=True):
        writer._queue.append((write, shape(write), future))
    futures[2].cancel()  # its request is gone before its turn: nothing of it is written
    first = writer._take()
    assert [w.owner for w, _, _ in first] == ["a", "d"]
    second = writer._take()
    assert [w.owner for w, _, _ in second] == ["b"]
    assert [w.owner for w, _, _ in writer._take()] == ["e"]
    assert writer._take() == []
