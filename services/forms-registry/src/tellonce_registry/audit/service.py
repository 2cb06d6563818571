"""The redundancy audit's decisions: read the published catalog, cluster it (cached until the
catalog changes), shape the report, and record reviewers' confirm / split / reject decisions."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from tellonce_registry.audit import repository
from tellonce_registry.audit.batch import collector_paused
from tellonce_registry.audit.clustering import OWN, Cluster, Decision, cluster_fields
from tellonce_registry.audit.fields import FieldRecord, flatten_schema
from tellonce_registry.audit.models import AuditDecision
from tellonce_registry.audit.report import Assumptions, FormFacts, build_report
from tellonce_registry.audit.schemas import ConfirmOut, DecisionOut, FieldRef, LeftOut
from tellonce_registry.elements.compat import ValueKind, mismatch
from tellonce_shared.auth import Principal
from tellonce_shared.problems import NotFound, ValidationFailed


@dataclass(frozen=True, slots=True)
class Catalog:
    """The clustered catalog for one fingerprint of the database."""

    fingerprint: tuple[Any, ...]
    clusters: list[Cluster]
    forms: dict[str, FormFacts]
    reports: dict[tuple[Any, ...], dict[str, Any]] = field(default_factory=dict)
    """Reports already built from these clusters, by their parameters."""
    renders: dict[tuple[Any, ...], bytes] = field(default_factory=dict)
    """CSV, HTML and PDF renderings already made, by parameters and format."""


class AuditCache:
    """The last clustered catalog, per process, reused until the catalog's fingerprint changes
    (one cheap query per request). Clustering runs in a worker thread so the event loop keeps
    serving while a large catalog is read."""

    def __init__(self) -> None:
        self.catalog: Catalog | None = None
        self.lock = asyncio.Lock()
        self.walked: dict[int, dict[str, FieldRecord]] = {}
        """Each published version's schema walked once (a published version never changes)."""

    async def get(self, session: AsyncSession) -> Catalog:
        current = await repository.fingerprint(session)
        if self.catalog is not None and self.catalog.fingerprint == current:
            return self.catalog
        async with self.lock:
            if self.catalog is not None and self.catalog.fingerprint == current:
                return self.catalog
            self.catalog = await load_catalog(session, current, self.walked)
            return self.catalog


def records_of(
    version: repository.PublishedVersion,
    rows: Sequence[Any],
    walked_cache: dict[int, dict[str, FieldRecord]] | None = None,
) -> list[FieldRecord]:
    """The registry's field rows of a version, with the evidence only the schema holds
    (pattern, lengths, definition name) joined by pointer, plus leaves the rows leave out; the
    schema alone when the version has no rows."""
    cache = {} if walked_cache is None else walked_cache
    walked = cache.get(version.version_id)
    if walked is None:
        if len(cache) > 10_000:
            cache.clear()
        walked = cache[version.version_id] = {
            r.pointer: r
            for r in flatten_schema(
                version.schema, form=version.slug, agency=version.agency, version=version.number
            )
        }
    if not rows:
        return list(walked.values())
    # Rows for objects and arrays that hold other rows are sections, not questions.
    parents = {r.pointer.rsplit("/", 1)[0] for r in rows}
    parents |= {p.removesuffix("/*") for p in parents}
    listed = {r.pointer for r in rows}
    # Leaves the rows leave out (branches such as ``oneOf: [{type: null}, {...}]``) still ask
    # residents for facts: the audit counts them from its own walk.
    out: list[FieldRecord] = [
        record
        for pointer, record in walked.items()
        if pointer not in listed and pointer not in parents and pointer + "/*" not in listed
    ]
    for row in rows:
        if row.pointer in parents:
            continue
        enum = tuple(str(v) for v in row.enum) if isinstance(row.enum, list) else None
        extra = walked.get(row.pointer)
        out.append(
            FieldRecord(
                form=version.slug,
                agency=version.agency,
                version=version.number,
                pointer=row.pointer,
                name=row.name,
                title=row.title,
                description=row.description,
                type=row.type,
                format=row.format or (extra.format if extra else None),
                pattern=extra.pattern if extra else None,
                enum=enum or (extra.enum if extra else None),
                min_length=extra.min_length if extra else None,
                max_length=extra.max_length if extra else None,
                element=row.element_id,
                ref=extra.ref if extra else None,
            )
        )
    return out


