"""Every error path of a service built with create_service_app answers problem+json."""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import AsyncIterator

import httpx
import psycopg
import pytest
from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from tellonce_shared.app import create_service_app
from tellonce_shared.auth import PrincipalDep, principal_with_role
from tellonce_shared.body import is_json, json_body
from tellonce_shared.db import Database
from tellonce_shared.problems import Conflict
from tellonce_shared.settings import ServiceSettings
from tellonce_shared.testing import TokenFactory, admin_url, asgi_client, static_verifier


class Thing(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    count: int


router = APIRouter()


@router.post("/things", status_code=201)
async def create_thing(thing: Thing) -> Thing:
    if thing.name == "taken":
        raise Conflict("That name is taken.")
    return thing


@router.post("/things-by-hand", status_code=201)
async def create_thing_by_hand(request: Request) -> Thing:
    """The same route without FastAPI parameters (``json_body``): it must answer alike."""
    thing = await json_body(request, Thing)
    return await create_thing(thing)


@router.post("/admin-things", status_code=201)
async def create_admin_thing(request: Request) -> dict[str, str]:
    principal = await principal_with_role(request, "admin")
    return {"sub": principal.sub}


@router.get("/boom")
async def boom() -> None:
    raise RuntimeError("secret internals")


@router.get("/whoami")
async def whoami(principal: PrincipalDep) -> dict[str, str | None]:
    return {"sub": principal.sub, "role": principal.role, "agency": principal.agency}


tokens = TokenFactory()


@pytest.fixture(scope="module")
def client() -> httpx.AsyncClient:
    settings = ServiceSettings(max_body_bytes=1000)
    app = create_service_app(
        service="test", settings=settings, routers=[router], verifier=static_verifier(tokens)
    )
    return asgi_client(app, headers={"x-request-id": "test-request-0001"})


def assert_problem(resp: httpx.Response, status: int) -> dict[str, object]:
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"] == "application/problem+json"
    body = resp.json()
    assert body["status"] == status
    assert {"type", "title", "detail"} <= body.keys()
    return dict(body)


async def test_request_validation_lists_every_field(client: httpx.AsyncClient) -> None:
    resp = await client.post("/things", json={"name": 3, "extra": True})
    body = assert_problem(resp, 422)
    pointers = {e["pointer"] for e in body["errors"]}  # type: ignore[attr-defined]
    assert pointers == {"/name", "/count", "/extra"}


@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        (b'{"name": 3, "extra": true}', "application/json"),
        (b'{"name": "x", "count": 2}', "application/json; charset=utf-8"),
        (b'{"name": "x", "count": 2}', "application/problem+json"),
        (b'{"name": "taken", "count": 2}', "application/json"),
        (b'{"name": ', "application/json"),
        (b"[1, 2]", "application/json"),
        (b'{"name": "x", "count": "many"}', "application/json"),
        (b'{"name": "x", "count": 2}', "text/plain"),
        (b'{"name": "x", "count": 2}', None),
        (b"", "application/json"),
    ],
)
async def test_json_body_answers_as_a_fastapi_body_parameter(
    client: httpx.AsyncClient, content: bytes, content_type: str | None
) -> None:
    headers = {"content-type": content_type} if content_type else {}
    by_fastapi = await client.post("/things", content=content, headers=headers)
    by_hand = await client.post("/things-by-hand", content=content, headers=headers)
    assert by_hand.status_code == by_fastapi.status_code, (by_hand.text, by_fastapi.text)
    if by_fastapi.status_code == 422:
        pointers = {e["pointer"] for e in by_fastapi.json()["errors"]}
        assert {e["pointer"] for e in by_hand.json()["errors"]} == pointers
    else:
        strip = ("instance",)  # the path, which differs
        body, expected = by_hand.json(), by_fastapi.json()
        assert {k: v for k, v in body.items() if k not in strip} == {
            k: v for k, v in expected.items() if k not in strip
        }


def test_is_json() -> None:
    assert is_json("application/json")
    assert is_json("Application/JSON; charset=utf-8")
    assert is_json("application/merge-patch+json")
    assert not is_json("application/jsonx")
    assert not is_json("text/json")
    assert not is_json(None)


async def test_principal_with_role(client: httpx.AsyncClient) -> None:
    assert_problem(await client.post("/admin-things"), 401)
    resident = {"authorization": f"Bearer {tokens.token('r1', role='resident')}"}
    assert_problem(await client.post("/admin-things", headers=resident), 403)
    admin = {"authorization": f"Bearer {tokens.token('a1', role='admin')}"}
    resp = await client.post("/admin-things", headers=admin)
    assert resp.status_code == 201
    assert resp.json() == {"sub": "a1"}


async def test_malformed_json_is_400(client: httpx.AsyncClient) -> None:
    resp = await client.post(
        "/things", content=b'{"name": ', headers={"content-type": "application/json"}
    )
    assert_problem(resp, 400)


async def test_oversized_body_is_413_by_content_length(client: httpx.AsyncClient) -> None:
    resp = await client.post("/things", content=b"x" * 2000)
    assert_problem(resp, 413)


async def test_oversized_streamed_body_is_413(client: httpx.AsyncClient) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(5):
            yield b"x" * 400

    resp = await client.post("/things", content=chunks())
    assert_problem(resp, 413)


async def test_unknown_route_is_404_and_wrong_method_405(client: httpx.AsyncClient) -> None:
    assert_problem(await client.get("/nowhere"), 404)
    assert_problem(await client.delete("/things"), 405)


async def test_domain_problem_and_success(client: httpx.AsyncClient) -> None:
    assert_problem(await client.post("/things", json={"name": "taken", "count": 1}), 409)
    ok = await client.post("/things", json={"name": "fine", "count": 1})
    assert ok.status_code == 201
    assert ok.headers["x-request-id"] == "test-request-0001"


