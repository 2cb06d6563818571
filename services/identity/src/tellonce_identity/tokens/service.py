"""The grants of the token endpoint and RFC 7009 revocation.

Every decision that a client can observe is here: which client may use which grant, what a
failed sign-in looks like (the same for an unknown account and a wrong password, and about
as slow), when a refresh token rotates, when a reuse falls within the reuse interval, and when
its whole family is revoked."""

from __future__ import annotations

import base64
import binascii
import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import unquote_plus

from sqlalchemy.ext.asyncio import AsyncSession

from tellonce_identity.accounts import repository as accounts
from tellonce_identity.audit.repository import record
from tellonce_identity.clients import repository as clients
from tellonce_identity.clients.secrets import matches
from tellonce_identity.config import Settings
from tellonce_identity.keys.service import Keyring
from tellonce_identity.models import Client, RefreshToken, User
from tellonce_identity.passwords.hashing import Passwords
from tellonce_identity.tokens import repository, throttle
from tellonce_identity.tokens.errors import (
    InvalidClient,
    InvalidGrant,
    InvalidRequest,
    LoginThrottled,
    OAuthError,
)
from tellonce_identity.tokens.issuer import access_token

USER_SCOPES = ("openid", "profile", "email")
CLIENT_SCOPES = ("deliveries",)
GRANT_TYPES = ("password", "client_credentials", "refresh_token")
WRONG_CREDENTIALS = "The email address or password is not correct."


@dataclass(frozen=True)
class TokenContext:
    settings: Settings
    keyring: Keyring
    passwords: Passwords
    address: str | None


@dataclass(frozen=True)
class TokenForm:
    """The form fields of a token or revocation request (all optional on the wire)."""

    grant_type: str | None = None
    username: str | None = None
    password: str | None = None
    client_id: str | None = None
    client_secret: str | None = None
    refresh_token: str | None = None
    scope: str | None = None
    token: str | None = None
    token_type_hint: str | None = None
    authorization: str | None = None


def _check_form(form: TokenForm) -> None:
    """No parameter may hold a NUL character: no legitimate value has one, and PostgreSQL
    refuses it (a client would get a problem without the RFC 6749 ``error`` member)."""
    for name, value in vars(form).items():
        if value is not None and "\x00" in value:
            raise InvalidRequest(f"{name} must not contain a NUL character.")


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _basic_credentials(authorization: str | None) -> tuple[str, str] | None:
    """RFC 6749 2.3.1: HTTP Basic with form-urlencoded id and secret."""
    if not authorization:
        return None
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise InvalidClient("The Basic credentials are malformed.") from exc
    client_id, sep, secret = decoded.partition(":")
    client_id, secret = unquote_plus(client_id), unquote_plus(secret)
    if not sep or "\x00" in client_id or "\x00" in secret:
        raise InvalidClient("The Basic credentials are malformed.")
    return client_id, secret


async def authenticate_client(session: AsyncSession, form: TokenForm, ctx: TokenContext) -> Client:
    basic = _basic_credentials(form.authorization)
    if basic is not None and (form.client_secret is not None):
        raise InvalidRequest("Authenticate the client with one method only (Basic or body).")
    client_id: str | None = form.client_id
    secret: str | None = form.client_secret
    if basic is not None:
        if form.client_id is not None and form.client_id != basic[0]:
            raise InvalidRequest("client_id in the body differs from the Basic credentials.")
        client_id, secret = basic
    if not client_id:
        raise InvalidClient("Identify the client with client_id (e.g. client_id=portal).")
    client = await clients.by_id(session, client_id)
    ok = client is not None and client.revoked_at is None
    if ok and client is not None and client.kind == "confidential":
        ok = secret is not None and matches(client.secret_hash, secret)
    elif ok and secret:
        ok = False  # a public client has no secret; one sent is a client mix-up
    if not ok or client is None:
        record(
            session,
            "client.authenticate",
            outcome="failure",
            subject=client_id[:254],
            address=ctx.address,
        )
        raise InvalidClient()
    return client


def _scope(requested: str | None, allowed: tuple[str, ...], default: tuple[str, ...]) -> str:
    if requested is None or not requested.strip():
        return " ".join(default)
    wanted = requested.split()
    unknown = [s for s in wanted if s not in allowed]
    if unknown:
        raise OAuthError("invalid_scope", f"Scope not available: {' '.join(unknown)}.")
    return " ".join(dict.fromkeys(wanted))


def _response(
    token: str, ctx: TokenContext, scope: str, refresh_token: str | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "access_token": token,
        "token_type": "Bearer",
        "expires_in": ctx.settings.access_token_seconds,
        "scope": scope,
    }
    if refresh_token is not None:
        body["refresh_token"] = refresh_token
    return body


async def _user_token(
    session: AsyncSession, ctx: TokenContext, user: User, client: Client, scope: str
) -> str:
    return await access_token(
        session,
        ctx.keyring,
        ctx.settings,
        sub=user.id,
        role=user.role,
        client_id=client.client_id,
        scope=scope,
        agency=user.agency if user.role == "agency" else None,
        email=user.email if "email" in scope.split() else None,  # as /me: the email scope
    )


