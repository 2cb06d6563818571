"""Operator commands: create-admin (policy-checked) and prune."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import create_engine, delete, func, insert, select, update
from sqlalchemy.engine import Engine

from tellonce_identity.cli import main
from tellonce_identity.config import get_settings
from tellonce_identity.models import KnownSignIn, LoginFailure, RefreshToken, User
from tellonce_shared.migrations import sync_url


@pytest.fixture
def cli_env(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    monkeypatch.setenv("IDENTITY_DATABASE_URL", database_url)
    get_settings.cache_clear()
    engine = create_engine(sync_url(database_url))
    yield engine
    engine.dispose()
    get_settings.cache_clear()


def test_create_admin(cli_env: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    email = f"ops-{uuid.uuid4().hex[:8]}@state.example.gov"
    monkeypatch.setenv("IDENTITY_ADMIN_PASSWORD", "short")
    with pytest.raises(SystemExit, match="15 characters"):
        main(["create-admin", "--email", email, "--full-name", "Ops"])
    monkeypatch.setenv("IDENTITY_ADMIN_PASSWORD", "granite harbor violet compass")
    main(["create-admin", "--email", email, "--full-name", "Ops"])
    with cli_env.connect() as conn:
        role = conn.execute(select(User.role).where(User.email == email)).scalar_one()
    assert role == "admin"
    with pytest.raises(SystemExit, match="already exists"):
        main(["create-admin", "--email", email, "--full-name", "Ops"])


def test_prune_deletes_only_dead_rows(
    cli_env: Engine, app: object, capsys: pytest.CaptureFixture[str]
) -> None:
    now = datetime.now(UTC)
    dead_family, live_family = uuid.uuid4().hex, uuid.uuid4().hex
    with cli_env.begin() as conn:
        user_id = conn.execute(
            select(User.id).where(User.email == "resident@demo.gov")
        ).scalar_one()
        for family, ends in (
            (dead_family, now - timedelta(days=1)),
            (live_family, now + timedelta(days=1)),
        ):
            conn.execute(
                insert(RefreshToken).values(
                    id=uuid.uuid4().hex,
                    token_hash=uuid.uuid4().hex + uuid.uuid4().hex,
                    family_id=family,
                    user_id=user_id,
                    client_id="portal",
                    scope="openid",
                    created_at=now - timedelta(days=40),
                    expires_at=ends,
                    family_expires_at=ends,
                )
            )
        conn.execute(
            insert(LoginFailure).values(key="account:old@example.org", at=now - timedelta(days=2))
        )
    main(["prune"])
    assert "refresh_tokens" in capsys.readouterr().out
    with cli_env.connect() as conn:
        families = set(
            conn.execute(
                select(RefreshToken.family_id).where(
                    RefreshToken.family_id.in_([dead_family, live_family])
                )
            ).scalars()
        )
        old = conn.execute(
            select(func.count()).where(LoginFailure.key == "account:old@example.org")
        ).scalar_one()
    assert families == {live_family}
    assert old == 0
    with cli_env.begin() as conn:  # tidy: the live row belongs to no real sign-in
        conn.execute(
            update(RefreshToken).where(RefreshToken.family_id == live_family).values(revoked_at=now)
        )


def test_prune_deletes_known_callers_past_the_period_only(
    cli_env: Engine, app: object, capsys: pytest.CaptureFixture[str]
) -> None:
    """A known caller (an address a resident signed in from) stops counting after
    ``login_known_caller_days`` and is personal data: the daily prune deletes it even when the
    account never signs in again; a caller still within the period stays."""
    days = get_settings().login_known_caller_days
    now = datetime.now(UTC)
    stale, recent = f"198.51.100.{uuid.uuid4().int % 250}", "2001:db8:1:2::"
    with cli_env.begin() as conn:
        user_id = conn.execute(
            select(User.id).where(User.email == "resident@demo.gov")
        ).scalar_one()
        conn.execute(
            insert(KnownSignIn).values(
                [
                    {
                        "user_id": user_id,
                        "caller": stale,
                        "last_success_at": now - timedelta(days=days, hours=1),
                    },
                    {
                        "user_id": user_id,
                        "caller": recent,
                        "last_success_at": now - timedelta(days=days - 1),
                    },
                ]
            )
        )
    main(["prune"])
    assert "known_sign_ins" in capsys.readouterr().out
    with cli_env.begin() as conn:
        left = set(
            conn.execute(
                select(KnownSignIn.caller).where(
                    KnownSignIn.user_id == user_id, KnownSignIn.caller.in_([stale, recent])
                )
            ).scalars()
        )
        conn.execute(delete(KnownSignIn).where(KnownSignIn.caller == recent))
    assert left == {recent}
