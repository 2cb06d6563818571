"""Forms and their versions: import (checks, flattening, suggestions), the draft -> published
-> retired lifecycle, breaking-change detection and element mappings."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from tellonce_registry.agencies import repository as agencies
from tellonce_registry.agreements import repository as agreements
from tellonce_registry.elements import repository as elements
from tellonce_registry.elements.compat import ValueKind, mismatch
from tellonce_registry.forms import repository
from tellonce_registry.forms.schemas import (
    FormCreate,
    FormDetail,
    FormOut,
    FormUpdate,
    MappingsUpdate,
    Translation,
    VersionSummary,
)
from tellonce_registry.forms.ui import ui_errors
from tellonce_registry.models import DataElement, Form, FormField, FormVersion, as_utc
from tellonce_registry.schema_import import sensitive
from tellonce_registry.schema_import.check import (
    CheckedSchema,
    SchemaRejected,
    check_schema,
    encoded_size,
)
from tellonce_registry.schema_import.diff import Shared, compare
from tellonce_registry.schema_import.flatten import FlatField, flatten
from tellonce_registry.schema_import.suggest import ElementProfile, suggest
from tellonce_shared.problems import Conflict, NotFound, ValidationFailed

DRAFT, PUBLISHED, RETIRED = "draft", "published", "retired"


@dataclass
class Limits:
    max_schema_bytes: int
    max_fields: int


@dataclass
class Prepared:
    dialect: str
    rows: list[FlatField]
    warnings: list[dict[str, Any]] = field(default_factory=list)
    suggestions: list[dict[str, Any]] = field(default_factory=list)


def now() -> datetime:
    return datetime.now(UTC)


# ---------------------------------------------------------------- forms


def burden_hours(form: Form) -> float | None:
    if form.minutes is None or form.yearly_volume is None:
        return None
    return round(form.minutes * form.yearly_volume / 60, 1)


def form_out(form: Form, latest: int | None) -> FormOut:
    return FormOut(
        slug=form.slug,
        agency=form.agency_code,
        title=form.title,
        description=form.description,
        minutes=form.minutes,
        yearly_volume=form.yearly_volume,
        burden_hours=burden_hours(form),
        priorities=list(form.priorities or []),
        topic=form.topic,
        i18n=dict(form.i18n or {}),
        latest_version=latest,
    )


def _i18n(value: dict[str, Translation] | None) -> dict[str, dict[str, str]] | None:
    if not value:
        return None
    return {locale: t.model_dump(exclude_none=True) for locale, t in value.items()}


async def create_form(session: AsyncSession, data: FormCreate) -> Form:
    if await agencies.get(session, data.agency) is None:
        raise ValidationFailed(
            "The form names an unknown agency.",
            errors=[{"pointer": "/agency", "message": f"No agency {data.agency}."}],
        )
    if await repository.get_form(session, data.slug) is not None:
        raise Conflict(f"The form {data.slug} already exists.")
    form = Form(
        slug=data.slug,
        agency_code=data.agency,
        title=data.title,
        description=data.description,
        minutes=data.minutes,
        yearly_volume=data.yearly_volume,
        priorities=list(dict.fromkeys(data.priorities)),
        topic=data.topic,
        i18n=_i18n(data.i18n),
    )
    session.add(form)
    try:
        await session.flush()
    except IntegrityError as exc:
        raise Conflict(f"The form {data.slug} already exists.") from exc
    return form


async def require_form(session: AsyncSession, slug: str) -> Form:
    form = await repository.get_form(session, slug)
    if form is None:
        raise NotFound(f"No form {slug}.")
    return form


async def update_form(session: AsyncSession, slug: str, data: FormUpdate) -> Form:
    form = await require_form(session, slug)
    changes = data.model_dump(exclude_unset=True)
    for name in ("title", "description", "priorities"):
        if name in changes and changes[name] is None:
            raise ValidationFailed(
                "A field cannot be cleared.",
                errors=[{"pointer": f"/{name}", "message": f"{name} cannot be null."}],
            )
    for name, value in changes.items():
        if name == "priorities":
            value = list(dict.fromkeys(value))
        elif name == "i18n":
            value = _i18n(data.i18n)
        setattr(form, name, value)
    form.updated_at = now()
    await session.flush()
    return form


async def page_forms(
    session: AsyncSession,
    *,
    agency: str | None,
    q: str | None,
    priority: str | None,
    topic: str | None,
    include_unpublished: bool,
    include_retired: bool = False,
    after: str | None,
    limit: int,
) -> tuple[list[FormOut], list[str]]:
    """Forms with a published version; ``include_retired`` adds those whose versions are all
    retired (their past applications still need their agency, priorities and yearly volume);
    ``include_unpublished`` (admins) lists every form, drafts included."""
    statuses: tuple[str, ...] | None = (PUBLISHED, RETIRED) if include_retired else (PUBLISHED,)
    rows = await repository.page_forms(
        session,
        agency=agency,
        q=q,
        priority=priority,
        topic=topic,
        statuses=None if include_unpublished else statuses,
        after=after,
        limit=limit + 1,
    )
    latest = await repository.latest_published_numbers(session, [f.id for f in rows])
    return [form_out(f, latest.get(f.id)) for f in rows], [f.slug for f in rows]


async def form_detail(session: AsyncSession, slug: str, *, is_admin: bool) -> FormDetail:
    form = await require_form(session, slug)
    versions = await repository.versions_of(session, [form.id])
    visible = [v for v in versions if is_admin or v.status != DRAFT]
    if not visible and not is_admin:
        raise NotFound(f"No form {slug}.")
    published = [v.number for v in versions if v.status == PUBLISHED]
    out = form_out(form, max(published) if published else None)
    return FormDetail(
        **out.model_dump(),
        versions=[
            VersionSummary(
                version=v.number,
                status=v.status,
                breaking=v.breaking,
                created_at=as_utc(v.created_at),
                published_at=as_utc(v.published_at),
                retired_at=as_utc(v.retired_at),
            )
            for v in visible
        ],
    )


# ---------------------------------------------------------------- importing a schema


def _element_warnings(
    rows: list[FlatField], known: dict[str, dict[str, Any]]
) -> list[dict[str, Any]]:
    """A declared mapping (``x-element``) whose field cannot hold the element (``elements.compat``,
    the rule a redundancy-audit confirmation is refused by) is a warning on the version."""
    warnings: list[dict[str, Any]] = []
    for row in rows:
        if row.element_id is None:
            continue
        element = ValueKind.of_schema(known[row.element_id])
        reason = mismatch(ValueKind(row.type, row.format, row.pattern), row.element_id, element)
        if reason is not None:
            warnings.append({"pointer": row.element_location or row.pointer, "message": reason})
    return warnings


def _check_and_flatten(
    schema: Any, limits: Limits, base: str
) -> tuple[CheckedSchema, list[FlatField]]:
    try:
        checked = check_schema(schema, max_bytes=limits.max_schema_bytes, base=base + "/schema")
        rows = flatten(schema, max_fields=limits.max_fields, base=base + "/schema")
    except SchemaRejected as exc:
        raise ValidationFailed("The schema cannot be imported.", errors=exc.errors) from exc
    return checked, rows


def _judge(
    rows: list[FlatField], known: dict[str, dict[str, Any]], profiles: list[ElementProfile]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Warnings on declared mappings (``known``: element id -> its schema) and suggestions for
    the other fields (patterns, fuzzy names)."""
    return _element_warnings(rows, known), suggest(rows, profiles)


