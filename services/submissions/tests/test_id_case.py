"""A UUID in a path names its row in any case (and braced, or as ``urn:uuid:``): every id
this service makes is stored in its canonical lower-case form, and the routes look that form
up (review of the agency integration: an upper-case submission id was a 404 on the status
route). What is no UUID still names nothing: 404, and the database is not asked."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from tellonce_shared.testing import TokenFactory


def _spellings(canonical: str) -> list[str]:
    return [canonical.upper(), f"{{{canonical}}}", f"urn:uuid:{canonical.upper()}"]


async def test_a_submission_id_in_any_case(
    client: httpx.AsyncClient, tokens: TokenFactory, cg_answers: dict[str, Any]
) -> None:
    me = tokens.headers("res-" + uuid.uuid4().hex[:8])
    created = await client.post(
        "/api/v1/submissions",
        json={"form": "10-10cg", "version": 1, "answers": cg_answers},
        headers={**me, "Idempotency-Key": uuid.uuid4().hex},
    )
    assert created.status_code == 201, created.text
    sid = created.json()["id"]
    assert sid == sid.lower()
    dss = tokens.headers("dss-system", role="agency", agency="DSS")
    for spelling in _spellings(sid):
        got = await client.get(f"/api/v1/submissions/{spelling}", headers=me)
        assert got.status_code == 200, (spelling, got.text)
        assert got.json()["id"] == sid
        posted = await client.post(
            f"/api/v1/submissions/{spelling}/status", json={"status": "received"}, headers=dss
        )
        assert posted.status_code == 201, (spelling, posted.text)
    timeline = (await client.get(f"/api/v1/submissions/{sid}", headers=me)).json()["timeline"]
    assert [e["status"] for e in timeline] == ["submitted"] + ["received"] * 3
    for bad in ("nope", "%00", sid[:-1], uuid.uuid4().hex):
        assert (await client.get(f"/api/v1/submissions/{bad}", headers=me)).status_code == 404
        r = await client.post(
            f"/api/v1/submissions/{bad}/status", json={"status": "received"}, headers=dss
        )
        assert r.status_code == 404


async def test_a_draft_id_in_any_case(client: httpx.AsyncClient, tokens: TokenFactory) -> None:
    me = tokens.headers("res-" + uuid.uuid4().hex[:8])
    created = await client.post(
        "/api/v1/drafts", json={"form": "snap", "answers": {"householdSize": 3}}, headers=me
    )
    assert created.status_code == 201, created.text
    did = created.json()["id"]
    for n, spelling in enumerate(_spellings(did), start=4):
        got = await client.get(f"/api/v1/drafts/{spelling}", headers=me)
        assert got.status_code == 200, (spelling, got.text)
        assert got.json()["id"] == did
        patched = await client.patch(
            f"/api/v1/drafts/{spelling}", json={"answers": {"householdSize": n}}, headers=me
        )
        assert patched.status_code == 200, (spelling, patched.text)
        assert patched.json()["id"] == did
    assert (await client.delete(f"/api/v1/drafts/{did.upper()}", headers=me)).status_code == 204
    assert (await client.get(f"/api/v1/drafts/{did}", headers=me)).status_code == 404
    for bad in ("nope", "%00", did[:-1]):
        assert (await client.get(f"/api/v1/drafts/{bad}", headers=me)).status_code == 404
