"""GET /api/v1/identity/audit: the identity audit trail, for auditors and admins."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from tellonce_identity.audit import repository
from tellonce_identity.audit.schemas import AuditEventPublic, AuditPage
from tellonce_identity.deps import SessionDep
from tellonce_shared.auth import require_roles
from tellonce_shared.pagination import cursor_position, decode_cursor, encode_cursor
from tellonce_shared.params import Text

router = APIRouter(prefix="/api/v1/identity", tags=["identity"])


@router.get("/audit", response_model=AuditPage, dependencies=[require_roles("auditor", "admin")])
async def list_audit_events(
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: str | None = None,
    action: Annotated[Text | None, Query(max_length=100)] = None,
) -> AuditPage:
    position = decode_cursor(cursor)
    before = position.get("before") if position else None
    if before is not None:
        before = cursor_position(before)
    rows = await repository.page(session, before_id=before, limit=limit + 1, action=action)
    items = [AuditEventPublic.model_validate(row) for row in rows[:limit]]
    next_cursor = encode_cursor({"before": items[-1].id}) if len(rows) > limit else None
    return AuditPage(items=items, next_cursor=next_cursor)