async def prepare(
    session: AsyncSession, schema: Any, ui: Any, limits: Limits, base: str = ""
) -> Prepared:
    """Check and flatten a schema (and its UI document) as a new version would hold them.
    The pure work (metaschema, flattening, matching against the dictionary) runs in a worker
    thread: bounded as it is, a large import still takes a while, and every other request of
    the process (the public catalog reads) must not wait for it."""
    checked, rows = await asyncio.to_thread(_check_and_flatten, schema, limits, base)
    known = await elements.by_ids(session, {r.element_id for r in rows if r.element_id})
    unknown = [
        {
            "pointer": r.element_location or base + "/schema",
            "message": f"No data element {r.element_id!r} in the dictionary.",
        }
        for r in rows
        if r.element_id and r.element_id not in known
    ]
    if unknown:
        raise ValidationFailed("The schema maps fields to unknown data elements.", errors=unknown)
    if ui is not None:
        try:
            encoded_size(ui, base + "/ui", "UI document")
        except SchemaRejected as exc:
            raise ValidationFailed("The UI document cannot be stored.", errors=exc.errors) from exc
        errors = ui_errors(ui, {r.pointer for r in rows}, base=base + "/ui")
        if errors:
            raise ValidationFailed("The UI document does not fit the schema.", errors=errors)
    dictionary = await elements.all_elements(session)
    profiles = [ElementProfile.of(e.id, e.schema, e.label_en, e.aliases or []) for e in dictionary]
    schemas = {element_id: e.schema for element_id, e in known.items()}
    warnings, suggestions = await asyncio.to_thread(_judge, rows, schemas, profiles)
    return Prepared(
        dialect=checked.dialect,
        rows=rows,
        warnings=[*checked.warnings, *warnings],
        suggestions=suggestions,
    )


