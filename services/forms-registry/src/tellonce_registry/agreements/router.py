from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from tellonce_registry.agreements import service
from tellonce_registry.agreements.schemas import AgreementCreate, AgreementOut, AgreementPage, Owner
from tellonce_registry.deps import AdminOnly, SessionDep
from tellonce_registry.paging import Cursor, Limit, RowId, VersionQuery
from tellonce_shared.auth import OptionalPrincipalDep, Principal
from tellonce_shared.pagination import cursor_position, decode_cursor, encode_cursor
from tellonce_shared.params import Text

router = APIRouter(prefix="/api/v1/agreements", tags=["catalog"])


def _after(cursor: str | None) -> int | None:
    value = decode_cursor(cursor)
    if value is None:
        return None
    return cursor_position(value.get("after"))


def _is_admin(principal: Principal | None) -> bool:
    return principal is not None and principal.role == "admin"


@router.get("")
async def list_agreements(
    session: SessionDep,
    principal: OptionalPrincipalDep,
    form: Annotated[Text | None, Query(max_length=100)] = None,
    agency: Annotated[Text | None, Query(max_length=16)] = None,
    version: VersionQuery = None,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> AgreementPage:
    """Who receives what. Public: residents see it before they submit. With ``?form=`` each
    agreement's ``pointers`` are resolved against that form's latest published version (or
    ``?version=``), and ``owner`` names the agency that receives every answer. A form no
    resident can see yet (no published or retired version) is listed to admins only."""
    items, owner, resolved = await service.page(
        session,
        public_only=not _is_admin(principal),
        form_slug=form,
        agency=agency,
        version_number=version,
        after=_after(cursor),
        limit=limit,
    )
    more = len(items) > limit
    items = items[:limit]
    return AgreementPage(
        form=form,
        version=resolved,
        owner=Owner(agency=owner) if owner else None,
        items=items,
        next_cursor=encode_cursor({"after": items[-1].id}) if more else None,
    )


@router.post("", status_code=201, dependencies=[AdminOnly])
async def create_agreement(body: AgreementCreate, session: SessionDep) -> AgreementOut:
    return await service.create(session, body)


@router.get("/{agreement_id}")
async def get_agreement(
    agreement_id: RowId, session: SessionDep, principal: OptionalPrincipalDep
) -> AgreementOut:
    return await service.get(session, agreement_id, public_only=not _is_admin(principal))


@router.delete("/{agreement_id}", status_code=204, dependencies=[AdminOnly])
async def delete_agreement(agreement_id: RowId, session: SessionDep) -> Response:
    await service.delete(session, agreement_id)
    return Response(status_code=204)
