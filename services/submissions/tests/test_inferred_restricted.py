"""A field with no data element that the registry says is restricted anyway (an SSN a form
did not map: ``sensitivity: "restricted"``, ``sensitivity_source: "inferred"``) is sealed at
rest and masked like a mapped one, and still delivered in full to the agencies entitled to
it."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select, text

from tellonce_shared.testing import TokenFactory
from tellonce_submissions.deliveries.models import Delivery
from tellonce_submissions.deliveries.outbox import default_box, open_answers
from tellonce_submissions.receipts.render import receipt_html

from .registry_double import RegistryDouble
from .test_registry_refresh import refreshing_client

FORM = "vet-benefits"
SSN = "987654329"
SSN_POINTER = "/veteranSocialSecurityNumber"

VET_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "additionalProperties": False,
    "required": ["firstName", "veteranSocialSecurityNumber"],
    "properties": {
        "firstName": {"type": "string", "title": "First name"},
        "veteranSocialSecurityNumber": {
            "type": "string",
            "pattern": "^[0-9]{9}$",
            "title": "Social Security number",
        },
        "serviceBranch": {"type": "string", "title": "Branch of service"},
    },
}


def add_vet_form(double: RegistryDouble) -> None:
    """A DVA form whose SSN maps to no element: the registry infers it restricted. DSS's
    agreement names it (entitled); DOL's names only the first name."""
    if FORM in double.forms:
        return
    double.add_form(FORM, "DVA", "Veterans' benefits application")
    double.add_version(
        FORM, 1, VET_SCHEMA, {"/firstName": "person.givenName"}, with_sensitivity=True
    )
    for row in double.fields[(FORM, 1)]:
        row["element_source"] = "version" if row["element"] else None
        row["sensitivity_source"] = "element" if row["element"] else None
        if row["pointer"] == SSN_POINTER:
            assert row["element"] is None
            row.update(sensitivity="restricted", sensitivity_source="inferred")
    double.agreements[FORM] = [
        {"agency": "DSS", "form": FORM, "fields": [SSN_POINTER], "purpose": "p"},
        {"agency": "DOL", "form": FORM, "fields": ["person.givenName"], "purpose": "p"},
    ]


@pytest.fixture
def vet_form(registry: RegistryDouble) -> str:
    add_vet_form(registry)
    return FORM


def answers() -> dict[str, Any]:
    return {"firstName": "Victor", "veteranSocialSecurityNumber": SSN, "serviceBranch": "Army"}


async def submit(
    client: httpx.AsyncClient, tokens: TokenFactory, sub: str, form: str
) -> dict[str, Any]:
    headers = {**tokens.headers(sub), "Idempotency-Key": uuid.uuid4().hex}
    payload = {"form": form, "version": 1, "answers": answers()}
    resp = await client.post("/api/v1/submissions", json=payload, headers=headers)
    assert resp.status_code == 201, resp.text
    created: dict[str, Any] = resp.json()
    return created


def masked(value: Any) -> bool:
    return isinstance(value, str) and value != SSN and value.startswith("\u2022")


async def test_an_unmapped_restricted_field_is_sealed_in_the_row(
    client: httpx.AsyncClient, tokens: TokenFactory, app: FastAPI, vet_form: str
) -> None:
    sid = (await submit(client, tokens, "vera", vet_form))["id"]
    async with app.state.database.sessions() as s:
        public, sealed, key_id = (
            await s.execute(
                text("SELECT answers::text, sealed, key_id FROM submissions WHERE id = :id"),
                {"id": sid},
            )
        ).one()
    assert SSN not in public
    assert "Victor" in public  # what is not restricted stays readable
    assert sealed is not None
    assert key_id is not None
    assert SSN.encode() not in bytes(sealed)


