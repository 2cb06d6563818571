"""The NUL character (U+0000), which PostgreSQL cannot store or compare in text or jsonb, is
refused as bad input at the request's edge, never a 500 (review M1): in answers (submissions,
drafts, profile values) with a 422 naming its pointer, in free text, and in ids. What request
validation misses is a 400 problem, not a 500 (``tellonce_shared.problems``)."""

from __future__ import annotations

import copy
import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import BaseModel, ValidationError
from sqlalchemy import text

from tellonce_shared.pagination import encode_cursor
from tellonce_shared.problems import BadRequest
from tellonce_shared.testing import TokenFactory, asgi_client, static_verifier
from tellonce_submissions.answers import MAX_NUL_ERRORS, Answers
from tellonce_submissions.config import Settings
from tellonce_submissions.deps import SessionDep
from tellonce_submissions.idempotency.service import check_key
from tellonce_submissions.main import create_app
from tellonce_submissions.models import Draft, Submission

from .test_submissions_api import body, count, submit

PROBLEM = "application/problem+json"


def escaped_json(doc: Any) -> bytes:
    """JSON with every non-ASCII character escaped, lone surrogates included (httpx's own
    encoder writes UTF-8, which has no form for them)."""
    import json

    return json.dumps(doc).encode()


def who() -> str:
    return "res-" + uuid.uuid4().hex[:8]


def pointers(response: httpx.Response) -> list[str]:
    assert response.headers["content-type"] == PROBLEM, response.text
    return [e["pointer"] for e in response.json()["errors"]]


@pytest.mark.parametrize("consent", [False, True])
async def test_a_submission_with_nul_in_its_answers_is_422_at_the_pointer(
    consent: bool,
    client: httpx.AsyncClient,
    tokens: TokenFactory,
    app: FastAPI,
    cg_answers: dict[str, Any],
) -> None:
    """Before: a 500 from the write statement, with or without profile consent."""
    sub = who()
    if consent:
        r = await client.put(
            "/api/v1/profile/consent", json={"keep": True}, headers=tokens.headers(sub)
        )
        assert r.status_code == 200
    answers = copy.deepcopy(cg_answers)
    answers["veteran"]["fullName"]["first"] = "Ann\u0000e"
    answers["primaryCaregiver"]["fullName"]["first"] = "x\u0000"
    r = await submit(client, tokens, sub, body(answers))
    assert r.status_code == 422, r.text
    assert sorted(pointers(r)) == [
        "/answers/primaryCaregiver/fullName/first",
        "/answers/veteran/fullName/first",
    ]
    assert "Ann" not in r.text  # the text itself is not echoed (it may be restricted)
    assert await count(app, Submission, Submission.owner == sub) == 0


async def test_nul_in_a_member_name_or_an_array_item_is_422(
    client: httpx.AsyncClient, tokens: TokenFactory, cg_answers: dict[str, Any]
) -> None:
    sub = who()
    answers = copy.deepcopy(cg_answers)
    answers["veteran"]["na\u0000me"] = "x"
    answers["notes"] = ["fine", "not\u0000fine"]
    r = await submit(client, tokens, sub, body(answers))
    assert r.status_code == 422, r.text
    assert sorted(pointers(r)) == ["/answers/notes/1", "/answers/veteran"]


async def test_a_draft_cannot_be_saved_with_nul_in_its_answers(
    client: httpx.AsyncClient, tokens: TokenFactory, app: FastAPI
) -> None:
    """Before: ``POST /drafts`` answered 201, and that draft could never be submitted."""
    sub = who()
    me = tokens.headers(sub)
    bad = {"veteran": {"fullName": {"first": "x\u0000"}}}
    r = await client.post("/api/v1/drafts", json={"form": "10-10cg", "answers": bad}, headers=me)
    assert r.status_code == 422, r.text
    assert pointers(r) == ["/answers/veteran/fullName/first"]
    assert await count(app, Draft, Draft.owner == sub) == 0
    created = await client.post("/api/v1/drafts", json={"form": "10-10cg"}, headers=me)
    assert created.status_code == 201, created.text
    r = await client.patch(
        f"/api/v1/drafts/{created.json()['id']}", json={"answers": bad}, headers=me
    )
    assert r.status_code == 422, r.text
    assert pointers(r) == ["/answers/veteran/fullName/first"]


