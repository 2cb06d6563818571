"""Privacy review (2026-11-26): masking a restricted value shows nothing of a choice, a
yes/no or a number (before, the mask kept the value's length and last 4 characters, so
``citizen`` read ``•••izen`` and ``False`` read ``•alse``); free text of 8 characters or more
keeps its last 4 (an SSN's), shorter free text nothing. In the API, on the receipt and in
the profile."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tellonce_shared.testing import TokenFactory
from tellonce_submissions.answers import MASK, MAX_SCHEMA_NODES, free_text_at, mask
from tellonce_submissions.models import Submission
from tellonce_submissions.receipts.service import receipt_data
from tellonce_submissions.sealing import masked_answers
from tellonce_submissions.submissions.service import SubmissionService

from .registry_double import RegistryDouble

DOTS = "\u2022"
CITIZENSHIP = {
    "type": "string",
    "title": "Citizenship",
    "enum": ["citizen", "permanent_resident", "qualified_noncitizen", "other"],
}
SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "$defs": {"citizenship": CITIZENSHIP},
    "properties": {
        "person": {
            "type": "object",
            "properties": {
                "ssn": {"type": "string", "pattern": "^[0-9]{9}$", "title": "SSN"},
                "citizenship": {"$ref": "#/$defs/citizenship"},
                "pregnant": {"type": "boolean", "title": "Pregnant"},
                "account": {"type": "string", "title": "Account number"},
            },
        },
        "household": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"citizenship": {"$ref": "#/$defs/citizenship"}},
            },
        },
    },
}
ELEMENTS = {
    "/person/ssn": "person.ssn",
    "/person/citizenship": "person.citizenshipStatus",
    "/person/pregnant": "health.pregnant",
    "/person/account": "bank.accountNumber",
    "/household/*/citizenship": "person.citizenshipStatus",
}
FORM = "privacy-mask"


@pytest.fixture(scope="module", autouse=True)
def privacy_form(registry: RegistryDouble) -> None:
    if (FORM, 1) not in registry.versions:
        registry.add_form(FORM, "DSS", "Masking")
        registry.add_version(FORM, 1, SCHEMA, ELEMENTS, with_sensitivity=True)
        registry.agreements[FORM] = []


def answers(citizenship: str, pregnant: bool) -> dict[str, Any]:
    return {
        "person": {
            "ssn": "123456789",
            "citizenship": citizenship,
            "pregnant": pregnant,
            "account": "98765",
        },
        "household": [{"citizenship": citizenship}],
    }


def test_mask_shows_nothing_of_a_choice_a_boolean_or_short_text() -> None:
    assert MASK == DOTS * 4
    assert mask("123456789", free_text=True) == DOTS * 4 + "6789"
    assert mask("1234567890123456", free_text=True) == DOTS * 4 + "3456"  # fixed length
    assert mask("12345678", free_text=True) == DOTS * 4 + "5678"
    for value in ("1234567", "12", "", True, False, 0, 12345678, 3.5, None, ["a"], {"a": "b"}):
        assert mask(value, free_text=True) == MASK, value
    for value in ("citizen", "permanent_resident", "qualified_noncitizen", "123456789"):
        assert mask(value, free_text=False) == MASK, value


@pytest.mark.parametrize(
    ("schema", "tokens", "free"),
    [
        ({"type": "string"}, (), True),
        ({"type": ["string", "null"], "maxLength": 20}, (), True),
        ({}, (), True),
        ({"type": "string", "enum": ["a", "b"]}, (), False),
        ({"const": "x"}, (), False),
        ({"type": "boolean"}, (), False),
        ({"type": "integer"}, (), False),
        ({"type": "string", "format": "date"}, (), False),
        ({"anyOf": [{"type": "string"}, {"const": "n/a"}]}, (), False),
        ({"oneOf": [{"const": "a"}, {"const": "b"}]}, (), False),
        (None, (), False),
        (SCHEMA, ("person", "ssn"), True),
        (SCHEMA, ("person", "account"), True),
        (SCHEMA, ("person", "citizenship"), False),
        (SCHEMA, ("person", "pregnant"), False),
        (SCHEMA, ("household", "0", "citizenship"), False),
        (SCHEMA, ("person", "unknown"), False),
        (SCHEMA, ("person",), False),
        ({"$ref": "#/nowhere"}, (), False),
    ],
)
def test_free_text_is_read_from_the_schema(
    schema: Any, tokens: tuple[str, ...], free: bool
) -> None:
    assert free_text_at(schema, tokens) is free


async def submit(
    client: httpx.AsyncClient, tokens: TokenFactory, sub: str, body: dict[str, Any]
) -> dict[str, Any]:
    r = await client.post(
        "/api/v1/submissions",
        json={"form": FORM, "version": 1, "answers": body},
        headers={**tokens.headers(sub), "Idempotency-Key": uuid.uuid4().hex},
    )
    assert r.status_code == 201, r.text
    created: dict[str, Any] = r.json()
    return created


async def test_the_api_and_the_receipt_do_not_give_a_choice_away(
    client: httpx.AsyncClient, tokens: TokenFactory, app: FastAPI
) -> None:
    sub = "mask-" + uuid.uuid4().hex[:8]
    seen: dict[str, Any] = {}
    on_receipt: dict[str, Any] = {}
    for citizenship, pregnant in (
        ("citizen", True),
        ("permanent_resident", False),
        ("qualified_noncitizen", True),
        ("other", False),
    ):
        created = await submit(client, tokens, sub, answers(citizenship, pregnant))
        r = await client.get(f"/api/v1/submissions/{created['id']}", headers=tokens.headers(sub))
        assert r.status_code == 200, r.text
        shown = r.json()["answers"]
        assert shown["person"] == {
            "ssn": DOTS * 4 + "6789",
            "citizenship": MASK,
            "pregnant": MASK,
            "account": MASK,  # 5 characters: the last 4 would be most of it
        }
        assert shown["household"] == [{"citizenship": MASK}]
        seen[citizenship] = shown
        async with app.state.database.sessions() as s:
            submission = await s.get(Submission, created["id"])
            assert submission is not None
            version = await app.state.registry.version(FORM, 1)
            service = SubmissionService(
                s,
                registry=app.state.registry,
                sealer=app.state.sealer,
                settings=app.state.settings,
                now=datetime.now(UTC),
            )
            data = receipt_data(submission, service.answers_of(submission, masked=False), version)
        rows = {r["label"]: r["value"] for r in data["answers"]}
        assert rows["SSN"] == DOTS * 4 + "6789"
        assert rows["Pregnant"] == MASK  # not "•••" for Yes, "••" for No
        assert rows["Account number"] == MASK
        citizenships = [r["value"] for r in data["answers"] if r["label"] == "Citizenship"]
        assert citizenships == [MASK, MASK]  # the person's and the household member's
        on_receipt[citizenship] = rows
    # the four submissions cannot be told apart
    assert len({str(v) for v in seen.values()}) == 1
    assert len({str(v) for v in on_receipt.values()}) == 1


def test_without_a_schema_every_restricted_value_is_masked_whole(app: FastAPI) -> None:
    sealer = app.state.sealer
    taken = {"/person/ssn": "123456789", "/person/citizenship": "permanent_resident"}
    blob, kid = sealer.seal(taken, context="row")
    masked = masked_answers({"person": {}}, blob, kid, sealer, context="row", schema=None)
    assert masked == {"person": {"ssn": MASK, "citizenship": MASK}}
    masked = masked_answers({"person": {}}, blob, kid, sealer, context="row", schema=SCHEMA)
    assert masked == {"person": {"ssn": DOTS * 4 + "6789", "citizenship": MASK}}


async def test_the_profile_masks_a_kept_choice_whole(
    client: httpx.AsyncClient, tokens: TokenFactory
) -> None:
    sub = "mask-" + uuid.uuid4().hex[:8]
    me = tokens.headers(sub)
    r = await client.put("/api/v1/profile/consent", json={"keep": True}, headers=me)
    assert r.status_code == 200, r.text
    await submit(client, tokens, sub, answers("permanent_resident", False))
    r = await client.get("/api/v1/profile", headers=me)
    assert r.status_code == 200, r.text
    values = {v["element"]: v for v in r.json()["values"]}
    assert values["person.citizenshipStatus"]["value"] == MASK
    assert values["person.citizenshipStatus"]["masked"] is True
    assert values["health.pregnant"]["value"] == MASK
    assert values["person.ssn"]["value"] == DOTS * 4 + "6789"
    assert values["bank.accountNumber"]["value"] == MASK
    revealed = (await client.get("/api/v1/profile?reveal=true", headers=me)).json()["values"]
    assert {v["element"]: v["value"] for v in revealed}["person.citizenshipStatus"] == (
        "permanent_resident"
    )


@pytest.mark.parametrize("fan", [2, 3, 8])
def test_a_schema_that_refers_back_to_itself_is_walked_once(fan: int) -> None:
    """A field whose schema reaches itself again through ``anyOf`` branches (valid, and
    accepted by the registry) was walked branch by branch: 3 branches took minutes on the
    event loop at every masked read. Each branch is now followed once per walk, so the
    answer comes from a handful of nodes."""
    loop = {"anyOf": [{"$ref": "#/$defs/ssn"} for _ in range(fan)] + [{"type": "string"}]}
    schema = {
        "$defs": {"ssn": loop},
        "type": "object",
        "properties": {
            "ssn": {"$ref": "#/$defs/ssn"},
            "choice": {"anyOf": [loop, {"enum": ["a"]}]},
        },
    }
    assert free_text_at(schema, ["ssn"]) is True
    assert free_text_at(schema, ["choice"]) is False


def test_a_schema_too_large_to_read_masks_whole() -> None:
    """Past ``MAX_SCHEMA_NODES`` nothing is concluded from the schema: the value counts as
    not free text, so it is masked whole."""
    wide = {"anyOf": [{"type": "string"} for _ in range(MAX_SCHEMA_NODES + 1)]}
    assert free_text_at({"properties": {"x": wide}}, ["x"]) is False
    assert free_text_at({"properties": {"x": {"anyOf": [{"type": "string"}] * 10}}}, ["x"])
