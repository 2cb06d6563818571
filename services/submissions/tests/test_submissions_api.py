"""POST/GET submissions, idempotency, outbox rows, encryption at rest, status and timeline,
on PostgreSQL through the ASGI app."""

from __future__ import annotations

import asyncio
import copy
import re
import uuid
import zlib
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from tellonce_shared.testing import TokenFactory
from tellonce_submissions.deliveries.models import Delivery
from tellonce_submissions.deliveries.outbox import default_box, open_answers
from tellonce_submissions.models import IdempotencyKey, Submission
from tellonce_submissions.receipts.render import ReceiptRenderer

from .conftest import FakeClock

REFERENCE = re.compile(r"^CT-\d{4}-[2-9A-HJ-KM-NP-Z]{4}-[2-9A-HJ-KM-NP-Z]{4}$")


def body(answers: dict[str, Any], form: str = "10-10cg", version: int = 1) -> dict[str, Any]:
    return {"form": form, "version": version, "answers": answers}


async def submit(
    client: httpx.AsyncClient,
    tokens: TokenFactory,
    sub: str,
    payload: dict[str, Any],
    key: str | None = None,
) -> httpx.Response:
    headers = tokens.headers(sub)
    headers["Idempotency-Key"] = key or uuid.uuid4().hex
    return await client.post("/api/v1/submissions", json=payload, headers=headers)


async def count(app: FastAPI, model: Any, *where: Any) -> int:
    async with app.state.database.sessions() as s:
        return int(
            (await s.execute(select(func.count()).select_from(model).where(*where))).scalar_one()
        )


async def test_valid_submission_gets_reference_and_one_delivery_per_agency(
    client: httpx.AsyncClient, tokens: TokenFactory, app: FastAPI, cg_answers: dict[str, Any]
) -> None:
    resp = await submit(client, tokens, "alice", body(cg_answers))
    assert resp.status_code == 201, resp.text
    doc = resp.json()
    assert REFERENCE.match(doc["reference"])
    assert doc["form"] == "10-10cg"
    assert doc["version"] == 1
    by_agency = {d["agency"]: d for d in doc["deliveries"]}
    assert set(by_agency) == {"DVA", "DSS", "DOL"}
    assert by_agency["DSS"]["fields"] == ["/veteran/address", "/veteran/dateOfBirth"]
    assert by_agency["DOL"]["fields"] == ["/primaryCaregiver/fullName"]
    assert all(d["status"] == "pending" for d in doc["deliveries"])
    async with app.state.database.sessions() as s:
        rows = (
            (await s.execute(select(Delivery).where(Delivery.submission_id == doc["id"])))
            .scalars()
            .all()
        )
    shares = {d.agency: open_answers(d, default_box()) for d in rows}
    assert shares["DVA"] == cg_answers
    assert shares["DSS"] == {
        "veteran": {
            "dateOfBirth": cg_answers["veteran"]["dateOfBirth"],
            "address": cg_answers["veteran"]["address"],
        }
    }
    assert shares["DOL"] == {
        "primaryCaregiver": {"fullName": cg_answers["primaryCaregiver"]["fullName"]}
    }


async def test_missing_idempotency_key_is_400(
    client: httpx.AsyncClient, tokens: TokenFactory, cg_answers: dict[str, Any]
) -> None:
    resp = await client.post(
        "/api/v1/submissions", json=body(cg_answers), headers=tokens.headers("alice")
    )
    assert resp.status_code == 400
    assert resp.headers["content-type"] == "application/problem+json"
    assert "Idempotency-Key" in resp.json()["detail"]


