"""Referral rules: admins write them, anyone reads them (they hold no personal data)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from tellonce_registry.db import flush_new
from tellonce_registry.models import utcnow
from tellonce_registry.referral_rules import repository
from tellonce_registry.referral_rules.models import ReferralRule
from tellonce_registry.referral_rules.schemas import RuleCreate, RuleIn, RuleOut
from tellonce_shared.problems import Conflict, NotFound, ValidationFailed


def rule_out(rule: ReferralRule) -> RuleOut:
    return RuleOut(
        id=rule.id,
        from_form=rule.from_form,
        to_form=rule.to_form,
        condition=rule.condition,
        reason={"en": rule.reason_en, "es": rule.reason_es},
        enabled=rule.enabled,
        created_at=rule.created_at,
        updated_at=rule.updated_at,
    )


async def _check_forms(session: AsyncSession, body: RuleIn) -> None:
    known = await repository.existing_forms(session, [body.from_form, body.to_form])
    errors = [
        {"pointer": f"/{name}", "message": f"there is no form {slug!r}"}
        for name, slug in (("from_form", body.from_form), ("to_form", body.to_form))
        if slug not in known
    ]
    if errors:
        raise ValidationFailed("The rule names a form the catalog does not have.", errors=errors)


def apply_rule(rule: ReferralRule, body: RuleIn) -> None:
    rule.from_form, rule.to_form = body.from_form, body.to_form
    rule.condition = body.condition_json()
    rule.reason_en, rule.reason_es = body.reason.en, body.reason.es
    rule.enabled = body.enabled
    rule.updated_at = utcnow()


async def create(session: AsyncSession, body: RuleCreate) -> ReferralRule:
    await _check_forms(session, body)
    rule_id = body.id or uuid.uuid4().hex
    already = f"The referral rule {rule_id} already exists."
    if await repository.get(session, rule_id) is not None:
        raise Conflict(already)
    rule = ReferralRule(id=rule_id, created_at=utcnow())
    apply_rule(rule, body)
    repository.add(session, rule)
    await flush_new(session, already)
    return rule


async def get(session: AsyncSession, rule_id: str, *, for_update: bool = False) -> ReferralRule:
    """The rule; ``for_update`` locks its row first (a replace or delete), so two writes of
    one rule run one after the other and the second sees what the first did: a rule deleted
    meanwhile is the 404 it is afterwards, not a failed update (a 500)."""
    rule = await repository.get(session, rule_id, for_update=for_update)
    if rule is None:
        raise NotFound(f"There is no referral rule {rule_id}.")
    return rule


async def replace(session: AsyncSession, rule_id: str, body: RuleIn) -> ReferralRule:
    rule = await get(session, rule_id, for_update=True)
    await _check_forms(session, body)
    apply_rule(rule, body)
    await session.flush()
    return rule


async def delete(session: AsyncSession, rule_id: str) -> None:
    await repository.remove(session, await get(session, rule_id, for_update=True))


async def page(
    session: AsyncSession, *, form: str | None, after: str | None, limit: int
) -> Sequence[ReferralRule]:
    return await repository.page(session, form=form, after=after, limit=limit + 1)
