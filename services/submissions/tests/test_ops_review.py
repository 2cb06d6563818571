"""Operations review: /readyz waits for the migrations, a keyring naming a key id twice
stops the service (naming the id, never a key), and the operator commands print one JSON
line each in production."""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Iterator

import httpx
import pytest
from pydantic import SecretStr, ValidationError

from tellonce_shared.migrations import upgrade
from tellonce_shared.testing import (
    TokenFactory,
    empty_database,
    static_verifier,
)
from tellonce_submissions.cli import main as cli_main
from tellonce_submissions.config import Settings, get_settings
from tellonce_submissions.main import create_app

from .conftest import SERVICE_DIR


def key(kid: str) -> str:
    return f"{kid}:{base64.b64encode(os.urandom(32)).decode()}"


@pytest.fixture
def empty_url() -> Iterator[str]:
    with empty_database("submissions_ops") as url:
        yield url


async def test_readyz_is_not_ready_until_the_migrations_ran(empty_url: str) -> None:
    app = create_app(Settings(database_url=empty_url), verifier=static_verifier(TokenFactory()))
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://t"
        ) as client:
            resp = await client.get("/readyz")
            assert resp.status_code == 503
            assert resp.json()["checks"]["database"] == "ok"
            assert "database not migrated" in resp.json()["checks"]["migrations"]
            upgrade(SERVICE_DIR, empty_url)
            fresh = create_app(
                Settings(database_url=empty_url), verifier=static_verifier(TokenFactory())
            )
            try:
                async with httpx.AsyncClient(
                    transport=httpx.ASGITransport(app=fresh), base_url="http://t"
                ) as again:
                    resp = await again.get("/readyz")
                assert resp.status_code == 200, resp.text
                assert resp.json()["checks"] == {"database": "ok", "migrations": "ok"}
            finally:
                fresh.state.receipts.close()
                await fresh.state.registry.aclose()
                await fresh.state.catalog.aclose()
                await fresh.state.database.dispose()
    finally:
        app.state.receipts.close()
        await app.state.registry.aclose()
        await app.state.catalog.aclose()
        await app.state.database.dispose()


@pytest.mark.parametrize("field", ["answer_keys", "webhook_secret_keys"])
def test_a_key_id_named_twice_stops_the_service(field: str) -> None:
    new, old = key("answers-20261126"), key("answers-20261126")
    with pytest.raises(ValidationError, match="id answers-20261126 appears more than once") as e:
        Settings.model_validate({field: SecretStr(f"{new},{old}")})
    for entry in (new, old):
        assert entry.partition(":")[2] not in str(e.value)
        assert entry.partition(":")[2][:8] not in str(e.value)
    assert Settings.model_validate({field: SecretStr(f"{key('answers-2')},{old}")})


def test_purge_reseal_and_seal_restricted_print_one_json_line_in_production(
    empty_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SUBMISSIONS_MODE", "production")
    monkeypatch.setenv("SUBMISSIONS_DATABASE_URL", empty_url)
    monkeypatch.setenv("SUBMISSIONS_ANSWER_KEYS", key("answers-1"))
    monkeypatch.setenv("SUBMISSIONS_WEBHOOK_SECRET_KEYS", key("webhooks-1"))
    get_settings.cache_clear()
    try:
        outputs = {}
        for command in ("migrate", "purge", "reseal", "seal-restricted"):
            cli_main([command])
            lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
            (outputs[command],) = [doc for doc in lines if doc["logger"] == "tellonce.cli"]
    finally:
        get_settings.cache_clear()
    assert outputs["migrate"]["msg"] == "migrated"
    purge = outputs["purge"]
    assert (purge["msg"], purge["service"], purge["command"]) == (
        "retention purge",
        "submissions",
        "purge",
    )
    assert (purge["drafts"], purge["idempotency_keys"], purge["delivery_shares"]) == (0, 0, 0)
    reseal = outputs["reseal"]
    assert (reseal["resealed"], reseal["current"], reseal["unreadable"]) == (0, 0, 0)
    sealed = outputs["seal-restricted"]
    assert (sealed["msg"], sealed["command"]) == ("seal restricted", "seal-restricted")
    assert {k: v for k, v in sealed.items() if k.endswith("sealed")} == {
        "submissions_sealed": 0,
        "drafts_sealed": 0,
        "values_sealed": 0,
    }
    assert (sealed["current"], sealed["skipped"], sealed["unreadable"]) == (0, 0, 0)


def test_local_mode_prints_sentences(
    database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SUBMISSIONS_DATABASE_URL", database_url)
    get_settings.cache_clear()
    try:
        cli_main(["reseal"])
    finally:
        get_settings.cache_clear()
    out = capsys.readouterr().out
    assert out.startswith("submissions reseal: ")
    assert "re-sealed with the active answer key" in out