async def test_same_key_same_body_replays_first_response(
    client: httpx.AsyncClient, tokens: TokenFactory, app: FastAPI, cg_answers: dict[str, Any]
) -> None:
    key = uuid.uuid4().hex
    first = await submit(client, tokens, "bob", body(cg_answers), key)
    # the same JSON with keys in another order is the same body
    reordered = {"answers": cg_answers, "version": 1, "form": "10-10cg"}
    second = await submit(client, tokens, "bob", reordered, key)
    assert first.status_code == second.status_code == 201
    assert second.json() == first.json()
    assert second.headers.get("idempotent-replayed") == "true"
    assert await count(app, Submission, Submission.owner == "bob") == 1


async def test_same_key_other_body_is_422(
    client: httpx.AsyncClient, tokens: TokenFactory, app: FastAPI, cg_answers: dict[str, Any]
) -> None:
    key = uuid.uuid4().hex
    assert (await submit(client, tokens, "carol", body(cg_answers), key)).status_code == 201
    other = copy.deepcopy(cg_answers)
    other["veteran"]["plannedClinic"] = "741"
    resp = await submit(client, tokens, "carol", body(other), key)
    assert resp.status_code == 422
    assert resp.json()["type"].endswith("idempotency-key-reused")
    assert await count(app, Submission, Submission.owner == "carol") == 1


async def test_key_is_per_resident(
    client: httpx.AsyncClient, tokens: TokenFactory, app: FastAPI, cg_answers: dict[str, Any]
) -> None:
    key = uuid.uuid4().hex
    a = await submit(client, tokens, "kp-1", body(cg_answers), key)
    b = await submit(client, tokens, "kp-2", body(cg_answers), key)
    assert a.status_code == b.status_code == 201
    assert a.json()["id"] != b.json()["id"]


async def test_in_flight_key_is_409(
    client: httpx.AsyncClient, tokens: TokenFactory, app: FastAPI, cg_answers: dict[str, Any]
) -> None:
    from tellonce_submissions.idempotency.service import lock_id

    key = uuid.uuid4().hex
    # another request with the same key holds it, mid-transaction
    async with app.state.database.sessions() as other:
        await other.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": lock_id("dave", key)})
        resp = await submit(client, tokens, "dave", body(cg_answers), key)
        assert resp.status_code == 409
        assert resp.headers["retry-after"] == "1"
        await other.rollback()  # that request died: its lock died with it
    resp = await submit(client, tokens, "dave", body(cg_answers), key)
    assert resp.status_code == 201
    assert await count(app, Submission, Submission.owner == "dave") == 1


async def test_keys_expire_after_a_day(
    client: httpx.AsyncClient,
    tokens: TokenFactory,
    app: FastAPI,
    clock: FakeClock,
    cg_answers: dict[str, Any],
) -> None:
    key = uuid.uuid4().hex
    first = await submit(client, tokens, "olga", body(cg_answers), key)
    clock.advance(hours=25)
    second = await submit(client, tokens, "olga", body(cg_answers), key)
    assert second.status_code == 201
    assert second.json()["id"] != first.json()["id"]


async def test_fifty_concurrent_posts_with_one_key_create_one_submission(
    client: httpx.AsyncClient, tokens: TokenFactory, app: FastAPI, cg_answers: dict[str, Any]
) -> None:
    key = uuid.uuid4().hex
    headers = tokens.headers("erin")
    headers["Idempotency-Key"] = key
    responses = await asyncio.gather(
        *(
            client.post("/api/v1/submissions", json=body(cg_answers), headers=headers)
            for _ in range(50)
        )
    )
    statuses = [r.status_code for r in responses]
    assert set(statuses) <= {201, 409}, statuses
    created = {r.json()["id"] for r in responses if r.status_code == 201}
    assert len(created) == 1
    assert await count(app, Submission, Submission.owner == "erin") == 1
    [sid] = created
    assert await count(app, Delivery, Delivery.submission_id == sid) == 3
    # after the dust settles every retry gets the one submission
    again = await client.post("/api/v1/submissions", json=body(cg_answers), headers=headers)
    assert again.status_code == 201
    assert again.json()["id"] == sid


