"""Drafts (save, resume, retention with a fake clock, retired versions), the profile with
consent, and prefill across forms, on PostgreSQL through the ASGI app."""

from __future__ import annotations

import copy
import uuid
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import delete, func, select, text

from tellonce_shared.testing import TokenFactory
from tellonce_submissions.models import Draft, ProfileValue
from tellonce_submissions.retention import purge

from .conftest import FakeClock
from .registry_double import SNAP_ELEMENTS, SNAP_SCHEMA, RegistryDouble


def who() -> str:
    return "res-" + uuid.uuid4().hex[:8]


async def submit(
    client: httpx.AsyncClient, tokens: TokenFactory, sub: str, payload: dict[str, Any]
) -> httpx.Response:
    headers = tokens.headers(sub)
    headers["Idempotency-Key"] = uuid.uuid4().hex
    return await client.post("/api/v1/submissions", json=payload, headers=headers)


async def test_draft_save_resume_update_delete(
    client: httpx.AsyncClient, tokens: TokenFactory
) -> None:
    me = tokens.headers(who())
    resp = await client.post(
        "/api/v1/drafts", json={"form": "snap", "answers": {"householdSize": 3}}, headers=me
    )
    assert resp.status_code == 201, resp.text
    draft = resp.json()
    assert draft["version"] == 1  # pinned to the latest published version
    got = (await client.get(f"/api/v1/drafts/{draft['id']}", headers=me)).json()
    assert got["answers"] == {"householdSize": 3}
    resp = await client.patch(
        f"/api/v1/drafts/{draft['id']}",
        json={"answers": {"householdSize": 4, "applicant": {"ssn": "123456789"}}},
        headers=me,
    )
    assert resp.status_code == 200
    got = (await client.get(f"/api/v1/drafts/{draft['id']}", headers=me)).json()
    assert got["answers"]["applicant"]["ssn"] == "123456789"
    listed = (await client.get("/api/v1/drafts", headers=me)).json()
    assert [d["id"] for d in listed["items"]] == [draft["id"]]
    assert (await client.delete(f"/api/v1/drafts/{draft['id']}", headers=me)).status_code == 204
    assert (await client.get(f"/api/v1/drafts/{draft['id']}", headers=me)).status_code == 404


async def test_draft_restricted_values_are_sealed(
    client: httpx.AsyncClient, tokens: TokenFactory, app: FastAPI
) -> None:
    me = tokens.headers(who())
    draft = (
        await client.post(
            "/api/v1/drafts",
            json={"form": "snap", "answers": {"applicant": {"ssn": "987654321"}}},
            headers=me,
        )
    ).json()
    async with app.state.database.sessions() as s:
        raw = (
            await s.execute(
                text("SELECT answers::text, key_id FROM drafts WHERE id = :id"), {"id": draft["id"]}
            )
        ).one()
    assert "987654321" not in raw[0]
    assert raw[1] == "local-only-1"


async def test_another_residents_draft_is_404(
    client: httpx.AsyncClient, tokens: TokenFactory
) -> None:
    mine = (
        await client.post("/api/v1/drafts", json={"form": "snap"}, headers=tokens.headers(who()))
    ).json()
    other = tokens.headers(who())
    path = f"/api/v1/drafts/{mine['id']}"
    assert (await client.get(path, headers=other)).status_code == 404
    assert (await client.patch(path, json={"answers": {}}, headers=other)).status_code == 404
    assert (await client.delete(path, headers=other)).status_code == 404
    agency = tokens.headers("x", role="agency", agency="DSS")
    assert (await client.get(path, headers=agency)).status_code == 403


async def test_draft_bad_input(client: httpx.AsyncClient, tokens: TokenFactory) -> None:
    me = tokens.headers(who())
    r = await client.post("/api/v1/drafts", json={"form": "nope"}, headers=me)
    assert r.status_code == 404
    r = await client.post("/api/v1/drafts", json={"form": "snap", "extra": 1}, headers=me)
    assert r.status_code == 422
    r = await client.post("/api/v1/drafts", json={"form": "snap", "answers": []}, headers=me)
    assert r.status_code == 422
    r = await client.post(
        "/api/v1/drafts", json={"form": "snap", "answers": {"a": list(range(10_001))}}, headers=me
    )
    assert r.status_code == 422


