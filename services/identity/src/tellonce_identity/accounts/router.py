"""Resident sign-up, admin-created accounts, and /me."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Response, status

from tellonce_identity.accounts import repository, service
from tellonce_identity.accounts.schemas import (
    AccountCreated,
    AgencyCode,
    Me,
    PasswordChange,
    ResidentSignUp,
    UserCreate,
    UserPage,
    UserPublic,
)
from tellonce_identity.deps import AddressDep, PasswordsDep, SessionDep, SettingsDep
from tellonce_shared.auth import Principal, PrincipalDep, require_roles
from tellonce_shared.pagination import decode_cursor, encode_cursor
from tellonce_shared.params import NUL, Text
from tellonce_shared.problems import BadRequest

router = APIRouter(prefix="/api/v1/identity", tags=["identity"])
AdminDep = Annotated[Principal, require_roles("admin")]
UserId = Annotated[Text, Path()]


@router.post("/residents", status_code=status.HTTP_201_CREATED, response_model=AccountCreated)
async def sign_up_resident(
    body: ResidentSignUp, session: SessionDep, passwords: PasswordsDep, address: AddressDep
) -> AccountCreated:
    """Anyone may sign up as a resident; 409 if the email is taken, 422 for a weak password."""
    user = await service.create_account(
        session,
        passwords,
        email=body.email,
        password=body.password,
        full_name=body.full_name,
        role="resident",
        agency=None,
        actor=None,
        address=address,
    )
    return AccountCreated(id=user.id, email=user.email)


@router.post("/users", status_code=status.HTTP_201_CREATED, response_model=UserPublic)
async def create_user(
    body: UserCreate,
    admin: AdminDep,
    session: SessionDep,
    passwords: PasswordsDep,
    address: AddressDep,
) -> UserPublic:
    """An admin creates agency staff, auditor and admin accounts."""
    user = await service.create_account(
        session,
        passwords,
        email=body.email,
        password=body.password,
        full_name=body.full_name,
        role=body.role,
        agency=body.agency,
        actor=admin.sub,
        address=address,
    )
    return UserPublic.model_validate(user)


@router.get("/me", response_model=Me, response_model_exclude_none=True)
@router.post("/me", response_model=Me, response_model_exclude_none=True)
async def who_am_i(principal: PrincipalDep, session: SessionDep) -> Me:
    """The OIDC ``userinfo_endpoint``: GET or POST (OIDC Core 5.3.1), the token in the
    Authorization header. ``email`` with the ``email`` scope, ``full_name`` with
    ``profile``."""
    return await service.me(session, principal)


@router.get("/users", response_model=UserPage)
async def list_users(
    admin: AdminDep,
    session: SessionDep,
    role: Literal["resident", "agency", "auditor", "admin"] | None = None,
    agency: AgencyCode | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: str | None = None,
) -> UserPage:
    position = decode_cursor(cursor)
    after = position.get("after") if position else None
    if after is not None and (not isinstance(after, str) or NUL in after):
        raise BadRequest("The cursor is not valid.")
    rows = await repository.page(
        session, after_email=after, limit=limit + 1, role=role, agency=agency
    )
    items = [UserPublic.model_validate(row) for row in rows[:limit]]
    next_cursor = encode_cursor({"after": items[-1].email}) if len(rows) > limit else None
    return UserPage(items=items, next_cursor=next_cursor)


@router.post("/users/{user_id}/disable", response_model=UserPublic)
async def disable_user(
    user_id: UserId, admin: AdminDep, session: SessionDep, address: AddressDep
) -> UserPublic:
    """The user can no longer sign in and every refresh token of theirs is revoked."""
    user = await service.set_disabled(session, user_id, True, actor=admin.sub, address=address)
    return UserPublic.model_validate(user)


@router.post("/users/{user_id}/enable", response_model=UserPublic)
async def enable_user(
    user_id: UserId, admin: AdminDep, session: SessionDep, address: AddressDep
) -> UserPublic:
    user = await service.set_disabled(session, user_id, False, actor=admin.sub, address=address)
    return UserPublic.model_validate(user)


@router.post("/me/password", status_code=status.HTTP_204_NO_CONTENT)
async def change_my_password(
    body: PasswordChange,
    principal: PrincipalDep,
    session: SessionDep,
    passwords: PasswordsDep,
    settings: SettingsDep,
    address: AddressDep,
) -> Response:
    """Change your password; every refresh token of yours is revoked (sign in again)."""
    await service.change_password(
        session,
        passwords,
        settings,
        principal,
        current=body.current_password,
        new=body.new_password,
        address=address,
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)
