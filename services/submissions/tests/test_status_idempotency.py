"""``POST /submissions/{id}/status`` with an ``Idempotency-Key`` (review of the agency
integration): an agency system that retries after a timeout gets the first answer back and
the resident's timeline gets one entry, also when the two requests run at once. Without a
key, every post is an entry. On PostgreSQL through the ASGI app."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from tellonce_shared.testing import TokenFactory
from tellonce_submissions.idempotency import service as idempotency
from tellonce_submissions.models import IdempotencyKey, SubmissionEvent
from tellonce_submissions.submissions.schemas import StatusCreate
from tellonce_submissions.submissions.service import SubmissionService

from .conftest import FakeClock
from .test_owner_decides import submit_cg

NEEDS_INFO = {"status": "needs_info", "message": "Send proof of address."}


def _agency(tokens: TokenFactory, agency: str = "DSS") -> dict[str, str]:
    return tokens.headers(f"{agency.lower()}-system", role="agency", agency=agency)


async def _post(
    client: httpx.AsyncClient,
    sid: str,
    payload: dict[str, Any],
    headers: dict[str, str],
    key: str | None = None,
) -> httpx.Response:
    if key is not None:
        headers = {**headers, "Idempotency-Key": key}
    return await client.post(f"/api/v1/submissions/{sid}/status", json=payload, headers=headers)


async def _entries(app: FastAPI, sid: str, agency: str = "DSS") -> int:
    async with app.state.database.sessions() as s:
        return int(
            await s.scalar(
                select(func.count())
                .select_from(SubmissionEvent)
                .where(SubmissionEvent.submission_id == sid, SubmissionEvent.agency == agency)
            )
            or 0
        )


async def test_a_retry_with_the_same_key_replays_the_first_entry_and_adds_none(
    client: httpx.AsyncClient,
    tokens: TokenFactory,
    app: FastAPI,
    clock: FakeClock,
    cg_answers: dict[str, Any],
) -> None:
    sid = await submit_cg(client, tokens, cg_answers)
    key = str(uuid.uuid4())
    first = await _post(client, sid, NEEDS_INFO, _agency(tokens), key)
    assert first.status_code == 201, first.text
    assert "idempotent-replayed" not in first.headers
    clock.advance(seconds=30)  # the retry comes later: the first entry's time is replayed
    # the same JSON (keys in another order) is the same body
    again = await _post(
        client,
        sid,
        {"message": NEEDS_INFO["message"], "status": "needs_info"},
        _agency(tokens),
        key,
    )
    assert again.status_code == 201, again.text
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert await _entries(app, sid) == 1
    timeline = (
        await client.get(f"/api/v1/submissions/{sid}", headers=tokens.headers("root", role="admin"))
    ).json()["timeline"]
    assert [(e["agency"], e["status"]) for e in timeline] == [
        (None, "submitted"),
        ("DSS", "needs_info"),
    ]


async def test_the_same_key_with_another_body_is_422_and_adds_nothing(
    client: httpx.AsyncClient, tokens: TokenFactory, app: FastAPI, cg_answers: dict[str, Any]
) -> None:
    sid = await submit_cg(client, tokens, cg_answers)
    key = str(uuid.uuid4())
    assert (await _post(client, sid, NEEDS_INFO, _agency(tokens), key)).status_code == 201
    other = await _post(client, sid, {"status": "received"}, _agency(tokens), key)
    assert other.status_code == 422
    assert other.headers["content-type"] == "application/problem+json"
    assert other.json()["type"].endswith("idempotency-key-reused")
    assert await _entries(app, sid) == 1


async def test_without_a_key_every_post_is_an_entry(
    client: httpx.AsyncClient, tokens: TokenFactory, app: FastAPI, cg_answers: dict[str, Any]
) -> None:
    sid = await submit_cg(client, tokens, cg_answers)
    for _ in range(2):
        resp = await _post(client, sid, NEEDS_INFO, _agency(tokens))
        assert resp.status_code == 201
        assert "idempotent-replayed" not in resp.headers
    assert await _entries(app, sid) == 2


async def test_keys_are_per_agency_and_per_submission(
    client: httpx.AsyncClient, tokens: TokenFactory, app: FastAPI, cg_answers: dict[str, Any]
) -> None:
    one = await submit_cg(client, tokens, cg_answers)
    two = await submit_cg(client, tokens, cg_answers)
    key = str(uuid.uuid4())
    answers = [
        await _post(client, one, {"status": "received"}, _agency(tokens, "DSS"), key),
        await _post(client, one, {"status": "received"}, _agency(tokens, "DOL"), key),
        await _post(client, two, {"status": "received"}, _agency(tokens, "DSS"), key),
    ]
    assert [a.status_code for a in answers] == [201, 201, 201]
    assert not any("idempotent-replayed" in a.headers for a in answers)
    assert await _entries(app, one, "DSS") == 1
    assert await _entries(app, one, "DOL") == 1
    assert await _entries(app, two, "DSS") == 1
    # the submission named by its reference is the same submission: the same key space
    reference = (
        await client.get(f"/api/v1/submissions/{one}", headers=tokens.headers("root", role="admin"))
    ).json()["reference"]
    again = await _post(client, reference, {"status": "received"}, _agency(tokens, "DSS"), key)
    assert again.headers["idempotent-replayed"] == "true"
    assert await _entries(app, one, "DSS") == 1


async def test_a_refused_post_leaves_the_key_free(
    client: httpx.AsyncClient, tokens: TokenFactory, app: FastAPI, cg_answers: dict[str, Any]
) -> None:
    sid = await submit_cg(client, tokens, cg_answers)
    key = str(uuid.uuid4())
    refused = await _post(client, sid, {"status": "approved"}, _agency(tokens, "DSS"), key)
    assert refused.status_code == 403  # only the owning agency (DVA) decides
    needs = await _post(client, sid, {"status": "needs_info"}, _agency(tokens, "DSS"), key)
    assert needs.status_code == 422  # no message
    fixed = await _post(client, sid, NEEDS_INFO, _agency(tokens, "DSS"), key)
    assert fixed.status_code == 201
    assert "idempotent-replayed" not in fixed.headers
    assert await _entries(app, sid) == 1


async def test_an_empty_key_is_400(
    client: httpx.AsyncClient, tokens: TokenFactory, app: FastAPI, cg_answers: dict[str, Any]
) -> None:
    sid = await submit_cg(client, tokens, cg_answers)
    for bad in ("  ", "k" * (idempotency.MAX_KEY_LENGTH + 1)):
        resp = await _post(client, sid, NEEDS_INFO, _agency(tokens), bad)
        assert resp.status_code == 400
        assert "Idempotency-Key" in resp.json()["detail"]
    assert await _entries(app, sid) == 0


async def test_a_key_expires_after_a_day(
    client: httpx.AsyncClient,
    tokens: TokenFactory,
    app: FastAPI,
    clock: FakeClock,
    cg_answers: dict[str, Any],
) -> None:
    sid = await submit_cg(client, tokens, cg_answers)
    key = str(uuid.uuid4())
    first = await _post(client, sid, {"status": "received"}, _agency(tokens), key)
    clock.advance(hours=25)
    later = await _post(client, sid, {"status": "received"}, _agency(tokens), key)
    assert later.status_code == 201
    assert "idempotent-replayed" not in later.headers
    assert later.json()["at"] != first.json()["at"]
    assert await _entries(app, sid) == 2


@pytest.mark.parametrize("twins", [2, 8])
async def test_concurrent_retries_with_one_key_write_one_entry(
    client: httpx.AsyncClient,
    tokens: TokenFactory,
    app: FastAPI,
    cg_answers: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
    twins: int,
) -> None:
    sid = await submit_cg(client, tokens, cg_answers)
    key = str(uuid.uuid4())
    # Every request enters the service together (past its token and body checks, which
    # would otherwise let the first one finish before the next one starts): the database
    # alone keeps them from writing twice.
    together = asyncio.Barrier(twins)
    post_status = SubmissionService.post_status

    async def at_once(self: SubmissionService, *args: Any, **kwargs: Any) -> Any:
        await together.wait()
        return await post_status(self, *args, **kwargs)

    monkeypatch.setattr(SubmissionService, "post_status", at_once)
    async with asyncio.timeout(30):
        answers = await asyncio.gather(
            *(_post(client, sid, NEEDS_INFO, _agency(tokens), key) for _ in range(twins))
        )
    assert [a.status_code for a in answers] == [201] * twins, [a.text for a in answers]
    assert len({a.text for a in answers}) == 1
    assert sum("idempotent-replayed" in a.headers for a in answers) == twins - 1
    assert await _entries(app, sid) == 1


async def _twin_holds(sid: str, key: str, entry: dict[str, Any], twin: AsyncSession) -> None:
    """In ``twin``'s open transaction, what a request with ``key`` and ``NEEDS_INFO`` stores
    first: its outcome (its timeline entry comes next, in the same transaction)."""
    claim = idempotency.Claim(
        idempotency.status_scope("DSS", sid),
        key,
        idempotency.fingerprint(StatusCreate.model_validate(NEEDS_INFO).document()),
    )
    stored = await idempotency.store_outcome(
        twin, claim, status_code=201, body=entry, now=datetime.now(UTC), retention_hours=24
    )
    assert stored


async def test_a_twin_mid_transaction_is_waited_for_then_replayed(
    client: httpx.AsyncClient, tokens: TokenFactory, app: FastAPI, cg_answers: dict[str, Any]
) -> None:
    sid = await submit_cg(client, tokens, cg_answers)
    key = str(uuid.uuid4())
    twins_entry = {
        "at": "2026-01-02T03:04:05Z",
        "agency": "DSS",
        "status": "needs_info",
        "message": NEEDS_INFO["message"],
    }
    async with app.state.database.sessions() as twin:
        await _twin_holds(sid, key, twins_entry, twin)
        retry = asyncio.create_task(_post(client, sid, NEEDS_INFO, _agency(tokens), key))
        await asyncio.sleep(0.5)
        assert not retry.done(), "the retry waits for the twin's transaction"
        await twin.commit()
    answer = await retry
    assert answer.status_code == 201, answer.text
    assert answer.json() == twins_entry
    assert answer.headers["idempotent-replayed"] == "true"
    assert await _entries(app, sid) == 0  # the twin's own entry was not part of this test


async def test_a_twin_that_rolls_back_leaves_the_write_to_the_retry(
    client: httpx.AsyncClient, tokens: TokenFactory, app: FastAPI, cg_answers: dict[str, Any]
) -> None:
    sid = await submit_cg(client, tokens, cg_answers)
    key = str(uuid.uuid4())
    async with app.state.database.sessions() as twin:
        await _twin_holds(sid, key, {"at": "2026-01-02T03:04:05Z"}, twin)
        retry = asyncio.create_task(_post(client, sid, NEEDS_INFO, _agency(tokens), key))
        await asyncio.sleep(0.5)
        assert not retry.done()
        await twin.rollback()  # the twin failed: nothing of it stays
    answer = await retry
    assert answer.status_code == 201, answer.text
    assert "idempotent-replayed" not in answer.headers
    assert answer.json()["message"] == NEEDS_INFO["message"]
    assert await _entries(app, sid) == 1
    async with app.state.database.sessions() as s:
        stored = await s.scalar(
            select(IdempotencyKey.response).where(
                IdempotencyKey.owner == idempotency.status_scope("DSS", sid),
                IdempotencyKey.key == key,
            )
        )
    assert stored == answer.json()