async def test_an_unmapped_restricted_field_is_masked_in_get_and_on_the_receipt(
    client: httpx.AsyncClient,
    tokens: TokenFactory,
    app: FastAPI,
    vet_form: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sid = (await submit(client, tokens, "vince", vet_form))["id"]
    me = tokens.headers("vince")
    shown = (await client.get(f"/api/v1/submissions/{sid}", headers=me)).json()
    assert masked(shown["answers"]["veteranSocialSecurityNumber"]), shown["answers"]
    assert shown["answers"]["firstName"] == "Victor"
    assert SSN not in str(shown)

    renderer = app.state.receipts
    seen: list[dict[str, Any]] = []
    real = renderer.render

    async def render(data: dict[str, Any]) -> bytes:
        seen.append(data)
        pdf: bytes = await real(data)
        return pdf

    monkeypatch.setattr(renderer, "render", render)
    resp = await client.get(f"/api/v1/submissions/{sid}/receipt.pdf", headers=me)
    assert resp.status_code == 200
    [data] = seen
    rows = {r["label"]: r["value"] for r in data["answers"]}
    assert masked(rows["Social Security number"]), rows
    assert rows["First name"] == "Victor"
    assert SSN not in receipt_html(data)


async def test_the_entitled_agency_gets_the_unmapped_restricted_value_in_full(
    client: httpx.AsyncClient, tokens: TokenFactory, app: FastAPI, vet_form: str
) -> None:
    created = await submit(client, tokens, "vlad", vet_form)
    fields = {d["agency"]: d["fields"] for d in created["deliveries"]}
    assert fields["DSS"] == [SSN_POINTER]
    assert fields["DOL"] == ["/firstName"]
    async with app.state.database.sessions() as s:
        rows = (
            (await s.execute(select(Delivery).where(Delivery.submission_id == created["id"])))
            .scalars()
            .all()
        )
        public = (
            await s.execute(
                text("SELECT answers::text FROM submissions WHERE id = :id"),
                {"id": created["id"]},
            )
        ).scalar_one()
    assert SSN not in public  # sealed in the submission's row, yet delivered in full:
    shares = {d.agency: open_answers(d, default_box()) for d in rows}
    assert shares["DVA"] == answers()  # the owner: everything, in full
    assert shares["DSS"] == {"veteranSocialSecurityNumber": SSN}
    assert shares["DOL"] == {"firstName": "Victor"}
    assert all(SSN not in str(d.answers) for d in rows)  # sealed in the outbox too


async def test_a_draft_seals_an_unmapped_restricted_field(
    client: httpx.AsyncClient, tokens: TokenFactory, app: FastAPI, vet_form: str
) -> None:
    me = tokens.headers("vida")
    resp = await client.post(
        "/api/v1/drafts", json={"form": vet_form, "answers": answers()}, headers=me
    )
    assert resp.status_code == 201, resp.text
    draft = resp.json()
    async with app.state.database.sessions() as s:
        public, sealed = (
            await s.execute(
                text("SELECT answers::text, sealed FROM drafts WHERE id = :id"),
                {"id": draft["id"]},
            )
        ).one()
    assert SSN not in public
    assert sealed is not None
    # the resident's own draft gives the value back to finish the form
    got = (await client.get(f"/api/v1/drafts/{draft['id']}", headers=me)).json()
    assert got["answers"]["veteranSocialSecurityNumber"] == SSN


async def test_a_cached_version_follows_an_inferred_sensitivity() -> None:
    """The registry starts inferring a field of a version already cached (a registry
    upgraded under a running service): the next status refresh re-reads the fields and
    recompiles with the field restricted."""
    double = RegistryDouble()
    add_vet_form(double)
    row = next(r for r in double.fields[(FORM, 1)] if r["pointer"] == SSN_POINTER)
    row.update(sensitivity=None, sensitivity_source=None)
    async with refreshing_client(double) as client:
        first = await client.version(FORM, 1)
        assert ("veteranSocialSecurityNumber",) not in first.compiled.restricted
        row.update(sensitivity="restricted", sensitivity_source="inferred")
        again = await client.version(FORM, 1)
        assert ("veteranSocialSecurityNumber",) in again.compiled.restricted
        field = next(f for f in again.fields if f.pointer == SSN_POINTER)
        assert field.restricted
        assert field.element is None
        assert again.element_pointers("person.ssn") == []  # never prefilled nor kept