def _new_refresh(
    session: AsyncSession,
    ctx: TokenContext,
    *,
    user: User,
    client: Client,
    scope: str,
    family_id: str,
    family_expires_at: datetime,
    now: datetime,
) -> str:
    raw = secrets.token_urlsafe(32)
    idle = now + timedelta(seconds=ctx.settings.refresh_token_seconds)
    repository.add(
        session,
        RefreshToken(
            id=uuid.uuid4().hex,
            token_hash=_hash(raw),
            family_id=family_id,
            user_id=user.id,
            client_id=client.client_id,
            scope=scope,
            created_at=now,
            expires_at=min(idle, family_expires_at),
            family_expires_at=family_expires_at,
        ),
    )
    return raw


def _require_grant(client: Client, grant_type: str) -> None:
    if grant_type not in client.grant_types.split():
        raise OAuthError(
            "unauthorized_client", f"The client {client.client_id!r} may not use {grant_type}."
        )


async def password_grant(
    session: AsyncSession, form: TokenForm, ctx: TokenContext
) -> dict[str, Any]:
    client = await authenticate_client(session, form, ctx)
    _require_grant(client, "password")
    if not form.username or form.password is None:
        raise InvalidRequest("The password grant needs username and password.")
    scope = _scope(form.scope, USER_SCOPES, USER_SCOPES)
    username = form.username.strip().lower()
    keys = throttle.sign_in_keys(username, ctx.address)
    await throttle.serialize(session, keys)
    wait, known_caller = await throttle.sign_in_retry_after(
        session, ctx.settings, username, ctx.address
    )
    if wait is not None:
        record(session, "login", outcome="throttled", subject=username[:254], address=ctx.address)
        raise LoginThrottled("Too many failed sign-in attempts; try again later.", retry_after=wait)
    # Held to the commit: a password change or disabling waits for this sign-in (and then
    # revokes it) or this sign-in waits for them (and checks the new hash / the flag).
    user = await accounts.by_email(session, username, lock=True)
    valid = await ctx.passwords.verify_async(user.password_hash if user else None, form.password)
    if not valid or user is None or user.disabled:
        await throttle.record_failure(session, ctx.settings, keys)
        reason = "unknown_account" if user is None else "disabled" if valid else "wrong_password"
        record(
            session,
            "login",
            outcome="failure",
            actor=user.id if user else None,
            subject=username[:254],
            address=ctx.address,
            detail={"reason": reason, "client_id": client.client_id, **_past_limit(known_caller)},
        )
        raise InvalidGrant(WRONG_CREDENTIALS)
    rehashed = ctx.passwords.needs_rehash(user.password_hash)
    if rehashed:
        user.password_hash = await ctx.passwords.hash_async(form.password)
    now = datetime.now(UTC)
    user.last_login_at = now
    await throttle.clear(session, throttle.forgiven_on_sign_in(keys, known_caller=known_caller))
    await throttle.forget_stale_callers(session, ctx.settings, user.id)
    await throttle.remember_caller(session, ctx.settings, user.id, ctx.address)
    token = await _user_token(session, ctx, user, client, scope)
    family_expires = now + timedelta(seconds=ctx.settings.refresh_family_seconds)
    refresh = _new_refresh(
        session,
        ctx,
        user=user,
        client=client,
        scope=scope,
        family_id=uuid.uuid4().hex,
        family_expires_at=family_expires,
        now=now,
    )
    record(
        session,
        "login",
        actor=user.id,
        subject=user.email,
        address=ctx.address,
        detail={"client_id": client.client_id, "rehashed": rehashed, **_past_limit(known_caller)},
    )
    return _response(token, ctx, scope, refresh)


def _past_limit(known_caller: bool) -> dict[str, bool]:
    """The audit detail of an attempt checked only because its caller is known to the
    account, the account-wide count being at its limit (the account is under attack)."""
    return {"known_caller_past_account_limit": True} if known_caller else {}


async def client_credentials_grant(
    session: AsyncSession, form: TokenForm, ctx: TokenContext
) -> dict[str, Any]:
    client = await authenticate_client(session, form, ctx)
    _require_grant(client, "client_credentials")
    scope = _scope(form.scope, CLIENT_SCOPES, CLIENT_SCOPES)
    token = await access_token(
        session,
        ctx.keyring,
        ctx.settings,
        sub=client.client_id,
        role="agency",
        client_id=client.client_id,
        scope=scope,
        agency=client.agency,
    )
    record(
        session,
        "token.client_credentials",
        actor=client.client_id,
        subject=client.client_id,
        address=ctx.address,
        detail={"agency": client.agency},
    )
    return _response(token, ctx, scope)


