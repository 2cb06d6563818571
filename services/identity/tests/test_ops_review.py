"""Operations review: /readyz waits for the migrations; production's start-up safety checks
(demo accounts on the demo password, a key-encryption key that does not open the signing
keys) are never skipped because the database was down for a moment; operator commands print
JSON lines in production; a settings error never shows a secret."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tellonce_identity import main as identity_main
from tellonce_identity.cli import main as cli_main
from tellonce_identity.config import Settings, get_settings
from tellonce_identity.keys.crypto import KeyDecryptionError
from tellonce_identity.main import create_app
from tellonce_identity.models import Base
from tellonce_identity.seed import run_seed
from tellonce_shared.migrations import SchemaCheck, sync_url, upgrade
from tellonce_shared.testing import empty_database, free_port

from .conftest import ISSUER, SERVICE_DIR

REAL_KEK = "kek-5b1e7d3a9c2f4e6081a3c5e7b9d1f2a4"


def production(url: str, kek: str = REAL_KEK) -> Settings:
    return Settings(mode="production", database_url=url, issuer=ISSUER, key_encryption_key=kek)


def local(url: str, kek: str = REAL_KEK) -> Settings:
    return Settings(database_url=url, issuer=ISSUER, key_encryption_key=kek)


@pytest.fixture
def empty_url() -> Iterator[str]:
    with empty_database("identity_ops") as url:
        yield url


async def close(app: FastAPI) -> None:
    await app.state.self_client.aclose()
    await app.state.database.dispose()


async def readyz(app: FastAPI) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        return await client.get("/readyz")


def behind_proxy(url: str, port: int) -> str:
    return make_url(url).set(port=port).render_as_string(hide_password=False)


@contextlib.asynccontextmanager
async def database_back_after(url: str, port: int, seconds: float) -> AsyncIterator[None]:
    """Nothing listens on ``port`` for ``seconds`` (the database down); then a TCP relay
    there forwards to the real database (it is back)."""
    target = make_url(url)

    async def relay(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(target.host, target.port or 5432)

        async def pipe(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
            try:
                while data := await r.read(65536):
                    w.write(data)
                    await w.drain()
            except OSError:
                pass
            finally:
                w.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    servers: list[asyncio.Server] = []

    async def later() -> None:
        await asyncio.sleep(seconds)
        servers.append(await asyncio.start_server(relay, "127.0.0.1", port))

    task = asyncio.create_task(later())
    try:
        yield
    finally:
        task.cancel()
        for server in servers:
            server.close()


@pytest.fixture
def quick_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(identity_main, "STARTUP_RETRY_SECONDS", 0.1)


# -- readiness and migrations -----------------------------------------------------------


async def test_readyz_is_not_ready_until_the_migrations_ran(empty_url: str) -> None:
    app = create_app(production(empty_url))
    try:
        resp = await readyz(app)
        assert resp.status_code == 503
        checks = resp.json()["checks"]
        assert checks["database"] == "ok"
        assert checks["migrations"].startswith("not ready: database not migrated")
        assert "not migrated" in checks["startup_checks"]

        upgrade(SERVICE_DIR, empty_url, "0002")
        check: SchemaCheck = SchemaCheck(
            SERVICE_DIR, app.state.database.engine, metadata=Base.metadata, cache_seconds=0
        )
        with pytest.raises(Exception, match="database at revision 0002, this code needs 0004"):
            await check()

        upgrade(SERVICE_DIR, empty_url)
        await run_seed(production(empty_url))
        await asyncio.sleep(5.1)  # the database's revision is remembered for 5 s
        resp = await readyz(app)
        assert resp.status_code == 200, resp.text
        assert resp.json()["checks"] == {
            "database": "ok",
            "migrations": "ok",
            "startup_checks": "ok",
        }
    finally:
        await close(app)


async def test_a_database_past_the_codes_head_keeps_old_pods_ready(empty_url: str) -> None:
    """A newer release's (forward-compatible) migration ran: this release's pods stay ready."""
    upgrade(SERVICE_DIR, empty_url)
    engine = create_engine(sync_url(empty_url))
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0099_from_a_newer_release'"))
    engine.dispose()
    app = create_app(local(empty_url))
    try:
        check = SchemaCheck(SERVICE_DIR, app.state.database.engine, metadata=Base.metadata)
        assert check.heads == {"0004"}
        await check()
        assert (await readyz(app)).status_code == 200
    finally:
        await close(app)


async def test_another_services_database_is_not_ready(empty_url: str) -> None:
    """The services number their revisions alike: a database of another service at "0001"
    (known here, older) or "0099" (unknown here, so "newer") must not pass for identity's."""
    engine = create_engine(sync_url(empty_url))
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE alembic_version (version_num varchar(32) PRIMARY KEY)"))
        conn.execute(text("CREATE TABLE forms (id integer PRIMARY KEY)"))
        conn.execute(text("INSERT INTO alembic_version VALUES ('0001')"))
    app = create_app(local(empty_url))
    try:
        check = SchemaCheck(
            SERVICE_DIR, app.state.database.engine, metadata=Base.metadata, cache_seconds=0
        )
        with pytest.raises(Exception, match="holds none of this service's tables"):
            await check()
        with engine.begin() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = '0099'"))
        with pytest.raises(Exception, match="holds none of this service's tables"):
            await check()
        resp = await readyz(app)
        assert resp.status_code == 503
        assert "this service's own database" in resp.json()["checks"]["migrations"]
    finally:
        await close(app)
        engine.dispose()