def _field_rows(version_id: int, rows: list[FlatField]) -> list[FormField]:
    return [
        FormField(
            version_id=version_id,
            position=i,
            pointer=r.pointer,
            name=r.name[:200],
            title=r.title[:500] if r.title else None,
            type=r.type,
            format=r.format[:50] if r.format else None,
            required=r.required,
            enum=r.enum,
            description=r.description,
            element_id=r.element_id,
        )
        for i, r in enumerate(rows)
    ]


async def _compare_with_published(
    session: AsyncSession, form: Form, rows: list[Any], exclude_version: int | None = None
) -> tuple[bool, list[dict[str, Any]]]:
    previous = await repository.latest_published(session, form.id)
    if previous is None or previous.id == exclude_version:
        return False, []
    old = await repository.fields_of(session, previous.id)
    shared = Shared.of(
        name
        for agreement in await agreements.for_form(session, form.id)
        for name in agreement.fields
    )
    breaking, changes = compare(old, rows, shared)
    for change in changes:
        change["since"] = previous.number
    return breaking, changes


async def _carry_mappings(session: AsyncSession, form: Form, prepared: Prepared) -> None:
    """Propose again the mappings the last published version had for the same pointers: an
    admin confirmed them once, but a new schema may mean something else, so they stay
    suggestions."""
    previous = await repository.latest_published(session, form.id)
    if previous is None:
        return
    mapped = {
        f.pointer: f.element_id
        for f in await repository.fields_of(session, previous.id)
        if f.element_id
    }
    carried = {
        r.pointer: {
            "pointer": r.pointer,
            "element": mapped[r.pointer],
            "score": 100.0,
            "reason": f"mapped in version {previous.number}",
        }
        for r in prepared.rows
        if r.element_id is None and r.pointer in mapped
    }
    if carried:
        rest = [s for s in prepared.suggestions if s["pointer"] not in carried]
        prepared.suggestions = [*carried.values(), *rest]


async def create_version(
    session: AsyncSession, slug: str, schema: Any, ui: Any, limits: Limits
) -> tuple[FormVersion, Prepared]:
    form = await require_form(session, slug)
    prepared = await prepare(session, schema, ui, limits)
    await _carry_mappings(session, form, prepared)
    breaking, changes = await _compare_with_published(session, form, prepared.rows)
    # Two imports into one form at once: the form's row is locked before the next number is
    # read, so they become versions n and n+1 rather than one of them a 409.
    await repository.lock_form(session, form.id)
    version = FormVersion(
        form_id=form.id,
        number=await repository.next_number(session, form.id),
        status=DRAFT,
        dialect=prepared.dialect,
        schema=schema,
        ui=ui,
        breaking=breaking,
        changes=changes,
        warnings=prepared.warnings,
        suggestions=prepared.suggestions,
    )
    session.add(version)
    try:
        await session.flush()
    except IntegrityError as exc:
        raise Conflict("Another version of this form was created at the same moment.") from exc
    session.add_all(_field_rows(version.id, prepared.rows))
    await session.flush()
    return version, prepared


