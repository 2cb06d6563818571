"""Withdrawing consent or erasing the profile while a submission is being written (review H3):
neither can be undone by the submission, whichever starts first, and prefill uses nothing
without consent. The races are made deterministic on PostgreSQL by holding one side's
transaction open until the other is seen waiting for a lock."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from tellonce_shared.auth import Principal
from tellonce_shared.migrations import upgrade
from tellonce_shared.testing import TokenFactory, asgi_client, static_verifier
from tellonce_submissions.config import Settings
from tellonce_submissions.db import Database
from tellonce_submissions.main import create_app
from tellonce_submissions.models import Profile, ProfileValue
from tellonce_submissions.profile import service as profile_service
from tellonce_submissions.submissions.schemas import SubmissionCreate
from tellonce_submissions.submissions.service import SubmissionService

from .registry_double import RegistryDouble

SERVICE_DIR = Path(__file__).resolve().parents[1]

Withdrawal = Callable[[AsyncSession, str], Awaitable[None]]


async def withdraw(session: AsyncSession, owner: str) -> None:
    await profile_service.set_consent(session, owner, False, datetime.now(UTC))


async def erase(session: AsyncSession, owner: str) -> None:
    await profile_service.erase(session, owner)


WITHDRAWALS = pytest.mark.parametrize("withdrawal", [withdraw, erase], ids=["withdraw", "erase"])


def who() -> str:
    return "res-" + uuid.uuid4().hex[:8]


def key_headers(tokens: TokenFactory, sub: str) -> dict[str, str]:
    return {**tokens.headers(sub), "Idempotency-Key": uuid.uuid4().hex}


async def kept_values(app: FastAPI, owner: str) -> int:
    async with app.state.database.sessions() as s:
        found = await s.scalar(
            select(func.count()).select_from(ProfileValue).where(ProfileValue.owner == owner)
        )
    return int(found or 0)


async def blocked_or_done(app: FastAPI, task: asyncio.Task[Any]) -> bool:
    """Wait until a backend of the test database waits for a lock (True) or ``task`` ends
    without ever waiting (False)."""
    query = text(
        "SELECT count(*) FROM pg_stat_activity"
        " WHERE datname = current_database() AND wait_event_type = 'Lock'"
    )
    deadline = asyncio.get_running_loop().time() + 10
    while asyncio.get_running_loop().time() < deadline:
        async with app.state.database.engine.connect() as conn:
            if (await conn.execute(query)).scalar_one():
                return True
        if task.done():
            return False
        await asyncio.sleep(0.02)
    raise AssertionError("neither waiting for a lock nor done after 10 s")


@WITHDRAWALS
async def test_a_withdrawal_committed_while_a_submission_waits_keeps_nothing(
    withdrawal: Withdrawal,
    client: httpx.AsyncClient,
    tokens: TokenFactory,
    app: FastAPI,
    settings: Settings,
    cg_answers: dict[str, Any],
) -> None:
    """The reviewer's probe: the withdrawal holds the profile row when the submission's
    statement starts, and commits while it waits. Before the fix the statement had checked
    consent in its snapshot and wrote all 5 values (the sealed SSN too) back."""
    sub = who()
    me = tokens.headers(sub)
    assert (await client.put("/api/v1/profile/consent", json={"keep": True}, headers=me)).is_success
    payload = {"form": "10-10cg", "version": 1, "answers": cg_answers}
    first = await client.post("/api/v1/submissions", json=payload, headers=key_headers(tokens, sub))
    assert first.status_code == 201, first.text
    assert await kept_values(app, sub) == 5

    other = Database(settings.database_url)
    try:
        async with other.sessions() as held:
            await held.begin()
            await withdrawal(held, sub)  # holds the profile row (and the deleted values)
            writing = asyncio.create_task(
                client.post("/api/v1/submissions", json=payload, headers=key_headers(tokens, sub))
            )
            assert await blocked_or_done(app, writing), "the submission should wait"
            await held.commit()
        second = await writing
    finally:
        await other.dispose()
    assert second.status_code == 201, second.text
    assert await kept_values(app, sub) == 0
    profile = (await client.get("/api/v1/profile", headers=me)).json()
    assert profile == {"keep": False, "values": []}
    draft = await client.post(
        "/api/v1/drafts", json={"form": "10-10cg", "prefill": True}, headers=me
    )
    assert draft.status_code == 201, draft.text
    assert draft.json()["prefilled"] == []


@WITHDRAWALS
async def test_a_withdrawal_after_a_submission_began_erases_what_it_kept(
    withdrawal: Withdrawal,
    client: httpx.AsyncClient,
    tokens: TokenFactory,
    app: FastAPI,
    settings: Settings,
    cg_answers: dict[str, Any],
) -> None:
    """The other order: the submission has written its values (held uncommitted here, in a
    transaction of its own) when the withdrawal starts. The withdrawal waits for it and then
    erases them; before the fix it ran at once, saw none of the new values, and they stayed
    (for an erasure, with no profile row left at all)."""
    sub = who()
    me = tokens.headers(sub)
    assert (await client.put("/api/v1/profile/consent", json={"keep": True}, headers=me)).is_success
    assert await kept_values(app, sub) == 0
    body = SubmissionCreate(form="10-10cg", version=1, answers=cg_answers)
    async with app.state.database.sessions() as writing:
        await writing.begin()
        service = SubmissionService(
            writing,
            registry=app.state.registry,
            sealer=app.state.sealer,
            settings=settings,
            now=datetime.now(UTC),
        )  # no group writer: the write is this session's, so its transaction stays open
        await service.submit(Principal(sub=sub, role="resident"), body)

        async def withdraw_and_commit() -> None:
            async with app.state.database.sessions() as s:
                await withdrawal(s, sub)
                await s.commit()

        withdrawing = asyncio.create_task(withdraw_and_commit())
        waited = await blocked_or_done(app, withdrawing)
        await writing.commit()
    await withdrawing
    assert waited, "the withdrawal should wait for the submission being written"
    assert await kept_values(app, sub) == 0
    assert (await client.get("/api/v1/profile", headers=me)).json() == {
        "keep": False,
        "values": [],
    }


async def test_a_correction_waiting_on_a_withdrawal_is_refused(
    client: httpx.AsyncClient,
    tokens: TokenFactory,
    app: FastAPI,
    settings: Settings,
    cg_answers: dict[str, Any],
) -> None:
    """Deterministic: the withdrawal holds the profile row before the correction starts, so
    the correction waits and must then see that consent is gone (409, nothing written)."""
    sub = who()
    me = tokens.headers(sub)
    assert (await client.put("/api/v1/profile/consent", json={"keep": True}, headers=me)).is_success
    payload = {"form": "10-10cg", "version": 1, "answers": cg_answers}
    first = await client.post("/api/v1/submissions", json=payload, headers=key_headers(tokens, sub))
    assert first.status_code == 201, first.text
    other = Database(settings.database_url)
    try:
        async with other.sessions() as held:
            await held.begin()
            await withdraw(held, sub)
            correcting = asyncio.create_task(
                client.put(
                    "/api/v1/profile/values/person.birthDate",
                    json={"value": "1991-02-03"},
                    headers=me,
                )
            )
            assert await blocked_or_done(app, correcting), "the correction should wait"
            await held.commit()
        corrected = await correcting
    finally:
        await other.dispose()
    assert corrected.status_code == 409, corrected.text
    assert await kept_values(app, sub) == 0


async def test_prefill_uses_nothing_without_consent(
    client: httpx.AsyncClient, tokens: TokenFactory, app: FastAPI, cg_answers: dict[str, Any]
) -> None:
    """Values found while ``keep`` is false (left by a race before the fix, or by any other
    way) are not used: prefill answers only while the resident consents."""
    sub = who()
    me = tokens.headers(sub)
    assert (await client.put("/api/v1/profile/consent", json={"keep": True}, headers=me)).is_success
    payload = {"form": "10-10cg", "version": 1, "answers": cg_answers}
    first = await client.post("/api/v1/submissions", json=payload, headers=key_headers(tokens, sub))
    assert first.status_code == 201, first.text
    draft = await client.post("/api/v1/drafts", json={"form": "snap", "prefill": True}, headers=me)
    assert draft.json()["prefilled"], "with consent, prefill fills"
    async with app.state.database.sessions() as s:
        await s.execute(update(Profile).where(Profile.owner == sub).values(keep=False))
        await s.commit()
    assert await kept_values(app, sub) == 5
    draft = await client.post("/api/v1/drafts", json={"form": "snap", "prefill": True}, headers=me)
    assert draft.status_code == 201, draft.text
    assert draft.json()["answers"] == {}
    assert draft.json()["prefilled"] == []


async def test_consent_changes_still_work_on_sqlite(
    tmp_path: Path, tokens: TokenFactory, cg_answers: dict[str, Any]
) -> None:
    """The locking reads are no-ops on SQLite (one writer at a time): withdraw, correct,
    erase and prefill behave there as on PostgreSQL."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'submissions.db'}"
    upgrade(SERVICE_DIR, url)
    app = create_app(
        Settings(database_url=url, retention_interval_seconds=0),
        verifier=static_verifier(tokens),
        registry_transport=httpx.ASGITransport(app=RegistryDouble().app()),
    )
    try:
        async with asgi_client(app) as client:
            me = tokens.headers("sqlite-consent")
            payload = {"form": "10-10cg", "version": 1, "answers": cg_answers}

            async def submit_and_prefill() -> list[str]:
                r = await client.post(
                    "/api/v1/submissions",
                    json=payload,
                    headers=key_headers(tokens, "sqlite-consent"),
                )
                assert r.status_code == 201, r.text
                d = await client.post(
                    "/api/v1/drafts", json={"form": "snap", "prefill": True}, headers=me
                )
                assert d.status_code == 201, d.text
                prefilled: list[str] = d.json()["prefilled"]
                return prefilled

            r = await client.put("/api/v1/profile/consent", json={"keep": True}, headers=me)
            assert r.status_code == 200
            assert await submit_and_prefill()
            r = await client.put(
                "/api/v1/profile/values/person.birthDate", json={"value": "1991-02-03"}, headers=me
            )
            assert r.status_code == 200, r.text
            r = await client.put("/api/v1/profile/consent", json={"keep": False}, headers=me)
            assert r.json() == {"keep": False, "values": []}
            assert await submit_and_prefill() == []
            r = await client.put(
                "/api/v1/profile/values/person.birthDate", json={"value": "1991-02-03"}, headers=me
            )
            assert r.status_code == 409
            await client.put("/api/v1/profile/consent", json={"keep": True}, headers=me)
            assert await submit_and_prefill()
            assert (await client.delete("/api/v1/profile", headers=me)).status_code == 204
            assert await submit_and_prefill() == []
            profile = await client.get("/api/v1/profile", headers=me)
            assert profile.json() == {"keep": False, "values": []}
    finally:
        app.state.receipts.close()
        await app.state.registry.aclose()
        await app.state.database.dispose()
