"""Account decisions: password policy, uniqueness, who may hold which role."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from tellonce_identity.accounts import repository
from tellonce_identity.accounts.schemas import Me
from tellonce_identity.audit.repository import record
from tellonce_identity.clients import repository as clients
from tellonce_identity.config import Settings
from tellonce_identity.deps import KeepChanges
from tellonce_identity.models import User
from tellonce_identity.passwords.hashing import Passwords, normalize
from tellonce_identity.passwords.policy import problems
from tellonce_identity.tokens import repository as tokens
from tellonce_identity.tokens import throttle
from tellonce_identity.tokens.errors import LoginThrottled
from tellonce_shared.auth import Principal
from tellonce_shared.problems import (
    Conflict,
    Forbidden,
    NotFound,
    Unauthorized,
    ValidationFailed,
)


def check_password(
    password: str, email: str, full_name: str, *, pointer: str = "/password"
) -> None:
    """422 naming ``pointer`` (the body member that holds the password) if it is weak."""
    found = problems(password, context=(email, email.split("@")[0], full_name))
    if found:
        raise ValidationFailed(
            "The password does not meet the rules (NIST SP 800-63B).",
            errors=[{"pointer": pointer, "message": message} for message in found],
        )


async def create_account(
    session: AsyncSession,
    passwords: Passwords,
    *,
    email: str,
    password: str,
    full_name: str,
    role: str,
    agency: str | None,
    actor: str | None,
    address: str | None,
) -> User:
    check_password(password, email, full_name)
    if await repository.by_email(session, email) is not None:
        raise Conflict("An account with this email address already exists.")
    user = User(
        id=uuid.uuid4().hex,
        email=email,
        full_name=full_name.strip(),
        role=role,
        agency=agency,
        password_hash=await passwords.hash_async(password),
        disabled=False,
        created_at=datetime.now(UTC),
    )
    repository.add(session, user)
    try:
        await session.flush()
    except IntegrityError as exc:
        raise Conflict("An account with this email address already exists.") from exc
    action = "resident.sign_up" if role == "resident" else "user.create"
    record(
        session,
        action,
        actor=actor or user.id,
        subject=email,
        address=address,
        detail={"user_id": user.id, "role": role, "agency": agency},
    )
    return user


async def me(session: AsyncSession, principal: Principal) -> Me:
    """The caller as this service knows them: a user account or an agency client. A user's
    ``email`` needs the token's ``email`` scope and ``full_name`` its ``profile`` scope
    (OpenID Connect Core 5.4); the portal's tokens have both (the default scope)."""
    user = await repository.by_id(session, principal.sub)
    if user is not None:
        if user.disabled:
            raise Unauthorized("This account is disabled.")
        return Me(
            sub=user.id,
            email=user.email if "email" in principal.scope else None,
            full_name=user.full_name if "profile" in principal.scope else None,
            role=user.role,
            agency=user.agency,
        )
    client = await clients.by_id(session, principal.sub)
    if client is not None and client.revoked_at is None:
        return Me(sub=client.client_id, full_name=client.name, role="agency", agency=client.agency)
    raise Unauthorized("The account behind this token no longer exists.")


async def set_disabled(
    session: AsyncSession, user_id: str, disabled: bool, *, actor: str, address: str | None
) -> User:
    """Disabling signs the user out everywhere (refresh tokens revoked); access tokens
    already issued are refused by /me and expire within 15 minutes."""
    user = await repository.lock(session, user_id)  # no sign-in of theirs starts meanwhile
    if user is None:
        raise NotFound(f"There is no user {user_id!r}.")
    if user.id == actor and disabled:
        raise Conflict("Admins cannot disable their own account.")
    user.disabled = disabled
    revoked = 0
    if disabled:
        revoked = await tokens.revoke_all_for_user(session, user.id, datetime.now(UTC))
    record(
        session,
        "user.disable" if disabled else "user.enable",
        actor=actor,
        subject=user.email,
        address=address,
        detail={"user_id": user.id, "refresh_tokens_revoked": revoked},
    )
    return user


class WrongCurrentPassword(ValidationFailed, KeepChanges):
    """Recorded as a failed attempt (and counted for the password change's own rate limit)
    before it is raised."""


async def change_password(
    session: AsyncSession,
    passwords: Passwords,
    settings: Settings,
    principal: Principal,
    *,
    current: str,
    new: str,
    address: str | None,
) -> None:
    """The user proves the current password; every sign-in of the user is ended, the
    caller's own too (its refresh token is revoked with the others).

    Wrong current passwords are counted per user, apart from sign-in failures
    (``password_change_max_failures``): someone holding a stolen access token cannot lock
    the owner out of signing in, and an attack on the sign-in does not stop the owner from
    changing the password."""
    user = await repository.by_id(session, principal.sub)
    if user is None:
        raise Forbidden("Only user accounts have a password.")
    if user.disabled:
        raise Unauthorized("This account is disabled.")
    key = throttle.password_change_key(user.id)
    await throttle.serialize(session, [key])
    # The row afresh and held to the commit: no sign-in with the old password is created
    # unseen by the revocation below, and two changes do not both pass the same check.
    user = await repository.lock(session, user.id)
    if user is None:
        raise Unauthorized("The account behind this token no longer exists.")
    if user.disabled:
        raise Unauthorized("This account is disabled.")
    wait = await throttle.retry_after(session, settings, [key])
    if wait is not None:
        raise LoginThrottled("Too many wrong current passwords; try again later.", retry_after=wait)
    if not await passwords.verify_async(user.password_hash, current):
        await throttle.record_failure(session, settings, [key])
        record(
            session,
            "password.change",
            outcome="failure",
            actor=user.id,
            subject=user.email,
            address=address,
            detail={"reason": "wrong_password"},
        )
        raise WrongCurrentPassword(
            "The current password is not correct.",
            errors=[{"pointer": "/current_password", "message": "not correct"}],
        )
    if normalize(new) == normalize(current):
        raise ValidationFailed(
            "The new password is the current one.",
            errors=[{"pointer": "/new_password", "message": "choose a password you do not use"}],
        )
    check_password(new, user.email, user.full_name, pointer="/new_password")
    user.password_hash = await passwords.hash_async(new)
    await throttle.clear(session, [key])
    revoked = await tokens.revoke_all_for_user(session, user.id, datetime.now(UTC))
    record(
        session,
        "password.change",
        actor=user.id,
        subject=user.email,
        address=address,
        detail={"refresh_tokens_revoked": revoked},
    )
