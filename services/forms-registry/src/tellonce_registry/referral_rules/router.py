"""Referral rules: ``GET`` for anyone (submissions reads them), writes for admins."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from tellonce_registry.deps import AdminOnly, SessionDep
from tellonce_registry.paging import Cursor, Limit, after_key, next_cursor
from tellonce_registry.referral_rules import service
from tellonce_registry.referral_rules.schemas import RuleCreate, RuleIn, RuleOut, RulePage
from tellonce_shared.params import Text

router = APIRouter(prefix="/api/v1/referral-rules", tags=["referrals"])
RuleId = Annotated[Text, Path()]


@router.get("")
async def list_rules(
    session: SessionDep,
    form: Annotated[Text | None, Query(max_length=100, description="rules from this form")] = None,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> RulePage:
    rows = await service.page(session, form=form, after=after_key(cursor), limit=limit)
    return RulePage(
        items=[service.rule_out(r) for r in rows[:limit]],
        next_cursor=next_cursor([r.id for r in rows], limit),
    )


@router.post("", status_code=201, dependencies=[AdminOnly])
async def create_rule(body: RuleCreate, session: SessionDep) -> RuleOut:
    return service.rule_out(await service.create(session, body))


@router.get("/{rule_id}")
async def get_rule(rule_id: RuleId, session: SessionDep) -> RuleOut:
    return service.rule_out(await service.get(session, rule_id))


@router.put("/{rule_id}", dependencies=[AdminOnly])
async def replace_rule(rule_id: RuleId, body: RuleIn, session: SessionDep) -> RuleOut:
    return service.rule_out(await service.replace(session, rule_id, body))


@router.delete("/{rule_id}", status_code=204, dependencies=[AdminOnly])
async def delete_rule(rule_id: RuleId, session: SessionDep) -> Response:
    await service.delete(session, rule_id)
    return Response(status_code=204)
