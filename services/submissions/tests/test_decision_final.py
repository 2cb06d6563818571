"""A decision is final (acceptance review): DSS posted ``approved`` on a SNAP application,
then ``received``, and the resident's status went back to ``received``. Once the owning
agency's latest status is a decision, its next post is a 409 naming the decision, unless it
reopens the decision explicitly (``reopen`` with a reason)."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from tellonce_shared.testing import TokenFactory

from .test_owner_decides import DVA, post, resident_view, staff, submit_cg


async def test_a_later_status_does_not_overwrite_the_decision(
    client: httpx.AsyncClient, tokens: TokenFactory, cg_answers: dict[str, Any]
) -> None:
    sid = await submit_cg(client, tokens, cg_answers)
    owner = staff(tokens, DVA)
    assert (await post(client, sid, owner, "approved")).status_code == 201
    for later in ("received", "in_review", "needs_info", "approved", "denied"):
        r = await post(client, sid, owner, later)
        assert r.status_code == 409, r.text
        assert r.headers["content-type"].startswith("application/problem+json")
        problem = r.json()
        assert problem["type"].endswith("/decision-final")
        assert "approved by DVA" in problem["detail"]
        assert problem["decision"]["status"] == "approved"
        assert problem["decision"]["at"].endswith("Z")
    shown = await resident_view(client, tokens, sid)
    assert shown["status"] == "approved"
    assert [e["status"] for e in shown["timeline"]] == ["submitted", "approved"]
    # a receiving agency still records its own handling; the status stays the decision
    assert (await post(client, sid, staff(tokens, "DOL"), "received")).status_code == 201
    assert (await resident_view(client, tokens, sid))["status"] == "approved"


async def test_the_owner_reopens_its_decision_explicitly(
    client: httpx.AsyncClient, tokens: TokenFactory, cg_answers: dict[str, Any]
) -> None:
    sid = await submit_cg(client, tokens, cg_answers)
    owner = staff(tokens, DVA)
    url = f"/api/v1/submissions/{sid}/status"
    # nothing to reopen yet
    r = await client.post(
        url, json={"status": "in_review", "message": "x", "reopen": True}, headers=owner
    )
    assert r.status_code == 409
    assert r.json()["type"].endswith("/no-decision-to-reopen")
    assert (await post(client, sid, owner, "denied")).status_code == 201
    # a reason is required; only the owner reopens
    r = await client.post(url, json={"status": "in_review", "reopen": True}, headers=owner)
    assert r.status_code == 422
    assert r.json()["errors"][0]["pointer"] == "/message"
    r = await client.post(
        url,
        json={"status": "in_review", "message": "appeal", "reopen": True},
        headers=staff(tokens, "DOL"),
    )
    assert r.status_code == 403
    reopened = {"status": "in_review", "message": "Appeal received", "reopen": True}
    r = await client.post(url, json=reopened, headers=owner)
    assert r.status_code == 201, r.text
    assert (await resident_view(client, tokens, sid))["status"] == "in_review"
    assert (await post(client, sid, owner, "approved")).status_code == 201
    shown = await resident_view(client, tokens, sid)
    assert shown["status"] == "approved"
    assert [e["status"] for e in shown["timeline"]] == [
        "submitted",
        "denied",
        "in_review",
        "approved",
    ]


async def test_a_refused_post_keeps_no_idempotency_key(
    client: httpx.AsyncClient, tokens: TokenFactory, cg_answers: dict[str, Any]
) -> None:
    """The deciding post's retry is replayed (before the check); a refused post's key is
    rolled back with it, so the same key refused again, not replayed as a 201."""
    sid = await submit_cg(client, tokens, cg_answers)
    owner = staff(tokens, DVA)
    url = f"/api/v1/submissions/{sid}/status"
    decide = {**owner, "Idempotency-Key": uuid.uuid4().hex}
    first = await client.post(url, json={"status": "approved"}, headers=decide)
    again = await client.post(url, json={"status": "approved"}, headers=decide)
    assert first.status_code == again.status_code == 201
    assert again.headers["idempotent-replayed"] == "true"
    late = {**owner, "Idempotency-Key": uuid.uuid4().hex}
    for _ in range(2):
        r = await client.post(url, json={"status": "received"}, headers=late)
        assert r.status_code == 409, r.text
