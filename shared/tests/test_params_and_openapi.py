"""``params.Text`` refuses NUL with a 422 naming the parameter or field, and every service's
OpenAPI document lists its error responses as ``application/problem+json`` (the ``Problem``
component), not FastAPI's ``HTTPValidationError``."""

from __future__ import annotations

import copy
from typing import Annotated, Any

import httpx
import pytest
from fastapi import APIRouter, FastAPI, Path, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from tellonce_shared.app import create_service_app
from tellonce_shared.auth import OptionalPrincipalDep, PrincipalDep, require_roles
from tellonce_shared.openapi import PROBLEM_ERROR_SCHEMA, PROBLEM_SCHEMA, document_problems
from tellonce_shared.params import NO_NUL, NUL_MESSAGE, Text
from tellonce_shared.problems import PROBLEM_JSON
from tellonce_shared.settings import ServiceSettings
from tellonce_shared.testing import TokenFactory, asgi_client, static_verifier

PROBLEM_REF = {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}


class Note(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: Annotated[Text, Field(min_length=1, max_length=20)]
    tags: list[Annotated[Text, Field(max_length=10)]] = []


router = APIRouter(prefix="/notes")


@router.get("")
async def list_notes(
    principal: OptionalPrincipalDep,
    tag: Annotated[Text | None, Query(max_length=10)] = None,
) -> dict[str, str | None]:
    return {"tag": tag}


@router.get("/{note_id}")
async def get_note(note_id: Annotated[Text, Path()], principal: PrincipalDep) -> dict[str, str]:
    return {"id": note_id}


@router.put("/{note_id}", dependencies=[require_roles("admin")], responses={409: {}})
async def put_note(note_id: Annotated[Text, Path(max_length=8)], note: Note) -> Note:
    return note


@router.post(
    "/by-hand",
    responses={
        400: {"description": "Our own error.", "content": {"application/json": {"schema": {}}}},
        401: {"description": "A token of ours."},
        418: {
            "description": "A teapot.",
            "content": {"text/plain": {"schema": {"type": "string"}}},
        },
    },
    openapi_extra={"x-problem-omit": ["422", "409"]},
)
async def by_hand(request: Request, note: Note) -> Response:
    return Response(status_code=204)


@router.get("/open/health-like")
async def open_route() -> dict[str, str]:
    return {"status": "ok"}


tokens = TokenFactory()


@pytest.fixture(scope="module")
def app() -> FastAPI:
    return create_service_app(
        service="test",
        settings=ServiceSettings(),
        routers=[router],
        verifier=static_verifier(tokens),
    )


@pytest.fixture(scope="module")
def client(app: FastAPI) -> httpx.AsyncClient:
    return asgi_client(app)


def nul_errors(response: httpx.Response) -> list[dict[str, str]]:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    return [e for e in response.json()["errors"] if e["message"] == NUL_MESSAGE]


async def test_nul_in_a_query_or_path_parameter_is_422_naming_it(
    client: httpx.AsyncClient,
) -> None:
    reader = tokens.headers(role="resident")
    assert nul_errors(await client.get("/notes?tag=a%00")) == [
        {"pointer": "/query/tag", "message": NUL_MESSAGE}
    ]
    assert nul_errors(await client.get("/notes/n%00", headers=reader)) == [
        {"pointer": "/path/note_id", "message": NUL_MESSAGE}
    ]


async def test_nul_in_body_fields_is_422_naming_each(client: httpx.AsyncClient) -> None:
    admin = tokens.headers(role="admin")
    body = {"title": "a\x00b", "tags": ["ok", "x\x00"]}
    assert nul_errors(await client.put("/notes/n1", json=body, headers=admin)) == [
        {"pointer": "/title", "message": NUL_MESSAGE},
        {"pointer": "/tags/1", "message": NUL_MESSAGE},
    ]


async def test_text_keeps_the_other_constraints_and_their_messages(
    client: httpx.AsyncClient,
) -> None:
    admin = tokens.headers(role="admin")
    resp = await client.put("/notes/123456789", json={"title": ""}, headers=admin)
    assert resp.status_code == 422
    errors = {e["pointer"]: e["message"] for e in resp.json()["errors"]}
    assert errors == {
        "/path/note_id": "String should have at most 8 characters",
        "/title": "String should have at least 1 character",
    }
    ok = await client.put("/notes/n1", json={"title": "Fine é ✓", "tags": ["a"]}, headers=admin)
    assert ok.status_code == 200, ok.text
    assert (await client.get("/notes?tag=plain")).json() == {"tag": "plain"}


def operation(doc: dict[str, Any], path: str, method: str) -> dict[str, Any]:
    return dict(doc["paths"][path][method])


def test_every_operation_documents_its_errors_as_problems(app: FastAPI) -> None:
    doc = app.openapi()
    schemas = doc["components"]["schemas"]
    assert schemas["Problem"] == PROBLEM_SCHEMA
    assert schemas["ProblemError"] == PROBLEM_ERROR_SCHEMA
    assert "HTTPValidationError" not in schemas
    assert "ValidationError" not in schemas

    codes = {
        (path, method): set(op["responses"])
        for path, item in doc["paths"].items()
        for method, op in item.items()
    }
    assert codes[("/notes", "get")] == {"200", "400", "401", "422", "503"}
    assert codes[("/notes/{note_id}", "get")] == {"200", "400", "401", "404", "422", "503"}
    assert codes[("/notes/{note_id}", "put")] == {
        "200", "400", "401", "403", "404", "409", "413", "422", "503"
    }  # fmt: skip
    assert codes[("/notes/open/health-like", "get")] == {"200", "503"}
    for (path, method), found in codes.items():
        responses = operation(doc, path, method)["responses"]
        for code in found - {"200", "204", "400", "418"}:
            assert responses[code]["content"] == PROBLEM_REF, (path, method, code)

    put = operation(doc, "/notes/{note_id}", "put")["responses"]
    assert put["422"]["description"].startswith("Validation failed")
    assert put["401"]["headers"]["WWW-Authenticate"]["schema"] == {"type": "string"}
    assert put["503"]["headers"]["Retry-After"]["schema"] == {"type": "integer"}


def test_a_route_keeps_its_own_error_bodies_and_omits_what_it_never_answers(
    app: FastAPI,
) -> None:
    op = operation(app.openapi(), "/notes/by-hand", "post")
    responses = op["responses"]
    assert "x-problem-omit" not in op
    assert "422" not in responses
    assert "409" not in responses
    assert responses["400"]["description"] == "Our own error."  # an empty schema: a problem
    assert responses["400"]["content"] == PROBLEM_REF
    assert responses["401"]["description"] == "A token of ours."
    assert responses["401"]["content"] == PROBLEM_REF
    assert responses["418"]["content"] == {"text/plain": {"schema": {"type": "string"}}}
    assert responses["413"]["content"] == PROBLEM_REF


def test_parameters_show_the_nul_rule(app: FastAPI) -> None:
    doc = app.openapi()
    [tag] = operation(doc, "/notes", "get")["parameters"]
    assert {"type": "string", "maxLength": 10, "pattern": NO_NUL} in tag["schema"]["anyOf"]
    note = doc["components"]["schemas"]["Note"]["properties"]["title"]
    assert note["pattern"] == NO_NUL


def test_a_validation_error_schema_still_referred_to_is_kept() -> None:
    doc: dict[str, Any] = {
        "paths": {"/x": {"get": {"responses": {"200": {"description": "ok"}}}}},
        "components": {
            "schemas": {
                "ValidationError": {"type": "object"},
                "Uses": {"$ref": "#/components/schemas/ValidationError"},
                "HTTPValidationError": {"type": "object"},
            }
        },
    }
    out = document_problems(copy.deepcopy(doc), [])
    assert "ValidationError" in out["components"]["schemas"]  # a service's own, in use
    assert "HTTPValidationError" not in out["components"]["schemas"]
    assert out["paths"]["/x"]["get"]["responses"]["503"]["content"] == PROBLEM_REF


def test_documents_of_two_services_share_identical_problem_components() -> None:
    """The gateway merges components by name; the same name must mean the same schema."""

    def schemas(service: str) -> dict[str, Any]:
        app = create_service_app(service=service, settings=ServiceSettings(), routers=[router])
        return dict(app.openapi()["components"]["schemas"])

    a, b = schemas("one"), schemas("two")
    assert a["Problem"] == b["Problem"]
    assert a["ProblemError"] == b["ProblemError"]
