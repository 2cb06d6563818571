"""Only the owning agency decides an application. An agency that receives some of its fields
may record its own handling (``received``, ``in_review``, ``needs_info``) but not post
``approved`` or ``denied`` (403), its events count in no measure (first response, decision,
backlog status), and the resident's status never shows it over the owner's decision."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import delete

from tellonce_shared.testing import TokenFactory
from tellonce_submissions.performance import facts
from tellonce_submissions.performance.models import SubmissionFacts
from tellonce_submissions.submissions import repository

from .conftest import FakeClock

DVA = "DVA"  # owns the 10-10cg; DSS and DOL receive some of its fields


def staff(tokens: TokenFactory, agency: str) -> dict[str, str]:
    return tokens.headers(f"{agency.lower()}-staff", role="agency", agency=agency)


async def submit_cg(client: httpx.AsyncClient, tokens: TokenFactory, answers: Any) -> str:
    headers = {**tokens.headers("owner-decides"), "Idempotency-Key": uuid.uuid4().hex}
    r = await client.post(
        "/api/v1/submissions",
        json={"form": "10-10cg", "version": 1, "answers": answers},
        headers=headers,
    )
    assert r.status_code == 201, r.text
    agencies = {d["agency"] for d in r.json()["deliveries"]}
    assert DVA in agencies, agencies
    assert "DOL" in agencies, agencies
    sid: str = r.json()["id"]
    return sid


async def post(
    client: httpx.AsyncClient, sid: str, headers: dict[str, str], status: str
) -> httpx.Response:
    body = {"status": status, "message": "x" if status == "needs_info" else None}
    return await client.post(f"/api/v1/submissions/{sid}/status", json=body, headers=headers)


async def facts_of(app: FastAPI, sid: str) -> tuple[Any, ...]:
    async with app.state.database.sessions() as s:
        row = await s.get_one(SubmissionFacts, sid)
        return (
            row.owning_agency,
            row.responded_at,
            row.response_s,
            row.decided_at,
            row.decision_s,
            row.needs_info_at,
            row.last_status,
            row.last_at,
        )


async def resident_view(client: httpx.AsyncClient, tokens: TokenFactory, sid: str) -> Any:
    r = await client.get(f"/api/v1/submissions/{sid}", headers=tokens.headers("owner-decides"))
    assert r.status_code == 200, r.text
    return r.json()


async def test_a_receiving_agency_cannot_decide(
    client: httpx.AsyncClient,
    tokens: TokenFactory,
    app: FastAPI,
    clock: FakeClock,
    cg_answers: dict[str, Any],
) -> None:
    sid = await submit_cg(client, tokens, cg_answers)
    before = await facts_of(app, sid)
    for agency in ("DOL", "DSS"):
        for decision in ("denied", "approved"):
            r = await post(client, sid, staff(tokens, agency), decision)
            assert r.status_code == 403, (agency, decision, r.text)
            assert r.headers["content-type"].startswith("application/problem+json")
            problem = r.json()
            assert problem["status"] == 403
            assert "owning agency" in problem["detail"]
            assert DVA in problem["detail"]
    shown = await resident_view(client, tokens, sid)
    assert shown["status"] == "submitted"
    assert [t["status"] for t in shown["timeline"]] == ["submitted"], "nothing was written"
    assert await facts_of(app, sid) == before
    assert before[1:] == (None, None, None, None, None, "submitted", before[-1])


async def test_only_the_owners_events_count_and_its_decision_stands(
    client: httpx.AsyncClient,
    tokens: TokenFactory,
    app: FastAPI,
    clock: FakeClock,
    cg_answers: dict[str, Any],
) -> None:
    sid = await submit_cg(client, tokens, cg_answers)
    submitted = await facts_of(app, sid)
    dol, dva = staff(tokens, "DOL"), staff(tokens, DVA)

    # a receiving agency records its own handling: shown to the resident, counted nowhere
    clock.advance(hours=1)
    for status in ("received", "needs_info"):
        r = await post(client, sid, dol, status)
        assert r.status_code == 201, r.text
        assert r.json()["agency"] == "DOL"
    assert await facts_of(app, sid) == submitted, "a receiving agency's event is no response"
    assert (await resident_view(client, tokens, sid))["status"] == "needs_info"

    # the owner responds, then decides
    clock.advance(hours=1)
    assert (await post(client, sid, dva, "in_review")).status_code == 201
    responded = clock.now
    clock.advance(hours=22)
    assert (await post(client, sid, dva, "denied")).status_code == 201
    decided = clock.now
    row = await facts_of(app, sid)
    owner, responded_at, response_s, decided_at, decision_s, needs_info_at, last, last_at = row
    assert owner == DVA
    assert responded_at == responded
    assert response_s is not None
    assert round(response_s) == 2 * 3600
    assert decided_at == decided
    assert decision_s is not None
    assert round(decision_s) == 24 * 3600
    assert needs_info_at is None, "DOL's needs_info is not the owner's"
    assert (last, last_at) == ("denied", decided)

    # later handling by a receiving agency never overwrites the owner's decision
    clock.advance(hours=1)
    assert (await post(client, sid, dol, "in_review")).status_code == 201
    shown = await resident_view(client, tokens, sid)
    assert shown["status"] == "denied"
    assert [(t["agency"], t["status"]) for t in shown["timeline"]] == [
        (None, "submitted"),
        ("DOL", "received"),
        ("DOL", "needs_info"),
        (DVA, "in_review"),
        (DVA, "denied"),
        ("DOL", "in_review"),
    ]
    kept = await facts_of(app, sid)
    assert kept[6:] == ("denied", decided)

    # the backfill computes the same row from the timeline (owner's events only)
    async with app.state.database.sessions() as s, s.begin():
        await s.execute(delete(SubmissionFacts).where(SubmissionFacts.submission_id == sid))
        await facts.backfill(s)
    assert await facts_of(app, sid) == kept


async def test_backfill_ignores_a_receiving_agencys_decision(
    client: httpx.AsyncClient,
    tokens: TokenFactory,
    app: FastAPI,
    clock: FakeClock,
    cg_answers: dict[str, Any],
) -> None:
    """History written before the rule (a receiving agency's ``denied``) is not counted when
    the facts are rebuilt from the timeline."""
    sid = await submit_cg(client, tokens, cg_answers)
    submitted = await facts_of(app, sid)
    async with app.state.database.sessions() as s, s.begin():
        clock.advance(hours=3)
        repository.add_event(s, submission_id=sid, at=clock.now, status="denied", agency="DOL")
        await s.execute(delete(SubmissionFacts).where(SubmissionFacts.submission_id == sid))
        await s.flush()
        await facts.backfill(s)
    assert await facts_of(app, sid) == submitted