async def require_version(
    session: AsyncSession, slug: str, ref: str, *, include_drafts: bool, for_update: bool = False
) -> tuple[Form, FormVersion]:
    """The version ``ref`` names. ``for_update`` (every change of a version: replace, map,
    publish, retire) locks its row until the commit, waiting for a change already under way:
    the status the caller then checks is the one its own writes will meet."""
    form = await require_form(session, slug)
    if ref == "latest":
        version = await repository.latest_published(session, form.id, for_update=for_update)
        if version is None:
            raise NotFound(f"The form {slug} has no published version.")
        return form, version
    # ASCII digits only: "²".isdigit() is true but int("²") fails
    if not (ref.isascii() and ref.isdigit()) or len(ref) > 9:
        raise ValidationFailed(
            "A version is a number or 'latest'.",
            errors=[{"pointer": "/path/n", "message": f"{ref!r} is not a version number."}],
        )
    found = await repository.get_version(session, form.id, int(ref), for_update=for_update)
    if found is None or (found.status == DRAFT and not include_drafts):
        raise NotFound(f"The form {slug} has no version {ref}.")
    return form, found


def version_document(form: Form, version: FormVersion) -> dict[str, Any]:
    return {
        "form": form.slug,
        "agency": form.agency_code,
        "version": version.number,
        "status": version.status,
        "dialect": version.dialect,
        "schema": version.schema,
        "ui": version.ui,
        "breaking": version.breaking,
        "changes": version.changes,
        "created_at": as_utc(version.created_at),
        "published_at": as_utc(version.published_at),
        "retired_at": as_utc(version.retired_at),
    }


@dataclass(frozen=True)
class FieldView:
    """One row of the fields document: the row, its element and where that comes from, its
    sensitivity and where that comes from, and (inferred ones) why."""

    row: FormField
    element: str | None
    element_source: str | None
    sensitivity: str | None
    sensitivity_source: str | None
    reason: str | None = None


async def field_views(session: AsyncSession, form: Form, version: FormVersion) -> list[FieldView]:
    """The version's field rows. A row with no element of its own (``x-element`` or a mapping
    confirmed on the draft: ``element_source: "version"``) takes the element an auditor mapped
    its (form, pointer) to by confirming a redundancy-audit cluster (``"audit"``): published
    versions never change, so that is how a confirmation reaches prefill.

    A row's sensitivity is its element's (``sensitivity_source: "element"``); a row with no
    element is ``restricted`` when it recognisably holds a restricted value
    (``"inferred"``: ``schema_import/sensitive.py``), else it has none. Worked out at read
    time, so it holds for versions published before the rule existed."""
    rows = await repository.fields_of(session, version.id)
    confirmed: dict[str, str] = {}
    if any(r.element_id is None for r in rows):
        confirmed = await repository.audit_confirmed(session, form.slug)
    mapped: list[tuple[FormField, str | None, str | None]] = [
        (r, r.element_id, "version")
        if r.element_id
        else (r, confirmed.get(r.pointer), "audit" if r.pointer in confirmed else None)
        for r in rows
    ]
    suggestions = version.suggestions or []
    wanted = {e for _, e, _ in mapped if e} | sensitive.suggested_elements(suggestions)
    known = await elements.by_ids(session, wanted)
    if any(source == "audit" for _, _, source in mapped):
        mapped = _fitting_audit_mappings(version, mapped, known)
    suggested = sensitive.suggested_restricted(
        suggestions, {element_id: e.sensitivity for element_id, e in known.items()}
    )
    views: list[FieldView] = []
    for r, element, source in mapped:
        if element is not None and element in known:
            views.append(FieldView(r, element, source, known[element].sensitivity, "element"))
            continue
        reason = None
        if element is None:
            reason = sensitive.inferred(r.pointer, r.name, r.title, r.type, r.enum, suggested)
        if reason is not None:
            views.append(FieldView(r, None, None, sensitive.RESTRICTED, "inferred", reason))
        else:
            views.append(FieldView(r, element, source, None, None))
    return views


