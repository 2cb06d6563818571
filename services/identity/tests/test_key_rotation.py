"""Key rotation: tokens signed before a rotation keep working until they expire, new tokens
carry the new kid, the old public key leaves the JWKS once its tokens are dead; private keys
are encrypted at rest."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI
from joserfc import jws
from sqlalchemy import select, update

from tellonce_identity.cli import main
from tellonce_identity.config import Settings, get_settings
from tellonce_identity.db import Database
from tellonce_identity.keys.crypto import KeyCipher, KeyDecryptionError
from tellonce_identity.keys.service import Keyring
from tellonce_identity.models import AuditEvent, SigningKey
from tellonce_identity.seed import run_rewrap, run_rotate, run_seed
from tellonce_shared.auth import TokenVerifier
from tellonce_shared.problems import Unauthorized
from tellonce_shared.testing import migrated_database

from .conftest import ISSUER, SERVICE_DIR, password_login

ME = "/api/v1/identity/me"


def kid_of(token: str) -> str:
    return str(jws.extract_compact(token.encode()).headers()["kid"])


def fresh_verifier(client: httpx.AsyncClient) -> TokenVerifier:
    return TokenVerifier(
        jwks_url="https://testserver/.well-known/jwks.json",
        issuer=ISSUER,
        audience="tellonce",
        client=client,
    )


async def published_kids(client: httpx.AsyncClient) -> set[str]:
    return {k["kid"] for k in (await client.get("/.well-known/jwks.json")).json()["keys"]}


async def test_rotation_keeps_old_tokens_valid_and_signs_with_the_new_key(
    app: FastAPI, client: httpx.AsyncClient, settings: Settings
) -> None:
    before = (await password_login(client, "resident@demo.gov")).json()["access_token"]
    old_kid = kid_of(before)
    verifier = fresh_verifier(client)
    await verifier.verify(before)  # the verifier now caches the pre-rotation key set

    rotated = await run_rotate(settings)
    assert rotated is not None
    new_kid, retired = rotated
    assert new_kid != old_kid
    assert old_kid in retired
    assert {old_kid, new_kid} <= await published_kids(client)

    after = (await password_login(client, "resident@demo.gov")).json()["access_token"]
    assert kid_of(after) == new_kid
    for token in (before, after):
        resp = await client.get(ME, headers={"Authorization": f"Bearer {token}"})
        assert resp.status_code == 200, resp.text
    # Another service's cached verifier learns the new kid on its own (refresh on unknown kid).
    verifier.min_refresh_seconds = 0
    assert (await verifier.verify(after)).email == "resident@demo.gov"
    assert (await verifier.verify(before)).email == "resident@demo.gov"

    # Once every token of the old key has expired, the key leaves the JWKS.
    long_ago = datetime.now(UTC) - timedelta(
        seconds=settings.access_token_seconds + settings.key_publish_grace_seconds + 5
    )
    async with app.state.database.sessions() as session:
        await session.execute(
            update(SigningKey).where(SigningKey.kid == old_kid).values(retired_at=long_ago)
        )
        audit = (
            await session.execute(select(AuditEvent).where(AuditEvent.subject == new_kid))
        ).scalar_one()
        assert audit.action == "key.rotate"
        await session.commit()
    assert old_kid not in await published_kids(client)
    assert new_kid in await published_kids(client)
    with pytest.raises(Unauthorized):
        await fresh_verifier(client).verify(before)


async def test_private_keys_are_encrypted_at_rest(app: FastAPI, settings: Settings) -> None:
    async with app.state.database.sessions() as session:
        key = await app.state.keyring.signing_key(session)
        row = await session.get(SigningKey, key.kid)
        await session.commit()
    assert row is not None
    private_d = str(key.as_dict(private=True)["d"])
    assert private_d not in row.private_key_encrypted
    assert "d" not in row.public_jwk
    assert row.private_key_encrypted.startswith("v1.")
    with pytest.raises(KeyDecryptionError):
        KeyCipher("some other key-encryption key").decrypt(row.private_key_encrypted, row.kid)
    with pytest.raises(KeyDecryptionError):  # bound to its kid
        KeyCipher(settings.key_encryption_key.get_secret_value()).decrypt(
            row.private_key_encrypted, "another-kid"
        )


def test_rotate_keys_cli(
    database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("IDENTITY_DATABASE_URL", database_url)
    get_settings.cache_clear()
    try:
        main(["rotate-keys"])
        out = capsys.readouterr().out
        assert "new signing key" in out
        main(["keys"])
        listing = capsys.readouterr().out
        assert "signing" in listing
        assert listing.count("signing") == 1
        main(["rotate-keys", "--if-older-than-days", "1"])
        assert "not rotated" in capsys.readouterr().out
        main(["keys"])
        assert capsys.readouterr().out == listing
    finally:
        get_settings.cache_clear()


async def decryptable(settings: Settings) -> int:
    database = Database(settings.database_url)
    try:
        async with database.sessions() as session:
            return await Keyring(settings).check_decryptable(session)
    finally:
        await database.dispose()


async def test_key_encryption_key_rotation_with_rewrap() -> None:
    old_kek, new_kek = "kek-old-" + "a" * 32, "kek-new-" + "b" * 32
    with migrated_database("identity_test", SERVICE_DIR) as url:
        await run_seed(Settings(database_url=url, key_encryption_key=old_kek))
        only_new = Settings(database_url=url, key_encryption_key=new_kek)
        with pytest.raises(KeyDecryptionError):
            await decryptable(only_new)
        both = Settings(
            database_url=url, key_encryption_key=new_kek, previous_key_encryption_keys=[old_kek]
        )
        assert await decryptable(both) == 1
        assert len(await run_rewrap(both)) == 1
        assert await run_rewrap(both) == []  # idempotent
        assert await decryptable(only_new) == 1