async def load_catalog(
    session: AsyncSession,
    fingerprint: tuple[Any, ...],
    walked: dict[int, dict[str, FieldRecord]] | None = None,
) -> Catalog:
    with collector_paused():  # tens of thousands of rows: see batch.py
        versions = await repository.published_versions(session)
        rows = await repository.field_rows(session, [v.version_id for v in versions])
    by_version: dict[int, list[Any]] = {}
    for row in rows:
        by_version.setdefault(row.version_id, []).append(row)
    known = await repository.elements(session)
    stored = await repository.decisions(session)
    mapped = await repository.mappings(session, None)
    decisions = [
        Decision(
            id=d.id,
            kind=d.kind,
            cluster=d.cluster_id,
            fields=tuple((str(f[0]), str(f[1])) for f in d.fields),
            element=d.element_id,
            label=d.label,
        )
        for d in stored
        if d.kind != "confirm"
    ]
    # Confirmations act through the mappings they recorded (the latest per field wins).
    decisions.extend(
        Decision(
            id=0,
            kind="confirm",
            cluster="",
            fields=((m.form_slug, m.pointer),),
            element=m.element_id,
        )
        for m in mapped
    )
    forms: dict[str, FormFacts] = {}
    for v in versions:
        current = forms.get(v.slug)
        if current is None or v.number > current.version:
            forms[v.slug] = FormFacts(
                v.slug, v.agency, v.title, v.minutes, v.yearly_volume, v.number
            )

    def compute() -> list[Cluster]:
        with collector_paused():
            return grouped()

    def grouped() -> list[Cluster]:
        records: list[FieldRecord] = []
        for v in versions:
            records.extend(records_of(v, by_version.get(v.version_id, []), walked))
        return cluster_fields(
            records,
            decisions=decisions,
            element_labels={k: v.label for k, v in known.items()},
            element_aliases={k: v.aliases for k, v in known.items()},
            element_types={k: v.type for k, v in known.items()},
        )

    clusters = await asyncio.to_thread(compute)
    return Catalog(fingerprint, clusters, forms)


async def report(
    session: AsyncSession,
    cache: AuditCache,
    *,
    agency: str | None,
    form: str | None,
    min_forms: int,
    pairs_limit: int,
    assumptions: Assumptions,
) -> dict[str, Any]:
    catalog = await cache.get(session)
    key = (agency, form, min_forms, pairs_limit, assumptions)
    cached = catalog.reports.get(key)
    if cached is not None:
        return cached
    if agency is not None and not await repository.agency_exists(session, agency):
        raise NotFound(f"No agency {agency!r}.")
    doc = await asyncio.to_thread(
        _shape, catalog, agency, form, min_forms, pairs_limit, assumptions
    )
    if len(catalog.reports) >= 64:
        catalog.reports.clear()
    catalog.reports[key] = doc
    return doc


async def rendered(
    session: AsyncSession,
    cache: AuditCache,
    render: Callable[[dict[str, Any]], bytes],
    variant: tuple[Any, ...],
    **params: Any,
) -> bytes:
    """A rendering of the report (CSV, HTML, PDF), made in a worker thread and kept until the
    catalog changes: a PDF takes WeasyPrint a second or more."""
    doc = await report(session, cache, **params)
    catalog = await cache.get(session)
    key = (*variant, *sorted(params.items()))
    body = catalog.renders.get(key)
    if body is None:
        body = await asyncio.to_thread(render, doc)
        if len(catalog.renders) >= 32:
            catalog.renders.clear()
        catalog.renders[key] = body
    return body


def _shape(
    catalog: Catalog,
    agency: str | None,
    form: str | None,
    min_forms: int,
    pairs_limit: int,
    assumptions: Assumptions,
) -> dict[str, Any]:
    with collector_paused():
        return _shape_report(catalog, agency, form, min_forms, pairs_limit, assumptions)


def _shape_report(
    catalog: Catalog,
    agency: str | None,
    form: str | None,
    min_forms: int,
    pairs_limit: int,
    assumptions: Assumptions,
) -> dict[str, Any]:
    selected: set[str] | None = None
    if form is not None:
        if form not in catalog.forms:
            raise NotFound(f"No published form {form!r}.")
        selected = {form}
    if agency is not None:
        of_agency = {slug for slug, facts in catalog.forms.items() if facts.agency == agency}
        selected = of_agency if selected is None else selected & of_agency
    # The whole catalog goes in: a filter selects forms, it does not shrink what a pair's
    # Jaccard or a form's field count is measured on (see build_report).
    doc = build_report(
        catalog.clusters,
        catalog.forms,
        assumptions=assumptions,
        pairs_limit=pairs_limit,
        min_forms=min_forms,
        selected=selected,
    )
    doc["filters"] = {"agency": agency, "form": form, "min_forms": min_forms}
    return doc