async def test_unexpected_error_hides_internals(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR):
        body = assert_problem(await client.get("/boom"), 500)
    assert "secret internals" not in json.dumps(body)
    assert any("unhandled" in r.getMessage() for r in caplog.records)


async def test_request_id_is_made_when_absent_or_malformed(client: httpx.AsyncClient) -> None:
    resp = await client.get("/healthz", headers={"x-request-id": "bad id\n"})
    assert resp.status_code == 200
    assert len(resp.headers["x-request-id"]) == 32


async def test_token_required_and_verified(client: httpx.AsyncClient) -> None:
    assert_problem(await client.get("/whoami"), 401)
    assert_problem(await client.get("/whoami", headers={"authorization": "Bearer x.y.z"}), 401)
    other = TokenFactory()
    assert_problem(await client.get("/whoami", headers=other.headers(role="admin")), 401)
    resp = await client.get("/whoami", headers=tokens.headers("u1", role="agency", agency="DSS"))
    assert resp.json() == {"sub": "u1", "role": "agency", "agency": "DSS"}


async def test_health_and_metrics(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).status_code == 200
    assert (await client.get("/readyz")).json()["status"] == "ok"
    await client.post("/things", json={"name": "m", "count": 2})
    metrics = (await client.get("/metrics")).text
    assert 'tellonce_http_requests_total{method="POST",route="/things",service="test"' in metrics
    assert "tellonce_http_request_duration_seconds_bucket" in metrics


# The database unavailable: a 503 with Retry-After (nothing was saved; retrying is safe), never
# a 500. Real engines: one pointed at a port where nothing listens, one with a pool of one
# connection that a first request holds while a second waits for it.

db_router = APIRouter()


@db_router.get("/db/{name}")
async def use_database(name: str, request: Request) -> dict[str, int]:
    database: Database = getattr(request.app.state, name)
    async with database.sessions() as session:
        return {"one": int((await session.execute(text("SELECT 1"))).scalar_one())}


@db_router.get("/integrity/{kind}")
async def integrity(kind: str) -> None:
    causes: dict[str, Exception] = {
        "unique": psycopg.errors.UniqueViolation("duplicate key value"),
        "foreign-key": psycopg.errors.ForeignKeyViolation("is not present in table"),
        "sqlite-unique": sqlite3.IntegrityError("UNIQUE constraint failed: agencies.code"),
        "not-null": psycopg.errors.NotNullViolation("null value in column"),
        "unknown": Exception("duplicate key"),
    }
    if kind == "stale":
        raise StaleDataError("UPDATE statement on table 'rules' expected to update 1 row(s)")
    raise IntegrityError("INSERT ...", {}, causes[kind])


@pytest.fixture(scope="module")
async def db_client() -> AsyncIterator[tuple[httpx.AsyncClient, Database]]:
    app = create_service_app(
        service="test",
        settings=ServiceSettings(),
        routers=[db_router],
        verifier=static_verifier(tokens),
    )
    app.state.down = Database("postgresql+psycopg://postgres@127.0.0.1:1/nowhere")
    app.state.tiny = Database(admin_url(), pool_size=1, pool_timeout=0.2)
    yield asgi_client(app), app.state.tiny
    await app.state.down.dispose()
    await app.state.tiny.dispose()


async def test_database_down_is_503_with_retry_after(
    db_client: tuple[httpx.AsyncClient, Database], caplog: pytest.LogCaptureFixture
) -> None:
    client, _ = db_client
    with caplog.at_level(logging.WARNING):
        resp = await client.get("/db/down")
    body = assert_problem(resp, 503)
    assert resp.headers["retry-after"] == "1"
    assert "nothing was saved" in str(body["detail"])
    assert any("database unavailable" in r.getMessage() for r in caplog.records)


async def test_every_pooled_connection_busy_is_503(
    db_client: tuple[httpx.AsyncClient, Database],
) -> None:
    client, tiny = db_client
    assert (await client.get("/db/tiny")).json() == {"one": 1}
    async with tiny.engine.connect():  # the pool's only connection, held
        resp = await client.get("/db/tiny")
    assert_problem(resp, 503)
    assert (await client.get("/db/tiny")).status_code == 200  # and back once it is free


async def test_a_race_the_service_did_not_answer_itself_is_a_409_not_a_500(
    db_client: tuple[httpx.AsyncClient, Database], caplog: pytest.LogCaptureFixture
) -> None:
    """A key inserted twice at once, a row referred to deleted meanwhile, a row changed
    between read and write: the client is told to reload and retry."""
    client, _ = db_client
    for kind in ("unique", "foreign-key", "sqlite-unique", "stale"):
        with caplog.at_level(logging.WARNING):
            resp = await client.get(f"/integrity/{kind}")
        body = assert_problem(resp, 409)
        assert "at the same moment" in str(body["detail"])
        assert resp.headers["retry-after"] == "1"
    assert any("concurrent change refused" in r.getMessage() for r in caplog.records)


async def test_an_integrity_error_that_is_a_bug_is_still_a_500(
    db_client: tuple[httpx.AsyncClient, Database],
) -> None:
    client, _ = db_client
    assert_problem(await client.get("/integrity/not-null"), 500)
    assert_problem(await client.get("/integrity/unknown"), 500)


async def test_a_trailing_slash_is_a_404_not_a_redirect_to_an_internal_address(
    client: httpx.AsyncClient,
) -> None:
    resp = await client.post("/things/", json={"name": "fine", "count": 1})
    assert_problem(resp, 404)
    assert "location" not in resp.headers