async def test_draft_form_or_version_the_registry_cannot_name_is_422(
    client: httpx.AsyncClient, tokens: TokenFactory, app: FastAPI
) -> None:
    """Found by schemathesis: ``snap?x=`` was a 500, ``../forms/snap`` saved a draft under that
    name, and a version past nine digits was a 503 (the registry refuses it)."""
    sub = who()
    me = tokens.headers(sub)
    for form in ("snap?x=", "snap#", "../forms/snap", "snap/versions/latest?", "SNAP", " snap"):
        r = await client.post("/api/v1/drafts", json={"form": form}, headers=me)
        assert r.status_code == 422, (form, r.text)
        assert r.headers["content-type"] == "application/problem+json"
        assert [e["pointer"] for e in r.json()["errors"]] == ["/form"]
    for version in (10**9, 2**31, 10**20):
        r = await client.post(
            "/api/v1/drafts", json={"form": "snap", "version": version}, headers=me
        )
        assert r.status_code == 422, (version, r.text)
        assert [e["pointer"] for e in r.json()["errors"]] == ["/version"]
    async with app.state.database.sessions() as s:
        stored = (
            await s.execute(select(func.count()).select_from(Draft).where(Draft.owner == sub))
        ).scalar_one()
    assert stored == 0


async def test_numbers_json_cannot_carry_are_422_not_500(
    client: httpx.AsyncClient, tokens: TokenFactory
) -> None:
    """Found by schemathesis: a whole number past 64 bits in answers was a 500 (orjson copies
    and stores answers and raises on it); NaN and Infinity would have been stored as null."""
    me = {**tokens.headers(who()), "content-type": "application/json"}
    created = await client.post("/api/v1/drafts", json={"form": "snap"}, headers=me)
    assert created.status_code == 201, created.text
    draft = created.json()["id"]
    for number in (str(2**63), str(-(2**63) - 1), "1" + "0" * 40, "NaN", "Infinity", "1e999"):
        doc = f'{{"household": {{"size": [{number}]}}}}'
        calls = [
            ("POST", "/api/v1/drafts", f'{{"form": "snap", "answers": {doc}}}', "/answers"),
            ("PATCH", f"/api/v1/drafts/{draft}", f'{{"answers": {doc}}}', "/answers"),
            ("PUT", "/api/v1/profile/values/person.givenName", f'{{"value": {number}}}', "/value"),
        ]
        for method, url, content, pointer in calls:
            r = await client.request(method, url, content=content, headers=me)
            assert r.status_code == 422, (method, url, number, r.text)
            assert r.headers["content-type"] == "application/problem+json"
            assert pointer in [e["pointer"] for e in r.json()["errors"]], r.json()
    fits = f'{{"answers": {{"n": {2**63 - 1}, "m": {-(2**63)}, "f": 1.5e300}}}}'
    ok = await client.patch(f"/api/v1/drafts/{draft}", content=fits, headers=me)
    assert ok.status_code == 200, ok.text
    assert ok.json()["answers"]["n"] == 2**63 - 1


async def test_a_draft_deleted_while_it_is_saved_is_404_not_500(
    client: httpx.AsyncClient, tokens: TokenFactory, app: FastAPI, monkeypatch: Any
) -> None:
    """Found by schemathesis (two workers): a DELETE committing between a PATCH's read and its
    write left the UPDATE matching no row (StaleDataError, a 500)."""
    me = tokens.headers(who())
    created = await client.post("/api/v1/drafts", json={"form": "snap"}, headers=me)
    assert created.status_code == 201, created.text
    draft_id = created.json()["id"]
    registry = app.state.registry
    real = registry.version

    async def version_then_deleted_elsewhere(form: str, number: int) -> Any:
        found = await real(form, number)
        async with app.state.database.sessions() as s:
            await s.execute(delete(Draft).where(Draft.id == draft_id))
            await s.commit()
        return found

    monkeypatch.setattr(registry, "version", version_then_deleted_elsewhere)
    changed = {"answers": {"note": "typed meanwhile"}}
    r = await client.patch(f"/api/v1/drafts/{draft_id}", json=changed, headers=me)
    assert r.status_code == 404, r.text
    assert r.headers["content-type"] == "application/problem+json"


