"""Demo referral rules between forms of the demo catalog (local mode only). Idempotent: a rule
already present (by id) is left as an admin may have edited it."""

from __future__ import annotations

from typing import Any

from tellonce_registry.db import Database
from tellonce_registry.referral_rules import repository
from tellonce_registry.referral_rules.models import ReferralRule
from tellonce_registry.referral_rules.schemas import RuleIn
from tellonce_registry.referral_rules.service import apply_rule

DEMO_RULES: list[dict[str, Any]] = [
    {
        "id": "snap-children-care4kids",
        "from_form": "dss-snap-application",
        "to_form": "oec-care4kids-application",
        "condition": {"pointer": "/childrenCount", "op": "gt", "value": 0},
        "reason": {
            "en": "You told us there are children in your household: Care 4 Kids can help "
            "pay for child care while you work or train.",
            "es": "Nos dijo que hay niños en su hogar: Care 4 Kids puede ayudar a pagar el "
            "cuidado infantil mientras trabaja o se capacita.",
        },
    },
    {
        "id": "snap-energy-assistance",
        "from_form": "dss-snap-application",
        "to_form": "dss-energy-assistance",
        "condition": {"pointer": "/householdSize", "op": "gte", "value": 1},
        "reason": {
            "en": "Households receiving SNAP are often eligible for energy assistance.",
            "es": "Los hogares que reciben SNAP a menudo califican para ayuda con la energía.",
        },
    },
    {
        "id": "unemployment-low-wage-snap",
        "from_form": "dol-unemployment-claim",
        "to_form": "dss-snap-application",
        "condition": {"pointer": "/weeklyWage", "op": "lt", "value": 700},
        "reason": {
            "en": "While you look for work, SNAP food benefits can help your household.",
            "es": "Mientras busca trabajo, los beneficios de alimentos SNAP pueden ayudar "
            "a su hogar.",
        },
    },
]


async def seed_referral_rules(database: Database) -> list[str]:
    """Add the demo rules whose forms exist; return one line per rule added or kept."""
    lines: list[str] = []
    async with database.sessions() as session:
        for spec in DEMO_RULES:
            body = RuleIn.model_validate({k: v for k, v in spec.items() if k != "id"})
            forms = await repository.existing_forms(session, [body.from_form, body.to_form])
            if len(forms) < 2:
                lines.append(f"referral rule {spec['id']}: skipped (forms missing)")
                continue
            if await repository.get(session, spec["id"]) is not None:
                lines.append(f"referral rule {spec['id']}: kept")
                continue
            rule = ReferralRule(id=spec["id"])
            apply_rule(rule, body)
            rule.created_at = rule.updated_at
            repository.add(session, rule)
            lines.append(f"referral rule {spec['id']}: added")
        await session.commit()
    return lines