def _keys(fields: Sequence[FieldRef]) -> list[tuple[str, str]]:
    return list(dict.fromkeys((f.form, f.pointer) for f in fields))


async def _cluster(session: AsyncSession, cache: AuditCache, cluster_id: str) -> Cluster:
    catalog = await cache.get(session)
    for cluster in catalog.clusters:
        if cluster.id == cluster_id:
            return cluster
    raise NotFound(f"No cluster {cluster_id!r} in the current audit.")


def _members(cluster: Cluster, fields: Sequence[FieldRef] | None) -> list[tuple[str, str]]:
    members = [m.record.key for m in cluster.members]
    if fields is None:
        return members
    known = set(members)
    errors = [
        {
            "pointer": f"/fields/{i}",
            "message": f"{f.form} {f.pointer} is not a field of cluster {cluster.id}.",
        }
        for i, f in enumerate(fields)
        if (f.form, f.pointer) not in known
    ]
    if errors:
        raise ValidationFailed("Some fields are not in this cluster.", errors=errors)
    return _keys(fields)


MAX_NAMED = 5
"""Incompatible fields the ``detail`` of a refused confirmation names (``errors`` has them all)."""


async def _check_kinds(
    session: AsyncSession,
    cache: AuditCache,
    cluster: Cluster,
    keys: Sequence[tuple[str, str]],
    fields: Sequence[FieldRef] | None,
    element: str,
    schema: dict[str, Any],
) -> None:
    """Refuse the whole confirmation (422, nothing written) unless every field it maps can hold
    the element (``elements.compat``, the rule for a version's declared mappings too). A mapping
    reaches every version of the form, so each published version that has the field is checked,
    not only the newest one the cluster shows."""
    wanted = set(keys)
    versions = await repository.published_versions(session, {form for form, _ in keys})
    rows = await repository.field_rows(session, [v.version_id for v in versions])
    by_version: dict[int, list[Any]] = {}
    for row in rows:
        by_version.setdefault(row.version_id, []).append(row)
    found: dict[tuple[str, int, str], FieldRecord] = {}
    for version in versions:
        for record in records_of(version, by_version.get(version.version_id, []), cache.walked):
            if record.key in wanted:
                found[(record.form, record.version, record.pointer)] = record
    for member in cluster.members:  # the cluster's view, should the catalog have moved on
        record = member.record
        if record.key in wanted:
            found.setdefault((record.form, record.version, record.pointer), record)
    kind = ValueKind.of_schema(schema)
    where: dict[tuple[str, str], str] = {}  # where the request names each field
    for i, ref in enumerate(fields or ()):
        where.setdefault((ref.form, ref.pointer), f"/fields/{i}")
    order = {key: i for i, key in enumerate(keys)}
    bad: list[tuple[FieldRecord, ValueKind, str]] = []
    for record in sorted(found.values(), key=lambda r: (order[r.key], r.version)):
        own = ValueKind(record.type, record.format, record.pattern)
        reason = mismatch(own, element, kind)
        if reason is not None:
            bad.append((record, own, reason))
    if not bad:
        return
    errors = [
        {
            "pointer": where.get(r.key, "/element"),
            "message": f"{r.form} version {r.version} {r.pointer}: {reason}",
            "form": r.form,
            "version": str(r.version),
            "field": r.pointer,
            "field_type": str(own),
            "element": element,
            "element_type": str(kind),
        }
        for r, own, reason in bad
    ]
    named = "; ".join(
        f"{r.form} v{r.version} {r.pointer} is {own}" for r, own, _ in bad[:MAX_NAMED]
    )
    more = f"; and {len(bad) - MAX_NAMED} more" if len(bad) > MAX_NAMED else ""
    raise ValidationFailed(
        f"Nothing was confirmed: {len(bad)} field(s) cannot hold {element} ({kind}):"
        f" {named}{more}. Split or reject them first, or name only the fields that fit.",
        errors=errors,
    )