async def test_ids_holding_nul_or_not_uuids_are_4xx(
    client: httpx.AsyncClient, tokens: TokenFactory, app: FastAPI, cg_answers: dict[str, Any]
) -> None:
    sub = who()
    me = tokens.headers(sub)
    # path ids: no such draft (a 404, as for any id of no draft of theirs)
    for path in ("/api/v1/drafts/%00", "/api/v1/drafts/a%00b", "/api/v1/drafts/not-a-uuid"):
        calls: list[tuple[str, dict[str, Any] | None]] = [
            ("GET", None),
            ("PATCH", {"answers": {}}),
            ("DELETE", None),
        ]
        for method, json in calls:
            r = await client.request(method, path, headers=me, json=json)
            assert r.status_code == 404, (method, path, r.text)
            assert r.headers["content-type"] == PROBLEM
    r = await client.delete("/api/v1/profile/values/a%00", headers=me)
    assert r.status_code == 404, r.text
    assert r.headers["content-type"] == PROBLEM
    # a body's draft id: a 422 naming the field, nothing stored
    for draft in ("a\u0000b", "\u0000", "not-a-uuid", "1" * 36):
        r = await submit(client, tokens, sub, {**body(cg_answers), "draft": draft})
        assert r.status_code == 422, (draft, r.text)
        assert pointers(r) == ["/draft"]
    assert await count(app, Submission, Submission.owner == sub) == 0
    # a list cursor holding a NUL where a submission's id goes: 400, as any cursor not ours
    cursor = encode_cursor({"at": "2026-01-01T00:00:00+00:00", "id": "\u0000"})
    r = await client.get("/api/v1/submissions", params={"cursor": cursor}, headers=me)
    assert r.status_code == 400, r.text
    assert r.headers["content-type"] == PROBLEM


async def test_a_draft_id_is_read_in_any_case(
    client: httpx.AsyncClient, tokens: TokenFactory, cg_answers: dict[str, Any]
) -> None:
    """A UUID is the same in upper case: the draft is found, and a submission from it
    removes it."""
    sub = who()
    me = tokens.headers(sub)
    created = await client.post("/api/v1/drafts", json={"form": "10-10cg"}, headers=me)
    draft_id = created.json()["id"]
    shouting = draft_id.upper()
    assert (await client.get(f"/api/v1/drafts/{shouting}", headers=me)).status_code == 200
    r = await submit(client, tokens, sub, {**body(cg_answers), "draft": shouting})
    assert r.status_code == 201, r.text
    assert (await client.get(f"/api/v1/drafts/{draft_id}", headers=me)).status_code == 404
    other = await client.post("/api/v1/drafts", json={"form": "10-10cg"}, headers=me)
    path = f"/api/v1/drafts/{other.json()['id'].upper()}"
    assert (await client.delete(path, headers=me)).status_code == 204
    assert (await client.get(path.lower(), headers=me)).status_code == 404


async def test_a_profile_value_or_a_status_message_with_nul_is_422(
    client: httpx.AsyncClient, tokens: TokenFactory, cg_answers: dict[str, Any]
) -> None:
    sub = who()
    me = tokens.headers(sub)
    assert (await client.put("/api/v1/profile/consent", json={"keep": True}, headers=me)).is_success
    for value in ("a\u0000", {"first": "a\u0000"}, ["a\u0000"]):
        r = await client.put(
            "/api/v1/profile/values/person.givenName", json={"value": value}, headers=me
        )
        assert r.status_code == 422, (value, r.text)
        assert pointers(r)[0].startswith("/value"), r.text
    created = await submit(client, tokens, sub, body(cg_answers))
    assert created.status_code == 201, created.text
    agency = tokens.headers("clerk", role="agency", agency="DSS")
    r = await client.post(
        f"/api/v1/submissions/{created.json()['id']}/status",
        json={"status": "needs_info", "message": "Send\u0000 a copy"},
        headers=agency,
    )
    assert r.status_code == 422, r.text
    assert pointers(r) == ["/message"]