async def test_invalid_answers_list_every_error_and_store_nothing(
    client: httpx.AsyncClient, tokens: TokenFactory, app: FastAPI, cg_answers: dict[str, Any]
) -> None:
    bad = copy.deepcopy(cg_answers)
    bad["veteran"]["ssnOrTin"] = "12-34"
    del bad["veteran"]["dateOfBirth"]
    bad["veteran"]["plannedClinic"] = 740
    key = uuid.uuid4().hex
    before = await count(app, Delivery)
    resp = await submit(client, tokens, "frank", body(bad), key)
    assert resp.status_code == 422
    problem = resp.json()
    assert resp.headers["content-type"] == "application/problem+json"
    pointers = {e["pointer"] for e in problem["errors"]}
    assert pointers == {
        "/answers/veteran",
        "/answers/veteran/ssnOrTin",
        "/answers/veteran/plannedClinic",
    }
    assert all(e["message"] for e in problem["errors"])
    # the restricted value is not echoed back
    assert "12-34" not in resp.text
    assert await count(app, Submission, Submission.owner == "frank") == 0
    assert await count(app, Delivery) == before
    assert await count(app, IdempotencyKey, IdempotencyKey.owner == "frank") == 0
    # the key was released: the corrected body can use it
    assert (await submit(client, tokens, "frank", body(cg_answers), key)).status_code == 201


async def test_unknown_form_and_version(
    client: httpx.AsyncClient, tokens: TokenFactory, cg_answers: dict[str, Any]
) -> None:
    assert (await submit(client, tokens, "g", body(cg_answers, form="nope"))).status_code == 404
    assert (await submit(client, tokens, "g", body(cg_answers, version=9))).status_code == 404


async def test_limits(client: httpx.AsyncClient, tokens: TokenFactory, app: FastAPI) -> None:
    huge = {"x": "a" * (1024 * 1024 + 10)}
    resp = await submit(client, tokens, "limits", body(huge))
    assert resp.status_code == 413
    many = {"items": list(range(10_001))}
    resp = await submit(client, tokens, "limits", body(many))
    assert resp.status_code == 422
    assert "10000" in resp.json()["detail"]
    deep: dict[str, Any] = {}
    node = deep
    for _ in range(40):
        node["n"] = {}
        node = node["n"]
    resp = await submit(client, tokens, "limits", body(deep))
    assert resp.status_code == 422
    assert "32" in resp.json()["detail"]
    assert await count(app, Submission, Submission.owner == "limits") == 0


async def test_restricted_values_are_encrypted_at_rest(
    client: httpx.AsyncClient, tokens: TokenFactory, app: FastAPI, cg_answers: dict[str, Any]
) -> None:
    resp = await submit(client, tokens, "heidi", body(cg_answers))
    sid = resp.json()["id"]
    ssn = cg_answers["veteran"]["ssnOrTin"]
    async with app.state.database.sessions() as s:
        raw = (
            await s.execute(
                text("SELECT answers::text, sealed, key_id FROM submissions WHERE id = :id"),
                {"id": sid},
            )
        ).one()
    assert ssn not in raw[0]
    assert raw[1] is not None
    assert ssn.encode() not in bytes(raw[1])
    assert raw[2] == "local-only-1"
    shown = (await client.get(f"/api/v1/submissions/{sid}", headers=tokens.headers("heidi"))).json()
    assert shown["answers"]["veteran"]["ssnOrTin"].endswith(ssn[-4:])
    assert ssn not in str(shown)
    # the owning agency's outbox row still carries the real value for delivery
    async with app.state.database.sessions() as s:
        dva = (
            await s.execute(
                select(Delivery).where(Delivery.submission_id == sid, Delivery.agency == "DVA")
            )
        ).scalar_one()
    assert open_answers(dva, default_box())["veteran"]["ssnOrTin"] == ssn