async def test_retention_deletes_drafts_sixty_days_after_last_change(
    client: httpx.AsyncClient, tokens: TokenFactory, app: FastAPI, clock: FakeClock
) -> None:
    me = tokens.headers(who())
    old = (await client.post("/api/v1/drafts", json={"form": "snap"}, headers=me)).json()
    kept = (await client.post("/api/v1/drafts", json={"form": "snap"}, headers=me)).json()
    clock.advance(days=59)
    # touching one restarts its clock
    r = await client.patch(f"/api/v1/drafts/{kept['id']}", json={"answers": {}}, headers=me)
    assert r.status_code == 200
    assert (await client.get(f"/api/v1/drafts/{old['id']}", headers=me)).status_code == 200
    clock.advance(days=1, seconds=1)
    # past 60 days it is gone for the resident at once, and the job deletes it
    assert (await client.get(f"/api/v1/drafts/{old['id']}", headers=me)).status_code == 404
    removed = await purge(app.state.database, app.state.settings, clock.now)
    assert removed["drafts"] >= 1
    async with app.state.database.sessions() as s:
        ids = set((await s.execute(select(Draft.id))).scalars())
    assert old["id"] not in ids
    assert kept["id"] in ids
    assert (await client.get(f"/api/v1/drafts/{kept['id']}", headers=me)).status_code == 200


async def test_retired_version_can_be_submitted_from_its_draft_only(
    client: httpx.AsyncClient, tokens: TokenFactory, registry: RegistryDouble
) -> None:
    registry.add_form("energy", "DOH", "Energy assistance")
    registry.add_version("energy", 1, SNAP_SCHEMA, SNAP_ELEMENTS)
    registry.agreements["energy"] = []
    sub = who()
    me = tokens.headers(sub)
    draft = (
        await client.post(
            "/api/v1/drafts",
            json={"form": "energy", "version": 1, "answers": {"applicant": {"birthDate": "x"}}},
            headers=me,
        )
    ).json()
    registry.versions[("energy", 1)]["status"] = "retired"
    registry.add_version("energy", 2, SNAP_SCHEMA, SNAP_ELEMENTS)
    answers = {"applicant": {"birthDate": "1990-01-01"}}
    plain = {"form": "energy", "version": 1, "answers": answers}
    r = await submit(client, tokens, sub, plain)
    assert r.status_code == 409
    assert "retired" in r.json()["detail"]
    # a new draft cannot start on the retired version
    r = await client.post("/api/v1/drafts", json={"form": "energy", "version": 1}, headers=me)
    assert r.status_code == 409
    r = await submit(client, tokens, sub, {**plain, "draft": draft["id"]})
    assert r.status_code == 201, r.text
    # the draft is consumed by the submission
    assert (await client.get(f"/api/v1/drafts/{draft['id']}", headers=me)).status_code == 404
    # someone else's draft id does not open the door
    other = who()
    r = await submit(client, tokens, other, {**plain, "draft": draft["id"]})
    assert r.status_code == 404


async def test_unpublished_version_is_refused(
    client: httpx.AsyncClient, tokens: TokenFactory, registry: RegistryDouble
) -> None:
    registry.add_version("snap", 7, SNAP_SCHEMA, SNAP_ELEMENTS, status="draft")
    r = await submit(
        client, tokens, who(), {"form": "snap", "version": 7, "answers": {"applicant": {}}}
    )
    assert r.status_code == 409