async def fields_document(
    session: AsyncSession, form: Form, version: FormVersion
) -> dict[str, Any]:
    """The version's field rows (:func:`field_views`)."""
    views = await field_views(session, form, version)
    return {
        "form": form.slug,
        "version": version.number,
        "status": version.status,
        "items": [
            {
                "pointer": v.row.pointer,
                "name": v.row.name,
                "title": v.row.title,
                "type": v.row.type,
                "format": v.row.format,
                "required": v.row.required,
                "enum": v.row.enum,
                "description": v.row.description,
                "element": v.element,
                "element_source": v.element_source,
                "sensitivity": v.sensitivity,
                "sensitivity_source": v.sensitivity_source,
            }
            for v in views
        ],
    }


def _patterns(version: FormVersion, fields: int) -> dict[str, str]:
    """The version's field patterns by pointer, read from its schema (the field rows do not
    keep them)."""
    try:
        flat = flatten(version.schema, max_fields=fields + 10)
    except SchemaRejected:  # accepted at import: only a changed limit could refuse it now
        flat = []
    return {r.pointer: r.pattern for r in flat if r.pattern}


def _fitting_audit_mappings(
    version: FormVersion,
    mapped: list[tuple[FormField, str | None, str | None]],
    known: dict[str, DataElement],
) -> list[tuple[FormField, str | None, str | None]]:
    """The rows with an audit-confirmed element, kept only where the version's field can hold
    it (``elements.compat``). A confirmation was checked against the versions published when
    it was made; it reaches every version with the same pointer, and a later version may ask
    something else there (a date of birth turned into ``MM/DD/YYYY`` text): such a field
    gets no element, so nothing is prefilled into it or kept from it. The field's pattern is
    read from the version's schema (the field rows do not keep it); published versions'
    documents are cached, so this runs once per version."""
    patterns = _patterns(version, len(mapped))
    out: list[tuple[FormField, str | None, str | None]] = []
    for row, element, source in mapped:
        if source == "audit" and element is not None:
            field = ValueKind(row.type, row.format, patterns.get(row.pointer))
            schema = known[element].schema if element in known else None
            if schema is None or mismatch(field, element, ValueKind.of_schema(schema)):
                out.append((row, None, None))
                continue
        out.append((row, element, source))
    return out


def _immutable(version: FormVersion) -> Conflict:
    return Conflict(
        f"Version {version.number} is {version.status}: a published version never changes."
        " Create a new version instead."
    )


async def replace_draft(
    session: AsyncSession, slug: str, ref: str, schema: Any, ui: Any, limits: Limits
) -> tuple[FormVersion, Prepared]:
    form, version = await require_version(session, slug, ref, include_drafts=True, for_update=True)
    if version.status != DRAFT:
        raise _immutable(version)
    prepared = await prepare(session, schema, ui, limits)
    await _carry_mappings(session, form, prepared)
    version.breaking, version.changes = await _compare_with_published(session, form, prepared.rows)
    version.schema = schema
    version.ui = ui
    version.dialect = prepared.dialect
    version.warnings = prepared.warnings
    version.suggestions = prepared.suggestions
    await repository.replace_fields(session, version.id, _field_rows(version.id, prepared.rows))
    await session.flush()
    return version, prepared


async def publish(session: AsyncSession, slug: str, ref: str) -> tuple[Form, FormVersion]:
    form, version = await require_version(session, slug, ref, include_drafts=True, for_update=True)
    if version.status != DRAFT:  # a publish that waited on another one lands here: a 409
        raise Conflict(f"Version {version.number} is already {version.status}.")
    rows = await repository.fields_of(session, version.id)
    version.breaking, version.changes = await _compare_with_published(session, form, rows)
    version.warnings = [*version.warnings, *await _inferred_warnings(session, form, version)]
    version.status = PUBLISHED
    version.published_at = now()
    await session.flush()
    return form, version