async def test_a_database_at_head_missing_a_table_is_not_ready(empty_url: str) -> None:
    upgrade(SERVICE_DIR, empty_url)
    engine = create_engine(sync_url(empty_url))
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE known_sign_ins"))
    engine.dispose()
    app = create_app(local(empty_url))
    try:
        check = SchemaCheck(
            SERVICE_DIR, app.state.database.engine, metadata=Base.metadata, cache_seconds=0
        )
        with pytest.raises(Exception, match="lacks tables known_sign_ins"):
            await check()
    finally:
        await close(app)


# -- production start-up checks --------------------------------------------------------


async def test_demo_accounts_refuse_the_start_even_when_the_database_was_down_at_first(
    empty_url: str, quick_retries: None
) -> None:
    upgrade(SERVICE_DIR, empty_url)
    await run_seed(local(empty_url))  # a pilot run in local mode left the demo accounts
    port = free_port()
    app = create_app(production(behind_proxy(empty_url, port)))
    try:
        async with database_back_after(empty_url, port, 1.0):
            with pytest.raises(RuntimeError, match="demo accounts"):
                async with app.router.lifespan_context(app):
                    pass
    finally:
        await close(app)


async def test_a_wrong_key_encryption_key_refuses_the_start_after_a_database_outage(
    empty_url: str, quick_retries: None
) -> None:
    upgrade(SERVICE_DIR, empty_url)
    await run_seed(production(empty_url))
    port = free_port()
    wrong = production(behind_proxy(empty_url, port), "kek-the-wrong-one-000000000000000000")
    app = create_app(wrong)
    try:
        async with database_back_after(empty_url, port, 1.0):
            with pytest.raises(KeyDecryptionError):
                async with app.router.lifespan_context(app):
                    pass
    finally:
        await close(app)


async def test_a_database_that_never_answers_stops_the_start(
    monkeypatch: pytest.MonkeyPatch, quick_retries: None
) -> None:
    monkeypatch.setattr(identity_main, "STARTUP_WAIT_SECONDS", 1.0)
    url = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/nowhere"
    app = create_app(production(url))
    try:
        with pytest.raises(RuntimeError, match="did not answer the start-up checks within"):
            async with app.router.lifespan_context(app):
                pass
    finally:
        await close(app)


async def test_not_migrated_at_start_stays_not_ready_and_still_refuses_demo_accounts(
    empty_url: str,
) -> None:
    """Started before its migration Job: the process starts, but /readyz stays not ready
    until the checks have run, and names demo accounts found once the tables exist."""
    app = create_app(production(empty_url))
    try:
        async with app.router.lifespan_context(app):
            assert not app.state.startup_checks.passed
            assert (await readyz(app)).status_code == 503
            upgrade(SERVICE_DIR, empty_url)
            await run_seed(local(empty_url))
            resp = await readyz(app)
            assert resp.status_code == 503
            assert "demo accounts" in resp.json()["checks"]["startup_checks"]
    finally:
        await close(app)


async def test_local_mode_stays_lenient(empty_url: str) -> None:
    app = create_app(local(empty_url))
    try:
        async with app.router.lifespan_context(app):
            assert app.state.startup_checks.passed
    finally:
        await close(app)


