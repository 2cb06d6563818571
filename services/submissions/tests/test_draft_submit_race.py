"""One draft submitted twice at once, each request with its own ``Idempotency-Key`` (an API
client making a key per attempt; the portal in two tabs with different answers): one
submission, and the other request is told the draft is gone (404, as when it comes after).
The write claims the draft with a row lock in the same statement that stores the
submission, so the check that read the draft earlier cannot let both through (concurrency
review, 2026-11-26: 23 of 25 runs stored two submissions). On PostgreSQL, through the app."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from tellonce_shared.testing import TokenFactory
from tellonce_submissions.models import Draft, Submission
from tellonce_submissions.submissions.service import SubmissionService

ANSWERS = {"applicant": {"birthDate": "1990-01-01", "givenName": "Ana"}, "householdSize": 2}
ROUNDS = 8


@pytest.fixture
def slow_checks(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Each submission waits after its checks (the n-th by the n-th delay), so both requests
    have read the draft before either writes: the race happens on every round."""
    delays: list[float] = []
    check = SubmissionService.check

    async def slow(self: SubmissionService, owner: str, body: Any) -> Any:
        version = await check(self, owner, body)
        await asyncio.sleep(delays.pop(0) if delays else 0.0)
        return version

    monkeypatch.setattr(SubmissionService, "check", slow)
    return delays


@pytest.mark.parametrize(
    "second_later",
    [0.0, 0.03],
    ids=["written-in-one-batch", "written-one-after-the-other"],
)
async def test_a_draft_submitted_twice_at_once_is_submitted_once(
    client: httpx.AsyncClient,
    tokens: TokenFactory,
    app: FastAPI,
    slow_checks: list[float],
    second_later: float,
) -> None:
    for _ in range(ROUNDS):
        me = "res-" + uuid.uuid4().hex[:8]
        headers = tokens.headers(me)
        created = await client.post(
            "/api/v1/drafts", json={"form": "snap", "answers": ANSWERS}, headers=headers
        )
        assert created.status_code == 201, created.text
        draft = created.json()["id"]
        body = {"form": "snap", "version": 1, "answers": ANSWERS, "draft": draft}
        slow_checks[:] = [0.05, 0.05 + second_later]
        answers = await asyncio.gather(
            *(
                client.post(
                    "/api/v1/submissions",
                    json=body,
                    headers={**headers, "Idempotency-Key": uuid.uuid4().hex},
                )
                for _ in range(2)
            )
        )
        assert sorted(a.status_code for a in answers) == [201, 404], [a.text for a in answers]
        gone = next(a for a in answers if a.status_code == 404)
        assert gone.headers["content-type"].startswith("application/problem+json")
        assert "submitted or deleted" in gone.json()["detail"]
        async with app.state.database.sessions() as s:
            stored = await s.scalar(
                select(func.count()).select_from(Submission).where(Submission.owner == me)
            )
            left = await s.scalar(select(func.count()).select_from(Draft).where(Draft.id == draft))
        assert (stored, left) == (1, 0)