async def test_get_by_id_or_reference_and_list(
    client: httpx.AsyncClient, tokens: TokenFactory, cg_answers: dict[str, Any]
) -> None:
    sub = "ivan-" + uuid.uuid4().hex[:6]
    created = [(await submit(client, tokens, sub, body(cg_answers))).json() for _ in range(3)]
    first = created[0]
    headers = tokens.headers(sub)
    loose = first["reference"].lower().replace("-", "")
    for ident in (first["id"], first["reference"], loose):
        resp = await client.get(f"/api/v1/submissions/{ident}", headers=headers)
        assert resp.status_code == 200, ident
        assert resp.json()["id"] == first["id"]
        assert resp.json()["timeline"][0]["status"] == "submitted"
    # one wrong character: the check character refuses it, so it is not found
    ref = first["reference"]
    typo = ref[:-1] + ("2" if ref[-1] != "2" else "3")
    assert (await client.get(f"/api/v1/submissions/{typo}", headers=headers)).status_code == 404
    page1 = (await client.get("/api/v1/submissions?limit=2", headers=headers)).json()
    assert len(page1["items"]) == 2
    assert page1["next_cursor"]
    page2 = (
        await client.get(
            f"/api/v1/submissions?limit=2&cursor={page1['next_cursor']}", headers=headers
        )
    ).json()
    seen = [i["id"] for i in page1["items"] + page2["items"]]
    assert sorted(seen) == sorted(c["id"] for c in created)
    assert page2["next_cursor"] is None


async def test_residents_see_only_their_own(
    client: httpx.AsyncClient, tokens: TokenFactory, cg_answers: dict[str, Any]
) -> None:
    mine = (await submit(client, tokens, "judy", body(cg_answers))).json()
    other = tokens.headers("mallory")
    for path in (
        f"/api/v1/submissions/{mine['id']}",
        f"/api/v1/submissions/{mine['reference']}",
        f"/api/v1/submissions/{mine['id']}/receipt.pdf",
    ):
        resp = await client.get(path, headers=other)
        assert resp.status_code == 404, path
    listed = (await client.get("/api/v1/submissions", headers=other)).json()
    assert mine["id"] not in {i["id"] for i in listed["items"]}
    admin = tokens.headers("root", role="admin")
    seen = await client.get(f"/api/v1/submissions/{mine['id']}", headers=admin)
    assert seen.status_code == 200
    assert seen.json()["answers"] is None, "an admin sees the status, never the answers"
    assert seen.json()["timeline"]
    assert seen.json()["reference"] == mine["reference"]
    own = await client.get(f"/api/v1/submissions/{mine['id']}", headers=tokens.headers("judy"))
    assert own.json()["answers"]
    assert (await client.get("/api/v1/submissions")).status_code == 401


async def test_agency_status_builds_the_timeline(
    client: httpx.AsyncClient, tokens: TokenFactory, clock: FakeClock, cg_answers: dict[str, Any]
) -> None:
    mine = (await submit(client, tokens, "kim", body(cg_answers))).json()
    sid = mine["id"]
    dss = tokens.headers("dss-staff", role="agency", agency="DSS")
    dol = tokens.headers("dol-staff", role="agency", agency="DOL")
    dmv = tokens.headers("dmv-staff", role="agency", agency="DMV")
    clock.advance(minutes=5)
    resp = await client.post(
        f"/api/v1/submissions/{sid}/status", json={"status": "received"}, headers=dss
    )
    assert resp.status_code == 201
    clock.advance(minutes=5)
    resp = await client.post(
        f"/api/v1/submissions/{sid}/status",
        json={"status": "needs_info", "message": "Send proof of address."},
        headers=dol,
    )
    assert resp.status_code == 201
    # needs_info without a message, an unknown status, an agency that did not receive it
    r = await client.post(
        f"/api/v1/submissions/{sid}/status", json={"status": "needs_info"}, headers=dss
    )
    assert r.status_code == 422
    r = await client.post(f"/api/v1/submissions/{sid}/status", json={"status": "lost"}, headers=dss)
    assert r.status_code == 422
    r = await client.post(
        f"/api/v1/submissions/{sid}/status", json={"status": "approved"}, headers=dmv
    )
    assert r.status_code == 404
    r = await client.post(
        f"/api/v1/submissions/{sid}/status",
        json={"status": "approved"},
        headers=tokens.headers("kim"),
    )
    assert r.status_code == 403
    shown = (await client.get(f"/api/v1/submissions/{sid}", headers=tokens.headers("kim"))).json()
    timeline = [(t["agency"], t["status"], t["message"]) for t in shown["timeline"]]
    assert timeline == [
        (None, "submitted", None),
        ("DSS", "received", None),
        ("DOL", "needs_info", "Send proof of address."),
    ]
    assert shown["status"] == "needs_info"


