"""Queries of the redundancy audit: the published catalog it reads, and reviewers' decisions."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from tellonce_registry.audit.models import AuditDecision, AuditFieldMapping
from tellonce_registry.models import Agency, DataElement, Form, FormField, FormVersion, utcnow

PUBLISHED = "published"


@dataclass(frozen=True, slots=True)
class PublishedVersion:
    version_id: int
    number: int
    schema: dict[str, Any]
    slug: str
    agency: str
    title: str
    minutes: int | None
    yearly_volume: int | None


async def fingerprint(session: AsyncSession) -> tuple[Any, ...]:
    """Changes whenever anything the audit reads changes: a version published or retired, a
    form's burden figures edited, an element added, a decision taken or undone."""
    published = FormVersion.status == PUBLISHED
    row = (
        await session.execute(
            select(
                select(func.count()).where(published).select_from(FormVersion).scalar_subquery(),
                select(func.max(FormVersion.id)).where(published).scalar_subquery(),
                select(func.max(FormVersion.published_at)).scalar_subquery(),
                select(func.max(FormVersion.retired_at)).scalar_subquery(),
                select(func.count()).select_from(Form).scalar_subquery(),
                select(func.max(Form.updated_at)).scalar_subquery(),
                select(func.count()).select_from(DataElement).scalar_subquery(),
                select(func.count()).select_from(AuditDecision).scalar_subquery(),
                select(func.max(AuditDecision.id)).scalar_subquery(),
            )
        )
    ).one()
    return tuple(str(v) for v in row)


async def published_versions(
    session: AsyncSession, slugs: Collection[str] | None = None
) -> list[PublishedVersion]:
    """Every published version (of the forms ``slugs`` names, when given)."""
    query = (
        select(
            FormVersion.id,
            FormVersion.number,
            FormVersion.schema,
            Form.slug,
            Form.agency_code,
            Form.title,
            Form.minutes,
            Form.yearly_volume,
        )
        .join(Form, Form.id == FormVersion.form_id)
        .where(FormVersion.status == PUBLISHED)
        .order_by(Form.slug, FormVersion.number)
    )
    if slugs is not None:
        query = query.where(Form.slug.in_(list(slugs)))
    rows = await session.execute(query)
    return [PublishedVersion(*row) for row in rows]


async def field_rows(session: AsyncSession, version_ids: Sequence[int]) -> list[Any]:
    """The flattened fields of these versions, as plain rows (tens of thousands of them: no ORM
    objects)."""
    if not version_ids:
        return []
    result = await session.execute(
        select(
            FormField.version_id,
            FormField.pointer,
            FormField.name,
            FormField.title,
            FormField.type,
            FormField.format,
            FormField.enum,
            FormField.description,
            FormField.element_id,
        )
        .where(FormField.version_id.in_(list(version_ids)))
        .order_by(FormField.version_id, FormField.position)
    )
    return list(result)


@dataclass(frozen=True, slots=True)
class ElementInfo:
    label: str
    aliases: list[str]
    type: str | None


async def elements(session: AsyncSession) -> dict[str, ElementInfo]:
    rows = await session.execute(
        select(DataElement.id, DataElement.label_en, DataElement.aliases, DataElement.schema)
    )
    out: dict[str, ElementInfo] = {}
    for element_id, label, aliases, schema in rows:
        kind = schema.get("type") if isinstance(schema, dict) else None
        out[str(element_id)] = ElementInfo(
            str(label),
            [str(a) for a in aliases] if isinstance(aliases, list) else [],
            kind if isinstance(kind, str) else None,
        )
    return out


async def element_schema(session: AsyncSession, element_id: str) -> dict[str, Any] | None:
    """The element's JSON Schema; ``None`` when the dictionary has no such element."""
    element = await session.get(DataElement, element_id)
    if element is None:
        return None
    return element.schema if isinstance(element.schema, dict) else {}


async def agency_exists(session: AsyncSession, code: str) -> bool:
    return await session.get(Agency, code) is not None


async def decisions(session: AsyncSession) -> list[AuditDecision]:
    return list(await session.scalars(select(AuditDecision).order_by(AuditDecision.id)))


async def get_decision(session: AsyncSession, decision_id: int) -> AuditDecision | None:
    return await session.get(AuditDecision, decision_id)


async def add_decision(session: AsyncSession, decision: AuditDecision) -> AuditDecision:
    session.add(decision)
    await session.flush()
    return decision


MAPPINGS_PER_STATEMENT = 1000


async def map_fields(
    session: AsyncSession, decision: AuditDecision, element_id: str, keys: Sequence[tuple[str, str]]
) -> None:
    """Record ``keys`` as mapped to ``element_id``; a later confirmation of a field wins.

    One upsert (``INSERT ... ON CONFLICT DO UPDATE``) per field: two confirmations of the same
    field at once both succeed, and the one that commits last wins. A delete then an insert let
    the second one hit the primary key (a 500). Keys go in sorted order, so two confirmations
    of overlapping fields lock their rows in the same order and do not deadlock."""
    postgres = session.get_bind().dialect.name == "postgresql"
    now = utcnow()
    rows = [
        {
            "form_slug": form_slug,
            "pointer": pointer,
            "element_id": element_id,
            "decision_id": decision.id,
            "decided_at": now,
        }
        for form_slug, pointer in sorted(set(keys))
    ]
    key = ["form_slug", "pointer"]
    for start in range(0, len(rows), MAPPINGS_PER_STATEMENT):
        chunk = rows[start : start + MAPPINGS_PER_STATEMENT]
        statement: Any
        if postgres:
            pg = postgresql.insert(AuditFieldMapping).values(chunk)
            statement = pg.on_conflict_do_update(index_elements=key, set_=_latest(pg.excluded))
        else:
            lite = sqlite.insert(AuditFieldMapping).values(chunk)
            statement = lite.on_conflict_do_update(index_elements=key, set_=_latest(lite.excluded))
        await session.execute(statement)


def _latest(excluded: Any) -> dict[str, Any]:
    """What a field's newer confirmation replaces in its mapping row."""
    return {
        "element_id": excluded.element_id,
        "decision_id": excluded.decision_id,
        "decided_at": excluded.decided_at,
    }


async def delete_decision(session: AsyncSession, decision: AuditDecision) -> None:
    await session.execute(
        delete(AuditFieldMapping).where(AuditFieldMapping.decision_id == decision.id)
    )
    await session.execute(delete(AuditDecision).where(AuditDecision.id == decision.id))
    await session.flush()


async def mappings(session: AsyncSession, form_slug: str | None) -> list[AuditFieldMapping]:
    query = select(AuditFieldMapping).order_by(
        AuditFieldMapping.form_slug, AuditFieldMapping.pointer
    )
    if form_slug is not None:
        query = query.where(AuditFieldMapping.form_slug == form_slug)
    return list(await session.scalars(query))
