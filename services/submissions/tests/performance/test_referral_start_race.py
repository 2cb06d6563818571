"""Starting one referral several times at once gives one draft: the start locks the
referral's row, so the later starts wait and resume the first one's draft (no orphan draft
holding a copy of the prefilled answers). On PostgreSQL, through the ASGI app."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from tellonce_shared.testing import TokenFactory
from tellonce_submissions.drafts.schemas import DraftCreate, DraftOut
from tellonce_submissions.drafts.service import DraftService
from tellonce_submissions.models import Draft
from tellonce_submissions.referrals.models import Referral

from .conftest import Catalog
from .test_referrals import CARE_ELEMENTS, CARE_SCHEMA, RULES, referrals, snap, submit

STARTS = 6


@pytest.fixture(autouse=True)
def rules(catalog: Catalog) -> None:
    if ("care", 1) not in catalog.double.versions:
        catalog.double.add_form("care", "OEC", "Child care subsidy")
        catalog.double.add_version("care", 1, CARE_SCHEMA, CARE_ELEMENTS, with_sensitivity=True)
        catalog.double.agreements["care"] = []
    catalog.rules[:] = RULES


@pytest.fixture
def slow_draft_creation(monkeypatch: pytest.MonkeyPatch) -> None:
    """Creating a draft takes a while (as a registry round trip can), so every start has read
    the referral before the first one writes its draft: the race happens on every run."""
    create = DraftService.create

    async def slow(self: DraftService, owner: str, body: DraftCreate) -> Any:
        await asyncio.sleep(0.05)
        out: DraftOut = await create(self, owner, body)
        return out

    monkeypatch.setattr(DraftService, "create", slow)


@pytest.mark.usefixtures("slow_draft_creation")
async def test_concurrent_starts_share_one_draft(
    perf_client: httpx.AsyncClient, perf_tokens: TokenFactory, perf_app: FastAPI
) -> None:
    ana = "res-" + uuid.uuid4().hex[:8]
    await submit(perf_client, perf_tokens, ana, snap(3))
    [item] = await referrals(perf_client, perf_tokens, ana)
    headers = perf_tokens.headers(ana)
    answers = await asyncio.gather(
        *[
            perf_client.post(f"/api/v1/referrals/{item['id']}/start", headers=headers)
            for _ in range(STARTS)
        ]
    )
    assert [r.status_code for r in answers] == [201] * STARTS, [r.text for r in answers]
    drafts = {r.json()["draft"]["id"] for r in answers}
    assert len(drafts) == 1, f"{len(drafts)} drafts for one referral"
    [draft_id] = drafts
    assert {r.json()["referral"]["draft_id"] for r in answers} == {draft_id}
    assert all(r.json()["draft"]["answers"]["parent"]["ssn"] == "123456789" for r in answers)

    listed = await perf_client.get("/api/v1/drafts", headers=headers)
    assert listed.status_code == 200, listed.text
    assert [d["id"] for d in listed.json()["items"]] == [draft_id]
    async with perf_app.state.database.sessions() as s:
        count = await s.scalar(select(func.count()).select_from(Draft).where(Draft.owner == ana))
        referral = await s.get_one(Referral, item["id"])
    assert count == 1, "no orphan draft is left behind"
    assert referral.draft_id == draft_id
    assert referral.status == "started"

    # and a later click still resumes that draft
    again = await perf_client.post(f"/api/v1/referrals/{item['id']}/start", headers=headers)
    assert again.status_code == 201
    assert again.json()["draft"]["id"] == draft_id
