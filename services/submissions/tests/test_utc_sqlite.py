"""Every time the API answers is aware UTC on SQLite too (acceptance review): ``make run``
on SQLite listed ``submitted_at`` and ``timeline[].at`` as ``2026-11-27T04:17:36.094946``
where PostgreSQL said ``...Z``. The response schemas type their times ``UTCDateTime``."""

from __future__ import annotations

import re
import typing
import uuid
from collections.abc import Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from fastapi.routing import APIRoute
from pydantic import BaseModel

from tellonce_shared.migrations import upgrade
from tellonce_shared.testing import TokenFactory, asgi_client, static_verifier
from tellonce_submissions.config import Settings
from tellonce_submissions.deliveries.router import router as deliveries_router
from tellonce_submissions.drafts.router import router as drafts_router
from tellonce_submissions.main import create_app
from tellonce_submissions.performance.router import router as performance_router
from tellonce_submissions.profile.router import router as profile_router
from tellonce_submissions.referrals.router import router as referrals_router
from tellonce_submissions.submissions.router import router as submissions_router
from tellonce_submissions.times import utc

from .registry_double import RegistryDouble

UTC_CHECKED = object()
ROUTERS = [
    submissions_router,
    drafts_router,
    profile_router,
    deliveries_router,
    performance_router,
    referrals_router,
]
SERVICE_DIR = Path(__file__).resolve().parents[1]
TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d")


def times_in(value: Any, where: str = "") -> Iterator[tuple[str, str]]:
    """Every ISO date-time string in a JSON document, with where it is."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield from times_in(v, f"{where}.{k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from times_in(v, f"{where}[{i}]")
    elif isinstance(value, str) and TIME.match(value):
        yield where, value


def naive(document: Any) -> list[tuple[str, str]]:
    return [(w, t) for w, t in times_in(document) if not t.endswith("Z")]


async def test_every_time_the_api_answers_on_sqlite_is_utc(
    tmp_path: Path, tokens: TokenFactory, cg_answers: dict[str, Any]
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'submissions.db'}"
    upgrade(SERVICE_DIR, url)
    app = create_app(
        Settings(database_url=url, retention_interval_seconds=0),
        verifier=static_verifier(tokens),
        registry_transport=httpx.ASGITransport(app=RegistryDouble().app()),
    )
    me = tokens.headers("utc-resident")
    dva = tokens.headers("dva-staff", role="agency", agency="DVA")
    admin = tokens.headers("admin", role="admin")
    seen: list[Any] = []
    try:
        async with asgi_client(app) as client:

            async def ok(r: httpx.Response) -> Any:
                assert r.status_code < 300, (r.request.url, r.text)
                seen.append(r.json())
                return r.json()

            await ok(await client.put("/api/v1/profile/consent", json={"keep": True}, headers=me))
            created = await ok(
                await client.post(
                    "/api/v1/submissions",
                    json={"form": "10-10cg", "version": 1, "answers": cg_answers},
                    headers={**me, "Idempotency-Key": uuid.uuid4().hex},
                )
            )
            sid = created["id"]
            await ok(
                await client.post(
                    f"/api/v1/submissions/{sid}/status", json={"status": "received"}, headers=dva
                )
            )
            listed = await ok(await client.get("/api/v1/submissions", headers=me))
            assert listed["items"][0]["timeline"], listed  # the review's very fields
            await ok(await client.get(f"/api/v1/submissions/{sid}", headers=me))
            await ok(await client.get(f"/api/v1/submissions/{sid}", headers=admin))
            await ok(await client.get("/api/v1/profile", headers=me))
            await ok(await client.post("/api/v1/drafts", json={"form": "snap"}, headers=me))
            await ok(await client.get("/api/v1/drafts", headers=me))
            await ok(await client.get("/api/v1/referrals", headers=me))
            feed = await ok(await client.get("/api/v1/deliveries?status=pending", headers=dva))
            for item in feed.get("items", [])[:1]:
                await ok(await client.get(f"/api/v1/deliveries/{item['id']}", headers=dva))
            await ok(await client.get("/api/v1/deliveries/access-log", headers=admin))
    finally:
        await app.state.registry.aclose()
        await app.state.catalog.aclose()
        await app.state.database.dispose()
    found = [t for doc in seen for t in times_in(doc)]
    assert len(found) >= 10, found
    assert naive(seen) == []


def test_every_response_time_field_is_utc() -> None:
    """Whatever route is added later: every ``datetime`` in a response model carries the
    UTC validator, so no path can answer a naive time."""
    unchecked: list[str] = []

    def visit(model: type[BaseModel], seen: set[type[BaseModel]]) -> None:
        if model in seen:
            return
        seen.add(model)
        for name, info in model.model_fields.items():
            for kind in flat(info.annotation, info.metadata):
                if isinstance(kind, type) and issubclass(kind, BaseModel):
                    visit(kind, seen)
                elif kind is datetime:
                    unchecked.append(f"{model.__name__}.{name}")

    seen: set[type[BaseModel]] = set()
    routes = [r for router in ROUTERS for r in router.routes]
    for route in routes:
        if isinstance(route, APIRoute) and route.response_model is not None:
            for kind in flat(route.response_model):
                if isinstance(kind, type) and issubclass(kind, BaseModel):
                    visit(kind, seen)
    assert len(seen) > 10
    assert unchecked == []


def flat(annotation: Any, metadata: Sequence[Any] = ()) -> Iterator[Any]:
    """The types in an annotation; ``UTC`` for a ``datetime`` with the UTC validator."""
    if typing.get_origin(annotation) is typing.Annotated:
        inner, *meta = typing.get_args(annotation)
        yield from flat(inner, [*metadata, *meta])
        return
    args = typing.get_args(annotation)
    if not args:
        checked = any(getattr(m, "func", None) is utc for m in metadata)
        yield UTC_CHECKED if annotation is datetime and checked else annotation
        return
    for arg in args:
        yield from flat(arg)