async def refresh_token_grant(
    session: AsyncSession, form: TokenForm, ctx: TokenContext
) -> dict[str, Any]:
    client = await authenticate_client(session, form, ctx)
    _require_grant(client, "refresh_token")
    if not form.refresh_token:
        raise InvalidRequest("The refresh_token grant needs refresh_token.")
    now = datetime.now(UTC)
    row = await repository.by_hash(session, _hash(form.refresh_token))
    if row is None or row.client_id != client.client_id:
        raise InvalidGrant("The refresh token is not valid.")
    if row.revoked_at is not None or await repository.family_revoked(session, row.family_id):
        if row.revoked_at is None:
            # Issued by a refresh that raced the end of its sign-in (sign-out, password
            # change, disabling, reuse detection): the family is ended, so is this token.
            await repository.revoke_family(session, row.family_id, now)
        record(
            session,
            "token.refresh",
            outcome="failure",
            actor=row.user_id,
            address=ctx.address,
            detail={"reason": "revoked", "family": row.family_id},
        )
        raise InvalidGrant("The refresh token has been revoked; sign in again.")
    if row.expires_at <= now or row.family_expires_at <= now:
        raise InvalidGrant("The refresh token has expired; sign in again.")
    rotated = row.used_at is None and await repository.mark_used(session, row.id, now)
    within_interval = not rotated and await _reuse_within_interval(session, ctx, row, now)
    if not rotated and not within_interval:
        revoked = await repository.revoke_family(session, row.family_id, now)
        record(
            session,
            "token.refresh_reuse",
            outcome="family_revoked",
            actor=row.user_id,
            address=ctx.address,
            detail={"family": row.family_id, "revoked": revoked},
        )
        raise InvalidGrant(
            "The refresh token was already used; every token of this sign-in is now revoked. "
            "Sign in again."
        )
    user = await accounts.by_id(session, row.user_id)
    if user is None or user.disabled:
        await repository.revoke_family(session, row.family_id, now)
        raise InvalidGrant("The account behind this refresh token is no longer active.")
    scope = _scope(form.scope, tuple(row.scope.split()), tuple(row.scope.split()))
    await throttle.remember_caller(session, ctx.settings, user.id, ctx.address)
    token = await _user_token(session, ctx, user, client, scope)
    refresh = _new_refresh(
        session,
        ctx,
        user=user,
        client=client,
        scope=row.scope,
        family_id=row.family_id,
        family_expires_at=row.family_expires_at,
        now=now,
    )
    record(
        session,
        "token.refresh",
        actor=user.id,
        subject=user.email,
        address=ctx.address,
        detail={
            "family": row.family_id,
            "client_id": client.client_id,
            "reuse_interval": within_interval,
        },
    )
    return _response(token, ctx, scope, refresh)


async def _reuse_within_interval(
    session: AsyncSession, ctx: TokenContext, row: RefreshToken, now: datetime
) -> bool:
    """The reuse interval: a token rotated at most ``refresh_reuse_seconds`` ago may be
    presented once more (two requests of one browser refreshing at the same moment). The
    caller then gets a new sibling refresh token of the same family; the first caller's
    successor stays valid and nothing is revoked."""
    seconds = ctx.settings.refresh_reuse_seconds
    if seconds <= 0:
        return False
    return await repository.claim_reuse(session, row.id, now, now - timedelta(seconds=seconds))


async def issue(session: AsyncSession, form: TokenForm, ctx: TokenContext) -> dict[str, Any]:
    _check_form(form)
    if not form.grant_type:
        raise InvalidRequest("grant_type is required.")
    if form.grant_type == "password":
        return await password_grant(session, form, ctx)
    if form.grant_type == "client_credentials":
        return await client_credentials_grant(session, form, ctx)
    if form.grant_type == "refresh_token":
        return await refresh_token_grant(session, form, ctx)
    raise OAuthError("unsupported_grant_type", f"Supported grant types: {', '.join(GRANT_TYPES)}.")


async def revoke(session: AsyncSession, form: TokenForm, ctx: TokenContext) -> None:
    """RFC 7009: revoking a refresh token ends its whole sign-in (its family). An unknown
    token is not an error; access tokens are short-lived JWTs and cannot be revoked."""
    _check_form(form)
    client = await authenticate_client(session, form, ctx)
    if not form.token:
        raise InvalidRequest("token is required.")
    row = await repository.by_hash(session, _hash(form.token))
    if row is not None:
        if row.client_id != client.client_id:
            raise InvalidRequest("This token was not issued to this client.")
        revoked = await repository.revoke_family(session, row.family_id, datetime.now(UTC))
        record(
            session,
            "token.revoke",
            actor=row.user_id,
            address=ctx.address,
            detail={"family": row.family_id, "revoked": revoked, "client_id": client.client_id},
        )
        return
    if form.token.count(".") == 2:
        raise OAuthError(
            "unsupported_token_type",
            "Access tokens cannot be revoked; they expire within "
            f"{ctx.settings.access_token_seconds // 60} minutes. Revoke the refresh token.",
        )
