"""Times in UTC whatever PostgreSQL's time zone (review M2): the receipt printed the local
time labelled "UTC", and the read API answered with the server's offset (-05:00) where the
create response had said Z. Every connection is now set to UTC (``tellonce_shared.db``), and
the receipt converts what it is given."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from tellonce_shared.testing import TokenFactory, asgi_client, static_verifier
from tellonce_submissions.config import Settings
from tellonce_submissions.main import create_app
from tellonce_submissions.models import Submission
from tellonce_submissions.receipts.service import receipt_data, utc_minute
from tellonce_submissions.submissions.service import SubmissionService

from .registry_double import RegistryDouble

NEW_YORK = "America/New_York"


def test_the_receipt_prints_the_instant_in_utc() -> None:
    evening = datetime(2026, 11, 26, 19, 45, 30, tzinfo=ZoneInfo(NEW_YORK))  # 00:45 UTC
    assert utc_minute(evening) == "2026-11-27 00:45 UTC"
    india = timezone(timedelta(hours=5, minutes=30))
    assert utc_minute(datetime(2026, 7, 1, 9, 5, tzinfo=india)) == "2026-07-01 03:35 UTC"
    assert utc_minute(datetime(2026, 7, 1, 9, 5)) == "2026-07-01 09:05 UTC"  # SQLite: naive


async def test_a_server_in_another_time_zone_changes_nothing(
    settings: Settings,
    tokens: TokenFactory,
    cg_answers: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``PGTZ`` makes libpq ask for New York time at connection start, as a server's or a
    database's ``timezone`` setting would: the service's sessions are UTC all the same, so
    the read API answers what the create response said, and the receipt the same time."""
    monkeypatch.setenv("PGTZ", NEW_YORK)
    app = create_app(
        settings,
        verifier=static_verifier(tokens),
        registry_transport=httpx.ASGITransport(app=RegistryDouble().app()),
    )
    try:
        async with asgi_client(app) as client:
            sub = "tz-" + uuid.uuid4().hex[:8]
            me = tokens.headers(sub)
            created = await client.post(
                "/api/v1/submissions",
                json={"form": "10-10cg", "version": 1, "answers": cg_answers},
                headers={**me, "Idempotency-Key": uuid.uuid4().hex},
            )
            assert created.status_code == 201, created.text
            at = created.json()["submitted_at"]
            assert at.endswith("Z"), at
            one = await client.get(f"/api/v1/submissions/{created.json()['id']}", headers=me)
            assert one.json()["submitted_at"] == at
            listed = await client.get("/api/v1/submissions", headers=me)
            assert listed.json()["items"][0]["submitted_at"] == at
            assert [e["at"] for e in one.json()["timeline"]] == [at]
            draft = await client.post("/api/v1/drafts", json={"form": "snap"}, headers=me)
            assert draft.json()["created_at"].endswith("Z"), draft.text
            got = await client.get(f"/api/v1/drafts/{draft.json()['id']}", headers=me)
            assert got.json()["created_at"] == draft.json()["created_at"]
            expected = datetime.fromisoformat(at).astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
            data = await _receipt(app, created.json()["id"])
            assert data["submitted_at"] == expected
            async with app.state.database.engine.connect() as conn:
                assert (await conn.execute(text("SHOW TimeZone"))).scalar_one() == "UTC"
    finally:
        app.state.receipts.close()
        await app.state.registry.aclose()
        await app.state.database.dispose()


async def test_the_receipt_is_in_utc_when_read_back_in_local_time(
    client: httpx.AsyncClient, tokens: TokenFactory, app: FastAPI, cg_answers: dict[str, Any]
) -> None:
    """The receipt's own conversion, whatever zone the stored time comes back in (a session
    set to New York here: before, it printed New York's time labelled UTC)."""
    sub = "tz-" + uuid.uuid4().hex[:8]
    created = await client.post(
        "/api/v1/submissions",
        json={"form": "10-10cg", "version": 1, "answers": cg_answers},
        headers={**tokens.headers(sub), "Idempotency-Key": uuid.uuid4().hex},
    )
    assert created.status_code == 201, created.text
    async with app.state.database.sessions() as s:
        await s.execute(text(f"SET LOCAL TIME ZONE '{NEW_YORK}'"))
        submission = await s.get(Submission, created.json()["id"])
        assert submission is not None
        assert submission.submitted_at.utcoffset() != timedelta(0)  # really read back local
        version = await app.state.registry.version(submission.form, submission.version)
        service = SubmissionService(
            s,
            registry=app.state.registry,
            sealer=app.state.sealer,
            settings=app.state.settings,
            now=datetime.now(UTC),
        )
        data = receipt_data(submission, service.answers_of(submission, masked=False), version)
        await s.rollback()
    at = datetime.fromisoformat(created.json()["submitted_at"])
    assert data["submitted_at"] == at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


async def _receipt(app: FastAPI, submission_id: str) -> dict[str, Any]:
    async with app.state.database.sessions() as s:
        submission = await s.get(Submission, submission_id)
        assert submission is not None
        version = await app.state.registry.version(submission.form, submission.version)
        service = SubmissionService(
            s,
            registry=app.state.registry,
            sealer=app.state.sealer,
            settings=app.state.settings,
            now=datetime.now(UTC),
        )
        return receipt_data(submission, service.answers_of(submission, masked=False), version)