async def test_receipt_pdf(
    client: httpx.AsyncClient, tokens: TokenFactory, cg_answers: dict[str, Any]
) -> None:
    mine = (await submit(client, tokens, "leo", body(cg_answers))).json()
    resp = await client.get(
        f"/api/v1/submissions/{mine['id']}/receipt.pdf", headers=tokens.headers("leo")
    )
    assert resp.status_code == 200
    assert resp.headers["content-type"] == "application/pdf"
    assert resp.content.startswith(b"%PDF-")
    assert len(resp.content) > 5000
    assert "receipt-CT-" in resp.headers["content-disposition"]


async def test_a_head_on_the_receipt_renders_nothing(
    client: httpx.AsyncClient,
    tokens: TokenFactory,
    cg_answers: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A HEAD (a link checker, a download manager asking first) gets the receipt's status
    and fields without a render: the content would be dropped."""
    renders: list[str] = []
    render = ReceiptRenderer.render

    async def counted(self: ReceiptRenderer, data: dict[str, Any]) -> bytes:
        renders.append("render")
        return await render(self, data)

    monkeypatch.setattr(ReceiptRenderer, "render", counted)
    mine = (await submit(client, tokens, "leo", body(cg_answers))).json()
    url = f"/api/v1/submissions/{mine['id']}/receipt.pdf"
    head = await client.head(url, headers=tokens.headers("leo"))
    assert head.status_code == 200
    assert head.headers["content-type"] == "application/pdf"
    assert "receipt-CT-" in head.headers["content-disposition"]
    assert "content-length" not in head.headers
    assert head.content == b""
    assert renders == []
    assert (await client.head(url, headers=tokens.headers("mallory"))).status_code == 404
    get = await client.get(url, headers=tokens.headers("leo"))
    assert get.content.startswith(b"%PDF-")
    assert renders == ["render"]


def pdf_objects(pdf: bytes) -> bytes:
    """The PDF's objects as text: its compressed streams (WeasyPrint keeps the catalog in an
    object stream) inflated and joined to what is stored plain."""
    inflated = [
        zlib.decompress(m.group(1))
        for m in re.finditer(rb"/FlateDecode[^>]*>>\s*stream\r?\n(.*?)endstream", pdf, re.S)
    ]
    return b"\n".join([pdf, *inflated])


async def test_receipt_pdf_in_spanish_and_an_unknown_language_refused(
    client: httpx.AsyncClient, tokens: TokenFactory, cg_answers: dict[str, Any]
) -> None:
    mine = (await submit(client, tokens, "leo", body(cg_answers))).json()
    url = f"/api/v1/submissions/{mine['id']}/receipt.pdf"
    resp = await client.get(url, params={"lang": "es"}, headers=tokens.headers("leo"))
    assert resp.status_code == 200
    assert resp.content.startswith(b"%PDF-")
    assert b"/Lang (es)" in pdf_objects(resp.content)  # the tagged PDF's document language
    english = await client.get(url, headers=tokens.headers("leo"))
    assert b"/Lang (en)" in pdf_objects(english.content)
    resp = await client.get(url, params={"lang": "fr"}, headers=tokens.headers("leo"))
    assert resp.status_code == 422
    assert resp.headers["content-type"].startswith("application/problem+json")


def draw_taken_first(monkeypatch: pytest.MonkeyPatch, reference: str, draws: int) -> None:
    """The service's next ``draws`` reference numbers are ``reference``; real ones after."""
    import tellonce_submissions.submissions.service as service_module
    from tellonce_submissions.reference import new_reference

    taken = iter([reference] * draws)
    monkeypatch.setattr(
        service_module, "new_reference", lambda *a: next(taken, None) or new_reference(*a)
    )