async def test_prefill_carries_birth_date_across_forms_by_element(
    client: httpx.AsyncClient, tokens: TokenFactory, cg_answers: dict[str, Any]
) -> None:
    sub = who()
    me = tokens.headers(sub)
    r = await client.put("/api/v1/profile/consent", json={"keep": True}, headers=me)
    assert r.status_code == 200
    assert r.json()["keep"] is True
    assert (
        await submit(client, tokens, sub, {"form": "10-10cg", "version": 1, "answers": cg_answers})
    ).status_code == 201
    # 10-10CG calls it veteran.dateOfBirth; SNAP calls it applicant.birthDate
    r = await client.post("/api/v1/drafts", json={"form": "snap", "prefill": True}, headers=me)
    assert r.status_code == 201
    draft = r.json()
    assert draft["answers"]["applicant"]["birthDate"] == cg_answers["veteran"]["dateOfBirth"]
    assert draft["answers"]["applicant"]["givenName"] == cg_answers["veteran"]["fullName"]["first"]
    assert draft["answers"]["applicant"]["ssn"] == cg_answers["veteran"]["ssnOrTin"]
    assert "/applicant/birthDate" in draft["prefilled"]
    # what the resident types wins over the profile
    r = await client.post(
        "/api/v1/drafts",
        json={"form": "snap", "prefill": True, "answers": {"applicant": {"givenName": "Janie"}}},
        headers=me,
    )
    assert r.json()["answers"]["applicant"] == {
        "givenName": "Janie",
        "birthDate": cg_answers["veteran"]["dateOfBirth"],
        "ssn": cg_answers["veteran"]["ssnOrTin"],
    }


async def test_no_consent_keeps_nothing(
    client: httpx.AsyncClient, tokens: TokenFactory, app: FastAPI, cg_answers: dict[str, Any]
) -> None:
    sub = who()
    assert (
        await submit(client, tokens, sub, {"form": "10-10cg", "version": 1, "answers": cg_answers})
    ).status_code == 201
    profile = (await client.get("/api/v1/profile", headers=tokens.headers(sub))).json()
    assert profile == {"keep": False, "values": []}
    draft = (
        await client.post(
            "/api/v1/drafts", json={"form": "snap", "prefill": True}, headers=tokens.headers(sub)
        )
    ).json()
    assert draft["answers"] == {}
    assert draft["prefilled"] == []


async def test_profile_see_correct_and_erase(
    client: httpx.AsyncClient, tokens: TokenFactory, app: FastAPI, cg_answers: dict[str, Any]
) -> None:
    sub = who()
    me = tokens.headers(sub)
    await client.put("/api/v1/profile/consent", json={"keep": True}, headers=me)
    answers = copy.deepcopy(cg_answers)
    await submit(client, tokens, sub, {"form": "10-10cg", "version": 1, "answers": answers})
    profile = (await client.get("/api/v1/profile", headers=me)).json()
    values = {v["element"]: v for v in profile["values"]}
    ssn = answers["veteran"]["ssnOrTin"]
    assert values["person.ssn"]["masked"] is True
    assert values["person.ssn"]["value"].endswith(ssn[-4:])
    assert ssn not in str(profile)
    assert values["person.birthDate"]["value"] == answers["veteran"]["dateOfBirth"]
    assert values["person.birthDate"]["source_form"] == "10-10cg"
    revealed = (await client.get("/api/v1/profile?reveal=true", headers=me)).json()
    assert {v["element"]: v["value"] for v in revealed["values"]}["person.ssn"] == ssn
    # encrypted at rest
    async with app.state.database.sessions() as s:
        row = (
            await s.execute(
                select(ProfileValue).where(
                    ProfileValue.owner == sub, ProfileValue.element == "person.ssn"
                )
            )
        ).scalar_one()
    assert row.value is None
    assert row.sealed is not None
    assert ssn.encode() not in row.sealed
    # correct one value
    r = await client.put(
        "/api/v1/profile/values/person.birthDate", json={"value": "1991-02-03"}, headers=me
    )
    assert r.status_code == 200
    assert {v["element"]: v["value"] for v in r.json()["values"]}[
        "person.birthDate"
    ] == "1991-02-03"
    r = await client.put("/api/v1/profile/values/no.such", json={"value": 1}, headers=me)
    assert r.status_code == 404
    # a correction must still be a valid value of the element
    r = await client.put(
        "/api/v1/profile/values/person.birthDate", json={"value": "next tuesday"}, headers=me
    )
    assert r.status_code == 422
    assert r.json()["errors"][0]["pointer"] == "/value"
    r = await client.put("/api/v1/profile/values/person.ssn", json={"value": "12-34"}, headers=me)
    assert r.status_code == 422
    assert "12-34" not in r.text
    assert (
        await client.delete("/api/v1/profile/values/contact.phone", headers=me)
    ).status_code == 204
    # another resident sees nothing of it
    other = (await client.get("/api/v1/profile", headers=tokens.headers(who()))).json()
    assert other == {"keep": False, "values": []}
    # erase everything
    assert (await client.delete("/api/v1/profile", headers=me)).status_code == 204
    assert (await client.get("/api/v1/profile", headers=me)).json() == {"keep": False, "values": []}
    async with app.state.database.sessions() as s:
        left = (
            await s.execute(
                select(func.count()).select_from(ProfileValue).where(ProfileValue.owner == sub)
            )
        ).scalar_one()
    assert left == 0