async def _inferred_warnings(
    session: AsyncSession, form: Form, version: FormVersion
) -> list[dict[str, Any]]:
    """A warning for each field with no element that holds a restricted value all the same
    (``sensitivity_source: "inferred"``): it is sealed and masked, but neither prefilled nor
    nameable in an agreement by element. Publishing still succeeds."""
    have = {(w.get("pointer"), w.get("message")) for w in version.warnings}
    found: list[dict[str, Any]] = []
    for view in await field_views(session, form, version):
        if view.sensitivity_source != "inferred":
            continue
        warning = {
            "pointer": view.row.pointer,
            "message": f"Not mapped to a data element but restricted ({view.reason}): its"
            " answers are sealed and masked. Map it to its element so that prefill and"
            " agreements can use it.",
        }
        if (warning["pointer"], warning["message"]) not in have:
            found.append(warning)
    return found


async def retire(session: AsyncSession, slug: str, ref: str) -> tuple[Form, FormVersion]:
    form, version = await require_version(session, slug, ref, include_drafts=True, for_update=True)
    if version.status != PUBLISHED:
        raise Conflict(
            f"Only a published version can be retired; version {version.number}"
            f" is {version.status}."
        )
    version.status = RETIRED
    version.retired_at = now()
    await session.flush()
    return form, version


async def confirm_mappings(
    session: AsyncSession, slug: str, ref: str, data: MappingsUpdate
) -> tuple[Form, FormVersion]:
    form, version = await require_version(session, slug, ref, include_drafts=True, for_update=True)
    if version.status != DRAFT:
        raise _immutable(version)
    rows = {r.pointer: r for r in await repository.fields_of(session, version.id)}
    known = await elements.by_ids(session, {m.element for m in data.mappings if m.element})
    errors: list[dict[str, str]] = []
    for i, mapping in enumerate(data.mappings):
        if mapping.pointer not in rows:
            errors.append(
                {"pointer": f"/mappings/{i}/pointer", "message": f"No field {mapping.pointer!r}."}
            )
        if mapping.element is not None and mapping.element not in known:
            errors.append(
                {
                    "pointer": f"/mappings/{i}/element",
                    "message": f"No data element {mapping.element!r}.",
                }
            )
    if not errors:
        errors = _misfits(version, data, rows, known)
    if errors:
        raise ValidationFailed("Some mappings cannot be applied.", errors=errors)
    for mapping in data.mappings:
        rows[mapping.pointer].element_id = mapping.element
    mapped = {m.pointer for m in data.mappings}
    version.suggestions = [s for s in version.suggestions if s["pointer"] not in mapped]
    await session.flush()
    return form, version


def _misfits(
    version: FormVersion,
    data: MappingsUpdate,
    rows: dict[str, FormField],
    known: dict[str, DataElement],
) -> list[dict[str, str]]:
    """Mappings whose field cannot hold the element (``elements.compat``: the rule a
    redundancy-audit confirmation is refused by). The field's pattern is read from the
    version's schema (the field rows do not keep it)."""
    patterns = _patterns(version, len(rows))
    errors: list[dict[str, str]] = []
    for i, mapping in enumerate(data.mappings):
        if mapping.element is None:
            continue
        row = rows[mapping.pointer]
        field = ValueKind(row.type, row.format, patterns.get(mapping.pointer))
        reason = mismatch(
            field, mapping.element, ValueKind.of_schema(known[mapping.element].schema)
        )
        if reason is not None:
            errors.append({"pointer": f"/mappings/{i}/element", "message": reason})
    return errors


def summary(version: FormVersion, form: Form, fields: int | None = None) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "form": form.slug,
        "version": version.number,
        "status": version.status,
        "dialect": version.dialect,
        "breaking": version.breaking,
        "changes": version.changes,
        "warnings": version.warnings,
        "suggestions": version.suggestions,
        "published_at": as_utc(version.published_at),
        "retired_at": as_utc(version.retired_at),
    }
    if fields is not None:
        doc["fields"] = fields
    return doc