async def test_reference_collision_is_a_clean_retryable_409(
    client: httpx.AsyncClient,
    tokens: TokenFactory,
    app: FastAPI,
    cg_answers: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from tellonce_submissions.submissions.service import REFERENCE_DRAWS

    first = (await submit(client, tokens, "pat", body(cg_answers))).json()
    # Every draw of this request gives the taken number: after all of them, a clean 409.
    draw_taken_first(monkeypatch, first["reference"], REFERENCE_DRAWS)
    key = uuid.uuid4().hex
    before = await count(app, Delivery)
    resp = await submit(client, tokens, "pat", body(cg_answers), key)
    assert resp.status_code == 409
    assert resp.headers["retry-after"] == "1"
    assert await count(app, Submission, Submission.owner == "pat") == 1
    assert await count(app, Delivery) == before
    retry = await submit(client, tokens, "pat", body(cg_answers), key)
    assert retry.status_code == 201
    assert retry.json()["reference"] != first["reference"]


async def test_a_taken_reference_is_drawn_again_by_the_service(
    client: httpx.AsyncClient,
    tokens: TokenFactory,
    app: FastAPI,
    cg_answers: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The first number drawn is taken, the second is free: the resident never sees it."""
    first = (await submit(client, tokens, "quinn", body(cg_answers))).json()
    draw_taken_first(monkeypatch, first["reference"], 1)
    key = uuid.uuid4().hex
    resp = await submit(client, tokens, "quinn", body(cg_answers), key)
    assert resp.status_code == 201, resp.text
    doc = resp.json()
    assert doc["reference"] != first["reference"]
    assert REFERENCE.match(doc["reference"])
    assert await count(app, Submission, Submission.owner == "quinn") == 2
    assert await count(app, Delivery, Delivery.submission_id == doc["id"]) == 3
    replayed = await submit(client, tokens, "quinn", body(cg_answers), key)
    assert replayed.headers["idempotent-replayed"] == "true"
    assert replayed.json() == doc  # the stored outcome is the second draw's


async def test_bad_requests_are_clear_4xx(
    client: httpx.AsyncClient, tokens: TokenFactory, cg_answers: dict[str, Any]
) -> None:
    headers = {**tokens.headers("quinn"), "Idempotency-Key": uuid.uuid4().hex}
    resp = await client.post(
        "/api/v1/submissions",
        content=b'{"form": "10-10cg", "version": 1, "answers": {',
        headers={**headers, "content-type": "application/json"},
    )
    assert resp.status_code == 400
    assert resp.headers["content-type"] == "application/problem+json"
    resp = await client.post(
        "/api/v1/submissions",
        json={"form": "10-10cg", "version": "one", "answers": []},
        headers=headers,
    )
    assert resp.status_code == 422
    assert {e["pointer"] for e in resp.json()["errors"]} == {"/version", "/answers"}
    resp = await client.post(
        "/api/v1/submissions",
        json=body(cg_answers),
        headers={**headers, "Idempotency-Key": "k" * 300},
    )
    assert resp.status_code == 400
    resp = await client.get("/api/v1/submissions?cursor=garbage", headers=headers)
    assert resp.status_code == 400
    agency = tokens.headers("a", role="agency", agency="DSS")
    resp = await client.post(
        "/api/v1/submissions", json=body(cg_answers), headers={**agency, "Idempotency-Key": "x"}
    )
    assert resp.status_code == 403


async def test_a_form_or_version_the_registry_cannot_name_is_422(
    client: httpx.AsyncClient, tokens: TokenFactory, app: FastAPI, cg_answers: dict[str, Any]
) -> None:
    """Found by schemathesis: the form went unescaped into the registry URL (``?`` and ``#``
    were a 500, ``..`` reached another registry path) and a version past nine digits, which
    the registry refuses, came back as a 503. Both are bad input, refused before any call."""
    for form in ("10-10cg?x=", "10-10cg#", "../forms/10-10cg", "10-10cg/versions/1", "10-10CG"):
        resp = await submit(client, tokens, "shape", body(cg_answers, form=form))
        assert resp.status_code == 422, (form, resp.text)
        assert resp.headers["content-type"] == "application/problem+json"
        assert [e["pointer"] for e in resp.json()["errors"]] == ["/form"]
    for version in (10**9, 2**31, 10**20):
        resp = await submit(client, tokens, "shape", body(cg_answers, version=version))
        assert resp.status_code == 422, (version, resp.text)
        assert [e["pointer"] for e in resp.json()["errors"]] == ["/version"]
    resp = await submit(client, tokens, "shape", body(cg_answers, version=999_999_999))
    assert resp.status_code == 404, resp.text
    assert await count(app, Submission, Submission.owner == "shape") == 0


async def test_answers_with_numbers_json_cannot_carry_are_422_not_500(
    client: httpx.AsyncClient, tokens: TokenFactory, app: FastAPI
) -> None:
    """Found by schemathesis: a whole number past 64 bits was a 500 (the Idempotency-Key
    fingerprint serialises the body with orjson); NaN/Infinity are refused the same way."""
    headers = {
        **tokens.headers("numbers"),
        "content-type": "application/json",
    }
    for number in (str(2**64), "1" + "0" * 30, "NaN", "-Infinity"):
        content = f'{{"form": "10-10cg", "version": 1, "answers": {{"x": [{number}]}}}}'
        headers["Idempotency-Key"] = uuid.uuid4().hex
        resp = await client.post("/api/v1/submissions", content=content, headers=headers)
        assert resp.status_code == 422, (number, resp.text)
        assert resp.headers["content-type"] == "application/problem+json"
        assert [e["pointer"] for e in resp.json()["errors"]] == ["/answers"]
    assert await count(app, Submission, Submission.owner == "numbers") == 0


async def test_registry_down_is_503_and_stores_nothing(
    settings: Any, tokens: TokenFactory, cg_answers: dict[str, Any]
) -> None:
    from tellonce_shared.testing import asgi_client, static_verifier
    from tellonce_submissions.main import create_app

    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    app = create_app(
        settings, verifier=static_verifier(tokens), registry_transport=httpx.MockTransport(refuse)
    )
    try:
        async with asgi_client(app) as c:
            resp = await submit(c, tokens, "rita", body(cg_answers))
            assert resp.status_code == 503
            assert resp.headers["content-type"] == "application/problem+json"
            assert await count(app, Submission, Submission.owner == "rita") == 0
            drafts = await c.post(
                "/api/v1/drafts", json={"form": "x"}, headers=tokens.headers("rita")
            )
            assert drafts.status_code == 503
    finally:
        await app.state.registry.aclose()
        await app.state.database.dispose()


async def test_a_retry_goes_to_the_write_which_stores_nothing_and_the_first_outcome_is_replayed(
    client: httpx.AsyncClient,
    tokens: TokenFactory,
    app: FastAPI,
    cg_answers: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The write is optimistic (no look-up first): for a key that already holds an outcome it
    stores nothing, and the stored outcome is replayed."""
    from tellonce_submissions.submissions import service as service_module

    key = uuid.uuid4().hex
    first = (await submit(client, tokens, "wendy", body(cg_answers), key)).json()
    wrote: list[Any] = []
    real_store = service_module.SubmissionService._store

    async def recording_store(*args: Any, **kwargs: Any) -> Any:
        wrote.append(await real_store(*args, **kwargs))
        return wrote[-1]

    monkeypatch.setattr(service_module.SubmissionService, "_store", recording_store)
    deliveries_before = await count(app, Delivery)
    resp = await submit(client, tokens, "wendy", body(cg_answers), key)
    assert [(w.locked, w.stored) for w in wrote] == [(True, False)]
    assert resp.status_code == 201
    assert resp.headers["idempotent-replayed"] == "true"
    assert resp.json() == first
    assert await count(app, Submission, Submission.owner == "wendy") == 1
    assert await count(app, Delivery) == deliveries_before


async def test_a_retry_is_replayed_even_after_its_version_was_retired(
    client: httpx.AsyncClient,
    tokens: TokenFactory,
    cg_answers: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A check that would refuse a new submission (here: the version retired since) does not
    stop the replay of the key's first outcome."""
    from tellonce_shared.problems import Conflict
    from tellonce_submissions.submissions import service as service_module

    key = uuid.uuid4().hex
    first = (await submit(client, tokens, "xavier", body(cg_answers), key)).json()

    async def retired(*args: Any, **kwargs: Any) -> Any:
        raise Conflict("Version 1 of '10-10cg' is retired.")

    monkeypatch.setattr(service_module.SubmissionService, "check", retired)
    again = await submit(client, tokens, "xavier", body(cg_answers), key)
    assert again.status_code == 201
    assert again.json() == first
    fresh = await submit(client, tokens, "xavier", body(cg_answers), uuid.uuid4().hex)
    assert fresh.status_code == 409  # a new key is refused


async def test_a_lost_database_connection_is_one_503_then_the_service_recovers(
    client: httpx.AsyncClient, tokens: TokenFactory, app: FastAPI, cg_answers: dict[str, Any]
) -> None:
    """The write runs on the driver's connection itself (store._execute_on_driver): a
    connection the database dropped must still be a clean 503, and the pool renewed."""
    # Several at once, so the pool holds several connections.
    first = await asyncio.gather(
        *(submit(client, tokens, "lost-connection-resident", body(cg_answers)) for _ in range(4))
    )
    assert [r.status_code for r in first] == [201] * 4
    # From a connection of its own, not the app's pool: every pooled connection dies.
    outside = create_async_engine(app.state.database.url, poolclass=NullPool)
    async with outside.connect() as conn:
        killed = await conn.scalar(
            text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        )
    await outside.dispose()
    assert killed
    key = uuid.uuid4().hex
    lost = await submit(client, tokens, "lost-connection-resident", body(cg_answers), key)
    assert lost.status_code == 503, lost.text
    assert lost.headers["content-type"] == "application/problem+json"
    assert "retry-after" in lost.headers
    assert await count(app, Submission, Submission.owner == "lost-connection-resident") == 4
    retry = await submit(client, tokens, "lost-connection-resident", body(cg_answers), key)
    assert retry.status_code == 201, retry.text
    assert await count(app, Submission, Submission.owner == "lost-connection-resident") == 5


async def test_the_openapi_document_still_describes_the_submission_request(
    client: httpx.AsyncClient,
) -> None:
    """POST /submissions reads its body and header itself; they stay documented."""
    doc = (await client.get("/openapi.json")).json()
    operation = doc["paths"]["/api/v1/submissions"]["post"]
    schema = operation["requestBody"]["content"]["application/json"]["schema"]
    assert operation["requestBody"]["required"] is True
    assert set(schema["required"]) == {"form", "version", "answers"}
    assert {"form", "version", "answers", "draft"} <= set(schema["properties"])
    [header] = [p for p in operation["parameters"] if p["name"] == "Idempotency-Key"]
    assert header["in"] == "header"
    assert header["required"] is True
    assert "201" in operation["responses"]
