"""/readyz says not ready, naming the reason, until the migrations have run (ops review);
seed and import print one JSON line in production."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from tellonce_registry import cli
from tellonce_registry.config import Settings, get_settings
from tellonce_registry.main import create_app
from tellonce_shared.migrations import upgrade
from tellonce_shared.testing import TokenFactory, create_database, drop_database, static_verifier

SERVICE_DIR = Path(__file__).resolve().parents[2]


async def readyz(url: str) -> httpx.Response:
    app = create_app(Settings(database_url=url), verifier=static_verifier(TokenFactory()))
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            return await client.get("/readyz")
    finally:
        await app.state.database.dispose()


async def test_readyz_waits_for_the_migrations() -> None:
    url = create_database("registry_ops")
    try:
        resp = await readyz(url)
        assert resp.status_code == 503
        assert resp.json()["status"] == "unavailable"
        assert resp.json()["checks"]["database"] == "ok"
        assert "database not migrated" in resp.json()["checks"]["migrations"]
        upgrade(SERVICE_DIR, url)
        resp = await readyz(url)
        assert resp.status_code == 200, resp.text
        assert resp.json()["checks"] == {"database": "ok", "migrations": "ok"}
    finally:
        drop_database(url)


def test_seed_prints_one_json_line_in_production(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = create_database("registry_ops")
    monkeypatch.setenv("REGISTRY_MODE", "production")
    monkeypatch.setenv("REGISTRY_DATABASE_URL", url)
    get_settings.cache_clear()
    try:
        cli.main(["migrate"])
        capsys.readouterr()
        with pytest.raises(SystemExit) as done:
            cli.main(["seed"])
        assert done.value.code == 0
        docs = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
        (seeded,) = [doc for doc in docs if doc["logger"] == "tellonce.cli"]
        assert (seeded["msg"], seeded["service"], seeded["failed"]) == ("seeded", "registry", 0)
        assert "production mode: the demo catalog is not loaded" in seeded["lines"]
    finally:
        get_settings.cache_clear()
        drop_database(url)