# -- operator commands: JSON lines in production; settings errors without secrets ---------


@pytest.fixture
def production_env(empty_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("IDENTITY_MODE", "production")
    monkeypatch.setenv("IDENTITY_DATABASE_URL", empty_url)
    monkeypatch.setenv("IDENTITY_KEY_ENCRYPTION_KEY", REAL_KEK)
    get_settings.cache_clear()
    yield empty_url
    get_settings.cache_clear()


def json_lines(out: str) -> list[dict[str, Any]]:
    lines = [line for line in out.splitlines() if line.strip()]
    assert lines
    return [json.loads(line) for line in lines]  # every line is JSON


def results(out: str) -> list[dict[str, Any]]:
    return [doc for doc in json_lines(out) if doc["logger"] == "tellonce.cli"]


def test_operator_commands_print_one_json_line_each_in_production(
    production_env: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    cli_main(["migrate"])
    (migrated,) = results(capsys.readouterr().out)
    assert migrated["msg"] == "migrated"
    assert migrated["revision"] == "0004"
    assert migrated["service"] == "identity"
    assert migrated["command"] == "migrate"

    cli_main(["seed"])
    (seeded,) = results(capsys.readouterr().out)
    assert seeded["msg"] == "seeded"
    assert seeded["demo_accounts"] is False
    assert any("portal" in item for item in seeded["done"])

    cli_main(["rotate-keys"])
    (rotated,) = results(capsys.readouterr().out)
    assert rotated["msg"] == "signing key rotated"
    assert rotated["rotated"] is True
    assert len(rotated["retired"]) == 1

    cli_main(["keys"])
    (keys,) = results(capsys.readouterr().out)
    assert [k["state"] for k in keys["keys"]] == ["signing", "retired"]
    assert keys["keys"][0]["kid"] == rotated["kid"]
    assert all(k["published"] for k in keys["keys"])

    cli_main(["prune"])
    (pruned,) = results(capsys.readouterr().out)
    assert set(pruned["deleted"]) == {"refresh_tokens", "login_failures", "known_sign_ins"}

    cli_main(["rewrap-keys"])
    (rewrapped,) = results(capsys.readouterr().out)
    assert rewrapped["rewrapped"] == 0

    monkeypatch.setenv("IDENTITY_ADMIN_PASSWORD", "short")
    with pytest.raises(SystemExit) as done:
        cli_main(["create-admin", "--email", "ops@example.gov", "--full-name", "Ops"])
    assert done.value.code == 1
    (refused,) = results(capsys.readouterr().out)
    assert refused["level"] == "error"
    assert "15 characters" in refused["reason"]


def test_an_unexpected_failure_is_a_json_error_line(
    production_env: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as done:
        cli_main(["keys"])  # not migrated: no table
    assert done.value.code == 1
    (failed,) = results(capsys.readouterr().out)
    assert failed["level"] == "error"
    assert failed["msg"] == "command failed"
    assert failed["error"].startswith("UndefinedTable")


@pytest.mark.parametrize("mode", ["production", "local"])
def test_a_settings_error_names_the_problem_never_the_secret(
    mode: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    secret = "Zq8-short-secret"
    monkeypatch.setenv("IDENTITY_MODE", mode)
    monkeypatch.setenv("IDENTITY_DATABASE_URL", "postgresql+psycopg://u:dbpass123@db/x")
    monkeypatch.setenv("IDENTITY_KEY_ENCRYPTION_KEY", secret)
    monkeypatch.setenv("IDENTITY_PORT", "not-a-port" if mode == "local" else "8001")
    get_settings.cache_clear()
    try:
        with pytest.raises(SystemExit) as done:
            cli_main(["keys"])
    finally:
        get_settings.cache_clear()
    assert done.value.code == 2
    captured = capsys.readouterr()
    output = captured.out + captured.err
    for part in (secret, secret[:6], secret[-6:], "dbpass123", "not-a-port"):
        assert part not in output
    if mode == "production":
        (error,) = json_lines(output)
        assert error["msg"] == "invalid settings"
        assert error["errors"] == ["IDENTITY_KEY_ENCRYPTION_KEY needs at least 32 characters"]
    else:
        assert "IDENTITY_PORT: Input should be a valid integer" in output