async def test_withdrawing_consent_erases_values(
    client: httpx.AsyncClient, tokens: TokenFactory, cg_answers: dict[str, Any]
) -> None:
    sub = who()
    me = tokens.headers(sub)
    await client.put("/api/v1/profile/consent", json={"keep": True}, headers=me)
    await submit(client, tokens, sub, {"form": "10-10cg", "version": 1, "answers": cg_answers})
    assert (await client.get("/api/v1/profile", headers=me)).json()["values"]
    r = await client.put("/api/v1/profile/consent", json={"keep": False}, headers=me)
    assert r.json() == {"keep": False, "values": []}
    r = await client.put("/api/v1/profile/values/person.birthDate", json={"value": "x"}, headers=me)
    assert r.status_code == 409


async def test_a_later_submission_replaces_what_the_profile_kept(
    client: httpx.AsyncClient, tokens: TokenFactory, cg_answers: dict[str, Any]
) -> None:
    sub = who()
    me = tokens.headers(sub)
    await client.put("/api/v1/profile/consent", json={"keep": True}, headers=me)
    first = {"form": "10-10cg", "version": 1, "answers": cg_answers}
    assert (await submit(client, tokens, sub, first)).status_code == 201
    moved = copy.deepcopy(cg_answers)
    moved["veteran"]["dateOfBirth"] = "1979-12-31"
    second = {"form": "10-10cg", "version": 1, "answers": moved}
    assert (await submit(client, tokens, sub, second)).status_code == 201
    profile = (await client.get("/api/v1/profile", headers=me)).json()
    values = {v["element"]: v for v in profile["values"]}
    assert values["person.birthDate"]["value"] == "1979-12-31"
    assert len(profile["values"]) == len(values)  # replaced, not added twice


async def test_an_answer_the_element_refuses_is_not_kept(
    client: httpx.AsyncClient, tokens: TokenFactory
) -> None:
    """SNAP asks the date of birth as free text, mapped to ``person.birthDate`` (a date): an
    answer such as "May 1980" is the form's to accept, but it is not a date, so it is not
    kept (it would be prefilled as a date elsewhere); a real date is kept, and so is the first
    name given with it."""
    sub = who()
    me = tokens.headers(sub)
    assert (
        await client.put("/api/v1/profile/consent", json={"keep": True}, headers=me)
    ).status_code == 200

    async def kept(birth_date: str) -> dict[str, Any]:
        answers = {"applicant": {"birthDate": birth_date, "givenName": "Ana"}}
        payload = {"form": "snap", "version": 1, "answers": answers}
        created = await submit(client, tokens, sub, payload)
        assert created.status_code == 201, created.text
        profile = (await client.get("/api/v1/profile", headers=me)).json()
        return {v["element"]: v["value"] for v in profile["values"]}

    assert await kept("May 1980") == {"person.givenName": "Ana"}
    assert await kept("1980-05-01") == {"person.givenName": "Ana", "person.birthDate": "1980-05-01"}
