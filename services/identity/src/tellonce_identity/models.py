"""Database models of the identity service.

Times are stored as timezone-aware UTC. No password, secret or token is ever stored in the
clear: passwords are argon2id hashes, client secrets and refresh tokens SHA-256 digests of
high-entropy random values, and signing keys' private halves are encrypted."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from tellonce_shared.db import new_metadata


class UtcDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every backend (SQLite hands back naive values)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = new_metadata()


class User(Base):
    """A person who signs in with a password: resident, agency staff, auditor or admin."""

    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    full_name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16))
    agency: Mapped[str | None] = mapped_column(String(16), nullable=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    last_login_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)


class Client(Base):
    """An OAuth client: the public ``portal`` or an agency system (confidential)."""

    __tablename__ = "clients"

    client_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))
    """``public`` (no secret; password and refresh_token grants) or ``confidential``."""
    agency: Mapped[str | None] = mapped_column(String(16), nullable=True)
    secret_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    grant_types: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    secret_rotated_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)


class SigningKey(Base):
    """An ES256 key pair. The newest unretired key signs; retired keys stay published until
    every token they signed has expired."""

    __tablename__ = "signing_keys"

    kid: Mapped[str] = mapped_column(String(64), primary_key=True)
    alg: Mapped[str] = mapped_column(String(16))
    public_jwk: Mapped[dict[str, Any]] = mapped_column(JSON)
    private_key_encrypted: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    retired_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)


class RefreshToken(Base):
    """One opaque refresh token (stored as its SHA-256). Tokens of one sign-in share a
    ``family_id``; presenting a used one revokes the family, except once within the reuse
    interval (``IDENTITY_REFRESH_REUSE_SECONDS``) after its rotation."""

    __tablename__ = "refresh_tokens"
    __table_args__ = (
        Index("ix_refresh_tokens_family_id", "family_id"),
        Index("ix_refresh_tokens_user_id", "user_id"),
        Index("ix_refresh_tokens_family_expires_at", "family_expires_at"),
    )
    """By family: revocation and :func:`~tellonce_identity.tokens.repository.family_revoked`;
    by user: the end of every sign-in of a user (password change, disabling); by the
    family's expiry: ``prune``. ``client_id`` has none: clients are revoked, never deleted,
    and almost every token is the portal's."""

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    family_id: Mapped[str] = mapped_column(String(32))
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    client_id: Mapped[str] = mapped_column(ForeignKey("clients.client_id", ondelete="CASCADE"))
    scope: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime())
    family_expires_at: Mapped[datetime] = mapped_column(UtcDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    reused_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    """When the token was presented again within the reuse interval after its rotation (the
    one accepted reuse; any further one ends the sign-in)."""
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)


class LoginFailure(Base):
    """A failed password attempt, counted for rate limiting (``tokens/throttle.py``)."""

    __tablename__ = "login_failures"
    __table_args__ = (
        Index("ix_login_failures_key_at", "key", "at"),
        Index("ix_login_failures_at", "at"),  # prune
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(300))
    """``account:<email>``, ``account-address:<ip> <email>``, ``address:<ip>`` or
    ``password-change:<user id>``."""
    at: Mapped[datetime] = mapped_column(UtcDateTime())


class KnownSignIn(Base):
    """A caller (the rate limit's: an IPv4 address, an IPv6 /64) from which an account
    signed in, or refreshed a sign-in, at ``last_success_at``. Within
    ``IDENTITY_LOGIN_KNOWN_CALLER_DAYS`` of it the account-wide failure limit does not lock
    that caller out of that account (``tokens/throttle.py``); older rows are ignored and
    deleted at the account's next sign-in and by ``tellonce-identity prune``."""

    __tablename__ = "known_sign_ins"
    __table_args__ = (UniqueConstraint("user_id", "caller"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    caller: Mapped[str] = mapped_column(String(64))
    last_success_at: Mapped[datetime] = mapped_column(UtcDateTime())


class AuditEvent(Base):
    """Who did what, when, from where. Never a password, secret or token."""

    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_events_at", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime())
    action: Mapped[str] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(16))
    actor: Mapped[str | None] = mapped_column(String(64), nullable=True)
    """The user id or client id acting (null when unknown, e.g. a failed login)."""
    subject: Mapped[str | None] = mapped_column(String(254), nullable=True)
    """What it acted on: an account email, a client id, a key id."""
    address: Mapped[str | None] = mapped_column(String(64), nullable=True)
    request_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