def _own_fields(cluster: Cluster, element: str) -> tuple[list[tuple[str, str]], list[LeftOut]]:
    """The cluster's fields a confirmation that names none maps (the filer's own, ``OWN``),
    and the others, each with why it is left out."""
    keys: list[tuple[str, str]] = []
    left_out: list[LeftOut] = []
    for member in cluster.members:
        record = member.record
        if member.whose in OWN:
            keys.append(record.key)
            continue
        left_out.append(
            LeftOut(
                form=record.form,
                pointer=record.pointer,
                whose=member.whose,
                reason=f"whose: {member.whose}, not the filer's own: prefill would fill it"
                f" with the resident's own {element}. Name the field to map it anyway.",
            )
        )
    return list(dict.fromkeys(keys)), left_out


async def _record(
    session: AsyncSession,
    principal: Principal,
    kind: str,
    cluster_id: str,
    keys: Sequence[tuple[str, str]],
    *,
    element: str | None = None,
    label: str | None = None,
    note: str | None = None,
) -> AuditDecision:
    return await repository.add_decision(
        session,
        AuditDecision(
            kind=kind,
            cluster_id=cluster_id,
            element_id=element,
            label=label,
            fields=[list(k) for k in keys],
            note=note,
            decided_by=principal.email or principal.sub,
        ),
    )


async def confirm(
    session: AsyncSession,
    cache: AuditCache,
    principal: Principal,
    *,
    cluster_id: str,
    element: str,
    fields: Sequence[FieldRef] | None,
    note: str | None = None,
) -> ConfirmOut:
    """Map the named fields, or, when none are named, the cluster's fields that are the
    filer's own (docs/audit.md: prefill fills a fact only from the same person's answers), to
    ``element``. The answer lists the fields mapped and those left out, with why."""
    cluster = await _cluster(session, cache, cluster_id)
    left_out: list[LeftOut] = []
    if fields is None:
        keys, left_out = _own_fields(cluster, element)
    else:
        keys = _members(cluster, fields)
    schema = await repository.element_schema(session, element)
    if schema is None:
        raise ValidationFailed(
            "No such data element.",
            errors=[{"pointer": "/element", "message": f"No data element {element!r}."}],
        )
    if not keys:
        whose = sorted({item.whose for item in left_out})
        raise ValidationFailed(
            f"Nothing was confirmed: none of the cluster's {len(left_out)} field(s) is the"
            f" filer's own (whose: {', '.join(whose)}). Name the fields to map them.",
            errors=[
                {"pointer": "/fields", "message": f"{item.form} {item.pointer}: {item.reason}"}
                for item in left_out
            ],
        )
    await _check_kinds(session, cache, cluster, keys, fields, element, schema)
    decision = await _record(
        session, principal, "confirm", cluster_id, keys, element=element, note=note
    )
    await repository.map_fields(session, decision, element, keys)
    return ConfirmOut(**DecisionOut.of(decision).model_dump(), left_out=left_out)


async def decide(
    session: AsyncSession,
    cache: AuditCache,
    principal: Principal,
    *,
    kind: str,
    cluster_id: str,
    fields: Sequence[FieldRef],
    label: str | None = None,
    note: str | None = None,
) -> DecisionOut:
    """A split or a reject of some of the cluster's fields."""
    cluster = await _cluster(session, cache, cluster_id)
    keys = _members(cluster, fields)
    if len(keys) == len(cluster.members):
        raise ValidationFailed(
            f"A {kind} names some of the cluster's fields, not all of them.",
            errors=[{"pointer": "/fields", "message": "Leave at least one field in the cluster."}],
        )
    decision = await _record(session, principal, kind, cluster_id, keys, label=label, note=note)
    return DecisionOut.of(decision)


async def list_decisions(session: AsyncSession) -> list[DecisionOut]:
    return [DecisionOut.of(d) for d in await repository.decisions(session)]


async def undo(session: AsyncSession, decision_id: int) -> set[str]:
    """Delete the decision; the forms whose confirmed mappings went with it."""
    decision = await repository.get_decision(session, decision_id)
    if decision is None:
        raise NotFound(f"No decision {decision_id}.")
    forms = {str(f[0]) for f in decision.fields} if decision.kind == "confirm" else set()
    await repository.delete_decision(session, decision)
    return forms


async def confirmed_mappings(session: AsyncSession, form: str | None) -> list[dict[str, str]]:
    return [
        {"form": m.form_slug, "pointer": m.pointer, "element": m.element_id}
        for m in await repository.mappings(session, form)
    ]
