"""Every real VA schema of the corpus imports (draft-04, $refs, oneOf, custom formats), and the
filled-in examples validate against the published versions."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import jsonschema_rs
import pytest

from tellonce_registry import cli
from tellonce_registry.audit.fields import flatten_schema
from tellonce_registry.config import get_settings
from tellonce_registry.schema_import.flatten import FlatField, flatten

DATA = Path(__file__).resolve().parents[1] / "data" / "va-forms"
SCHEMAS = sorted(DATA.glob("*-schema.json"))
EXAMPLES = sorted(DATA.glob("*-example.json"))
DOCS: dict[str, Any] = {p.name: json.loads(p.read_text()) for p in DATA.glob("*.json")}


def test_the_corpus_is_complete() -> None:
    assert len(SCHEMAS) == 24
    assert len(EXAMPLES) == 3


@pytest.mark.parametrize("path", SCHEMAS, ids=lambda p: p.name.removesuffix("-schema.json"))
async def test_each_va_schema_imports_and_publishes(
    path: Path, client: httpx.AsyncClient, admin: dict[str, str], catalog: Any
) -> None:
    schema = DOCS[path.name]
    slug = await catalog.make_form(agency="DVA")
    created = await catalog.add_version(slug, schema, publish=True)
    assert created["dialect"] == "draft-04"
    fetched = await client.get(f"/api/v1/forms/{slug}/versions/latest")
    assert fetched.status_code == 200
    assert fetched.json()["schema"] == schema
    fields = (await client.get(f"/api/v1/forms/{slug}/versions/1/fields")).json()["items"]
    assert len(fields) == created["fields"] > 0
    pointers = [f["pointer"] for f in fields]
    assert len(pointers) == len(set(pointers))
    assert all(p.startswith("/") for p in pointers)


async def test_large_form_is_flattened_with_refs_and_arrays(
    client: httpx.AsyncClient, catalog: Any
) -> None:
    schema = DOCS["21-526EZ-ALLCLAIMS-schema.json"]
    slug = await catalog.make_form(agency="DVA")
    created = await catalog.add_version(slug, schema, publish=True)
    assert created["fields"] > 300
    rows = {
        r["pointer"]: r
        for r in (await client.get(f"/api/v1/forms/{slug}/versions/1/fields")).json()["items"]
    }
    # reached through "$ref": "#/definitions/..." and array items
    assert rows["/alternateNames/*/first"]["type"] == "string"
    suggested = {s["pointer"]: s["element"] for s in created["suggestions"]}
    assert suggested["/alternateNames/*/first"] == "person.givenName"


def _leaves(rows: list[FlatField]) -> list[str]:
    """Pointers of rows that hold no other rows (questions, not sections or lists)."""
    parents = {r.pointer.rsplit("/", 1)[0] for r in rows}
    parents |= {p.removesuffix("/*") for p in parents}
    return [r.pointer for r in rows if r.pointer not in parents]


@pytest.mark.parametrize(
    ("form", "leaves", "present"),
    [
        (
            "21-0779",
            32,
            [
                "/claimantInformation/fullName/first",
                "/claimantInformation/dateOfBirth",
                "/claimantInformation/ssn",
                "/claimantInformation/vaFileNumber",
            ],
        ),
        (
            "20-0996",
            24,
            [
                "/data/attributes/informalConference",
                "/data/attributes/veteran/address/zipCode5",
                "/data/attributes/veteran/emailAddressText",
                "/data/attributes/informalConferenceRep/phone/phoneNumber",
            ],
        ),
        (
            "21-526EZ-ALLCLAIMS",
            327,
            [
                "/newPrimaryDisabilities/*/condition",
                "/newPrimaryDisabilities/*/ratedDisability",
                "/newSecondaryDisabilities/*/vaMistreatmentDate",
            ],
        ),
    ],
)
def test_fields_under_type_less_branches_are_flattened(
    form: str, leaves: int, present: list[str]
) -> None:
    """``oneOf: [{"type": "null"}, {object}]``, a ``oneOf`` of objects and array items that are
    an ``anyOf`` of objects declare no type of their own: their properties are still fields."""
    rows = {r.pointer: r for r in flatten(DOCS[f"{form}-schema.json"])}
    assert len(_leaves(list(rows.values()))) == leaves
    for pointer in present:
        assert pointer in rows, pointer
    if form == "21-0779":
        assert rows["/claimantInformation"].type == "object"
        assert rows["/claimantInformation/dateOfBirth"].type == "string"
        assert rows["/claimantInformation/dateOfBirth"].format == "date"
        assert rows["/claimantInformation/dateOfBirth"].required is False
    if form == "20-0996":
        assert rows["/data/attributes/veteran/emailAddressText"].format == "email"
    if form == "21-526EZ-ALLCLAIMS":
        assert rows["/newPrimaryDisabilities/*/cause"].enum == [
            "NEW",
            "SECONDARY",
            "WORSENED",
            "VA",
        ]


@pytest.mark.parametrize("path", SCHEMAS, ids=lambda p: p.name.removesuffix("-schema.json"))
def test_every_leaf_of_the_audit_walk_is_a_field_row(path: Path) -> None:
    schema = DOCS[path.name]
    rows = {r.pointer for r in flatten(schema)}
    walked = {r.pointer for r in flatten_schema(schema, form="f", agency="A", version=1)}
    assert walked - rows == set()


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name.removesuffix("-example.json"))
async def test_examples_validate_against_the_published_version(
    path: Path, client: httpx.AsyncClient, catalog: Any
) -> None:
    slug = await catalog.make_form(agency="DVA")
    await catalog.add_version(
        slug, DOCS[path.name.replace("-example.json", "-schema.json")], publish=True
    )
    published = (await client.get(f"/api/v1/forms/{slug}/versions/latest")).json()["schema"]
    answers = DOCS[path.name]
    assert jsonschema_rs.validator_for(published).is_valid(answers)
    validator = jsonschema.Draft4Validator(published, format_checker=jsonschema.FormatChecker())
    assert list(validator.iter_errors(answers)) == []
    # and the same schema does reject a broken answer
    broken: dict[str, Any] = copy.deepcopy(answers)
    required = published["required"]
    broken.pop(required[0])
    assert not jsonschema_rs.validator_for(published).is_valid(broken)


def test_cli_imports_a_folder_as_drafts_and_reports_bad_files(
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("REGISTRY_DATABASE_URL", database_url)
    get_settings.cache_clear()
    try:
        with pytest.raises(SystemExit) as done:
            cli.main(["import", str(DATA), "--agency", "DVA"])
        assert done.value.code == 0
        lines = capsys.readouterr().out.strip().splitlines()
        assert len(lines) == 24
        assert all(" draft," in line for line in lines), lines
        assert any(line.split(": ")[1].startswith("21-526ez-allclaims version") for line in lines)

        broken = tmp_path / "broken-schema.json"
        broken.write_text(json.dumps({"properties": {"a": {"$ref": "#/definitions/gone"}}}))
        notjson = tmp_path / "notjson-schema.json"
        notjson.write_text("{not json")
        with pytest.raises(SystemExit) as done:
            cli.main(["import", str(broken), str(notjson), "--agency", "DVA"])
        assert done.value.code == 1
        out = capsys.readouterr().out
        assert "/schema/properties/a/$ref" in out
        assert "cannot read JSON" in out
        good = tmp_path / "Tiny-Form-schema.json"
        good.write_text(json.dumps({"type": "object", "properties": {"dob": {"type": "string"}}}))
        with pytest.raises(SystemExit) as done:
            cli.main(["import", str(good), "--agency", "DSS", "--publish"])
        assert done.value.code == 0
        assert "tiny-form version 1 published, 1 fields" in capsys.readouterr().out
        with pytest.raises(SystemExit) as done:
            cli.main(["import", str(broken), "--agency", "NOPE"])
        assert done.value.code == 1
        assert "no agency NOPE" in capsys.readouterr().out
    finally:
        get_settings.cache_clear()
