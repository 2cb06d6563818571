from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import String, cast, delete, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from tellonce_registry.audit.models import AuditFieldMapping
from tellonce_registry.models import Form, FormField, FormVersion
from tellonce_registry.paging import NUL

PUBLISHED = "published"


async def get_form(session: AsyncSession, slug: str) -> Form | None:
    if NUL in slug:  # no slug holds one (nor can PostgreSQL compare it): no such form
        return None
    return await session.scalar(select(Form).where(Form.slug == slug))


async def page_forms(
    session: AsyncSession,
    *,
    agency: str | None,
    q: str | None,
    priority: str | None,
    topic: str | None,
    statuses: Sequence[str] | None,
    after: str | None,
    limit: int,
) -> list[Form]:
    """A page of forms by slug; ``statuses``: only forms with a version in one of these
    statuses (None: every form, drafts included)."""
    query = select(Form).order_by(Form.slug).limit(limit)
    if agency:
        query = query.where(Form.agency_code == agency)
    if topic:
        query = query.where(Form.topic == topic)
    if q:
        escaped = q.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        like = f"%{escaped}%"
        query = query.where(
            or_(
                func.lower(Form.title).like(like, escape="\\"),
                func.lower(Form.description).like(like, escape="\\"),
                Form.slug.like(like, escape="\\"),
            )
        )
    if statuses is not None:
        query = query.where(
            exists().where(FormVersion.form_id == Form.id, FormVersion.status.in_(statuses))
        )
    if priority:
        # A JSON list of ``Priority`` names (letters and hyphens): the quoted name appears in
        # its text exactly when it is in the list, on PostgreSQL (``json`` keeps the text) and
        # SQLite alike. Filtered in SQL, before the LIMIT, so a page is never short of rows.
        query = query.where(cast(Form.priorities, String).like(f'%"{priority}"%'))
    if after is not None:
        query = query.where(Form.slug > after)
    return list((await session.scalars(query)).all())


async def versions_of(session: AsyncSession, form_ids: Sequence[int]) -> list[FormVersion]:
    if not form_ids:
        return []
    query = (
        select(FormVersion)
        .where(FormVersion.form_id.in_(form_ids))
        .order_by(FormVersion.form_id, FormVersion.number)
    )
    return list((await session.scalars(query)).all())


async def latest_published_numbers(
    session: AsyncSession, form_ids: Sequence[int]
) -> dict[int, int]:
    if not form_ids:
        return {}
    query = (
        select(FormVersion.form_id, func.max(FormVersion.number))
        .where(FormVersion.form_id.in_(form_ids), FormVersion.status == PUBLISHED)
        .group_by(FormVersion.form_id)
    )
    return {form_id: number for form_id, number in (await session.execute(query)).all()}


async def get_version(
    session: AsyncSession, form_id: int, number: int, *, for_update: bool = False
) -> FormVersion | None:
    """``for_update``: the row locked until the transaction ends (``SELECT ... FOR UPDATE``
    on PostgreSQL; SQLite has one writer anyway) and read again as it is once the lock is
    held, so a status checked after this stays true until the commit."""
    query = select(FormVersion).where(FormVersion.form_id == form_id, FormVersion.number == number)
    if for_update:
        query = query.with_for_update().execution_options(populate_existing=True)
    return await session.scalar(query)


async def latest_published(
    session: AsyncSession, form_id: int, *, for_update: bool = False
) -> FormVersion | None:
    query = (
        select(FormVersion)
        .where(FormVersion.form_id == form_id, FormVersion.status == PUBLISHED)
        .order_by(FormVersion.number.desc())
        .limit(1)
    )
    if for_update:
        query = query.with_for_update().execution_options(populate_existing=True)
    return await session.scalar(query)


async def newest_version(session: AsyncSession, form_id: int) -> FormVersion | None:
    return await session.scalar(
        select(FormVersion)
        .where(FormVersion.form_id == form_id)
        .order_by(FormVersion.number.desc())
        .limit(1)
    )


async def next_number(session: AsyncSession, form_id: int) -> int:
    current = await session.scalar(
        select(func.max(FormVersion.number)).where(FormVersion.form_id == form_id)
    )
    return int(current or 0) + 1


async def fields_of(session: AsyncSession, version_id: int) -> list[FormField]:
    query = select(FormField).where(FormField.version_id == version_id).order_by(FormField.position)
    return list((await session.scalars(query)).all())


async def audit_confirmed(session: AsyncSession, slug: str) -> dict[str, str]:
    """Pointer -> element id of the form's fields mapped by confirming an audit cluster."""
    query = select(AuditFieldMapping.pointer, AuditFieldMapping.element_id).where(
        AuditFieldMapping.form_slug == slug
    )
    return {pointer: element for pointer, element in (await session.execute(query)).all()}


async def replace_fields(session: AsyncSession, version_id: int, rows: Iterable[FormField]) -> None:
    await session.execute(delete(FormField).where(FormField.version_id == version_id))
    session.add_all(list(rows))


async def lock_form(session: AsyncSession, form_id: int) -> None:
    """Hold the form's row until the transaction ends (PostgreSQL; SQLite writes one at a
    time anyway)."""
    await session.execute(select(Form.id).where(Form.id == form_id).with_for_update())


async def get_form_by_id(session: AsyncSession, form_id: int) -> Form:
    form = await session.get(Form, form_id)
    assert form is not None  # guarded by a foreign key
    return form
