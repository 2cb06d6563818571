"""Fixtures of the audit tests: the 24 VA form schemas (the registry tests' copies under
tests/data/va-forms) read as audit field records; the labelled set (concept -> the fields that
hold it, written by reading each schema); a fresh PostgreSQL database and real tokens."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tellonce_registry.audit.fields import FieldRecord, flatten_schema
from tellonce_registry.config import Settings
from tellonce_registry.main import create_app
from tellonce_registry.seeding import Report, seed_reference
from tellonce_shared.testing import TokenFactory, asgi_client, migrated_database, static_verifier

TESTS = Path(__file__).resolve().parents[1]
VA_FORMS = TESTS / "data" / "va-forms"
LABELS = Path(__file__).resolve().parent / "data" / "labels.json"


def slug_of(path: Path) -> str:
    return path.name.removesuffix("-schema.json")


def schema_paths() -> list[Path]:
    return sorted(VA_FORMS.glob("*-schema.json"))


def read_va_records(agency: str = "VA") -> tuple[FieldRecord, ...]:
    records: list[FieldRecord] = []
    for path in schema_paths():
        schema = json.loads(path.read_text())
        records.extend(flatten_schema(schema, form=slug_of(path), agency=agency, version=1))
    return tuple(records)


def read_labels() -> dict[str, list[tuple[str, str]]]:
    raw: dict[str, list[str]] = json.loads(LABELS.read_text())
    return {
        concept: [(k.split(" ", 1)[0], k.split(" ", 1)[1]) for k in keys]
        for concept, keys in raw.items()
    }


@pytest.fixture(scope="session")
def va_records() -> tuple[FieldRecord, ...]:
    return read_va_records()


@pytest.fixture(scope="session")
def labels() -> dict[str, list[tuple[str, str]]]:
    return read_labels()


SERVICE_DIR = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    with migrated_database("audit_test", SERVICE_DIR) as url:
        yield url


@pytest.fixture(scope="session")
def tokens() -> TokenFactory:
    return TokenFactory()


@pytest.fixture(scope="session")
def settings(database_url: str) -> Settings:
    return Settings(database_url=database_url)


@pytest.fixture(scope="session")
async def app(settings: Settings, tokens: TokenFactory) -> AsyncIterator[FastAPI]:
    app = create_app(settings, verifier=static_verifier(tokens))
    await seed_reference(app.state.database, Report())
    yield app
    await app.state.database.dispose()


@pytest.fixture(scope="session")
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with asgi_client(app) as c:
        yield c


@pytest.fixture(scope="session")
def admin(tokens: TokenFactory) -> dict[str, str]:
    return tokens.headers(role="admin")


@pytest.fixture(scope="session")
def auditor(tokens: TokenFactory) -> dict[str, str]:
    return tokens.headers(role="auditor", email="auditor@demo.gov")


async def publish_form(
    client: httpx.AsyncClient,
    admin: dict[str, str],
    *,
    slug: str,
    agency: str,
    schema: dict[str, Any],
    minutes: int | None = None,
    yearly_volume: int | None = None,
    publish: bool = True,
) -> None:
    body = {
        "slug": slug,
        "agency": agency,
        "title": f"Form {slug}",
        "minutes": minutes,
        "yearly_volume": yearly_volume,
    }
    resp = await client.post("/api/v1/forms", json=body, headers=admin)
    assert resp.status_code == 201, resp.text
    resp = await client.post(
        f"/api/v1/forms/{slug}/versions", json={"schema": schema}, headers=admin
    )
    assert resp.status_code == 201, resp.text
    if publish:
        number = resp.json()["version"]
        resp = await client.post(f"/api/v1/forms/{slug}/versions/{number}/publish", headers=admin)
        assert resp.status_code == 200, resp.text


Publisher = Callable[..., Awaitable[None]]


@pytest.fixture(scope="session")
def publish(client: httpx.AsyncClient, admin: dict[str, str]) -> Publisher:
    async def run(**kw: Any) -> None:
        await publish_form(client, admin, **kw)

    return run