def test_nul_errors_are_listed_each_at_its_pointer_and_capped() -> None:
    class Body(BaseModel):
        answers: Answers

    with pytest.raises(ValidationError) as caught:
        Body.model_validate({"answers": {"a": ["\u0000"] * (MAX_NUL_ERRORS + 50), "b~/": "\u0000"}})
    locs = [e["loc"] for e in caught.value.errors()]
    assert len(locs) == MAX_NUL_ERRORS
    assert locs[:2] == [("answers", "a", 0), ("answers", "a", 1)]
    with pytest.raises(ValidationError) as caught:
        Body.model_validate({"answers": {"ok": "fine", "b~/": {"c": "\u0000"}}})
    assert [e["loc"] for e in caught.value.errors()] == [("answers", "b~/", "c")]
    # numbers are still refused, and ordinary text is untouched
    with pytest.raises(ValidationError):
        Body.model_validate({"answers": {"n": 2**64}})
    assert Body.model_validate({"answers": {"t": "tab\there", "e": ""}}).answers["t"] == "tab\there"


def test_an_idempotency_key_with_nul_is_400() -> None:
    with pytest.raises(BadRequest):
        check_key("key\u0000")
    assert check_key(" key ") == "key"


async def test_a_value_the_database_refuses_is_400_not_500(
    settings: Settings, tokens: TokenFactory
) -> None:
    """The last line, for whatever request validation misses (SQLSTATE class 22)."""
    app = create_app(settings, verifier=static_verifier(tokens))

    @app.get("/test/refused")
    async def refused(session: SessionDep) -> dict[str, Any]:
        await session.execute(text("SELECT CAST(:v AS text)"), {"v": "a\u0000b"})
        return {}

    try:
        async with asgi_client(app) as client:
            r = await client.get("/test/refused")
    finally:
        app.state.receipts.close()
        await app.state.registry.aclose()
        await app.state.database.dispose()
    assert r.status_code == 400, r.text
    assert r.headers["content-type"] == PROBLEM
    assert r.json()["type"].endswith("/bad-request")


async def test_a_lone_surrogate_in_a_drafts_answers_is_422_not_500(
    client: httpx.AsyncClient, tokens: TokenFactory, app: FastAPI
) -> None:
    """``"\\ud800"`` is valid JSON but no character: it has no UTF-8 form, so the draft could
    be stored nowhere (it was a 500). Refused like a NUL, at its pointer (review LOW)."""
    sub = who()
    me = tokens.headers(sub)
    bad = {"veteran": {"fullName": {"first": "Ana\ud800"}}, "odd\udfff": 1}
    raw = escaped_json({"form": "10-10cg", "answers": bad})  # escaped: "\\ud800"
    headers = {**me, "content-type": "application/json"}
    r = await client.post("/api/v1/drafts", content=raw, headers=headers)
    assert r.status_code == 422, r.text
    assert sorted(pointers(r)) == ["/answers", "/answers/veteran/fullName/first"]
    messages = {e["pointer"]: e["message"] for e in r.json()["errors"]}
    assert "lone surrogate" in messages["/answers/veteran/fullName/first"]
    assert messages["/answers"].startswith("A member name cannot hold a lone surrogate")
    assert await count(app, Draft, Draft.owner == sub) == 0
    fine = {"veteran": {"fullName": {"first": "Zoë 😀"}}}  # a pair is one character: kept
    ok = await client.post("/api/v1/drafts", json={"form": "10-10cg", "answers": fine}, headers=me)
    assert ok.status_code == 201, ok.text
    assert ok.json()["answers"]["veteran"]["fullName"]["first"] == "Zoë 😀"
