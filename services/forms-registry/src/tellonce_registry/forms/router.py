from __future__ import annotations

import hashlib
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Query, Request, Response

from tellonce_registry.deps import (
    AdminOnly,
    CacheDep,
    LazySessionDep,
    SessionDep,
    SettingsDep,
    after_commit,
)
from tellonce_registry.forms import service
from tellonce_registry.forms.cache import PublishedCache
from tellonce_registry.forms.schemas import (
    FormCreate,
    FormDetail,
    FormOut,
    FormPage,
    FormUpdate,
    MappingsUpdate,
    Priority,
    Topic,
    VersionCreate,
    VersionCreated,
)
from tellonce_registry.paging import Cursor, Limit, after_key, next_cursor
from tellonce_shared.auth import OptionalPrincipalDep, optional_principal
from tellonce_shared.params import Text
from tellonce_shared.problems import NotFound

router = APIRouter(prefix="/api/v1/forms", tags=["catalog"])
JSON = "application/json"


def _limits(settings: SettingsDep) -> service.Limits:
    return service.Limits(settings.max_schema_bytes, settings.max_fields)


def _is_admin(principal: Any) -> bool:
    return principal is not None and principal.role == "admin"


@router.get("")
async def list_forms(
    session: SessionDep,
    principal: OptionalPrincipalDep,
    agency: Annotated[Text | None, Query(max_length=16)] = None,
    q: Annotated[Text | None, Query(max_length=200)] = None,
    priority: Priority | None = None,
    topic: Topic | None = None,
    all: Annotated[
        bool, Query(description="admins: include forms with no published version")
    ] = False,
    include: Annotated[
        Literal["retired"] | None,
        Query(description="retired: also forms whose versions are all retired"),
    ] = None,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> FormPage:
    """The published catalog (admins may add ``?all=true`` to see forms still in draft;
    anyone ``?include=retired`` to add the forms whose every version is retired)."""
    items, keys = await service.page_forms(
        session,
        agency=agency,
        q=q,
        priority=priority,
        topic=topic,
        include_unpublished=all and _is_admin(principal),
        include_retired=include == "retired",
        after=after_key(cursor),
        limit=limit,
    )
    return FormPage(items=items[:limit], next_cursor=next_cursor(keys, limit))


@router.post("", status_code=201, dependencies=[AdminOnly])
async def create_form(body: FormCreate, session: SessionDep) -> FormOut:
    return service.form_out(await service.create_form(session, body), None)


@router.get("/{slug}")
async def get_form(slug: str, session: SessionDep, principal: OptionalPrincipalDep) -> FormDetail:
    return await service.form_detail(session, slug, is_admin=_is_admin(principal))


@router.patch("/{slug}", dependencies=[AdminOnly])
async def update_form(
    slug: str, body: FormUpdate, session: SessionDep, cache: CacheDep
) -> FormDetail:
    await service.update_form(session, slug, body)
    after_commit(session, lambda: cache.drop_form(slug))
    return await service.form_detail(session, slug, is_admin=True)


@router.post("/{slug}/versions", status_code=201, dependencies=[AdminOnly])
async def create_version(
    slug: str, body: VersionCreate, session: SessionDep, settings: SettingsDep
) -> VersionCreated:
    """A new draft version. The schema is checked against its own dialect's metaschema, every
    ``$ref`` must resolve inside it, and it is compared with the last published version."""
    version, prepared = await service.create_version(
        session, slug, body.schema_, body.ui, _limits(settings)
    )
    return VersionCreated(
        form=slug,
        version=version.number,
        status=version.status,
        dialect=version.dialect,
        breaking=version.breaking,
        changes=version.changes,
        warnings=version.warnings,
        suggestions=version.suggestions,
        fields=len(prepared.rows),
    )


async def _cached_read(
    request: Request,
    lazy: LazySessionDep,
    cache: PublishedCache,
    slug: str,
    n: str,
    kind: str,
) -> Response:
    hit = cache.get(slug, n, kind)
    if hit is None:
        epoch = cache.epoch  # a drop while this reads makes the answer unfit to keep
        session = lazy.get()
        form, version = await service.require_version(session, slug, n, include_drafts=True)
        # only a draft looks at the caller: published versions are public, token or not
        if version.status == service.DRAFT and not _is_admin(await optional_principal(request)):
            raise NotFound(f"The form {slug} has no version {n}.")
        if kind == "version":
            doc = service.version_document(form, version)
        else:
            doc = await service.fields_document(session, form, version)
        body = orjson.dumps(doc)
        etag = f'W/"{slug}-{version.number}-{version.status}-{kind}"'
        if kind == "fields":  # audit confirmations change a published version's fields
            etag = etag[:-1] + "-" + hashlib.blake2b(body, digest_size=8).hexdigest() + '"'
        if version.status == service.DRAFT:
            return Response(body, media_type=JSON, headers={"Cache-Control": "no-store"})
        cache.put(slug, n, kind, body, etag, epoch)
        body_etag = (body, etag)
    else:
        body_etag = (hit.body, hit.etag)
    body, etag = body_etag
    headers = {"ETag": etag, "Cache-Control": "public, max-age=30"}
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    return Response(body, media_type=JSON, headers=headers)


@router.get(
    "/{slug}/versions/{n}",
    responses={
        200: {
            "description": "{form, version, status, dialect, schema, ui, breaking,"
            " changes, created_at, published_at, retired_at}"
        }
    },
)
async def get_version(
    slug: str, n: str, request: Request, lazy: LazySessionDep, cache: CacheDep
) -> Response:
    """A version by number, or ``latest`` (the newest published one). Published and retired
    versions are public; drafts need an admin token."""
    return await _cached_read(request, lazy, cache, slug, n, "version")


@router.get(
    "/{slug}/versions/{n}/fields",
    responses={
        200: {
            "description": "{form, version, status, items: [{pointer, name, title,"
            " type, format, required, enum, description, element, element_source,"
            ' sensitivity, sensitivity_source}]}; element_source is "version" (x-element'
            ' or mapped on the draft), "audit" (confirmed in the redundancy audit) or null;'
            ' sensitivity_source is "element" (the element\'s), "inferred" (no element,'
            ' but the field holds a restricted value: sensitivity "restricted") or null'
        }
    },
)
async def get_fields(
    slug: str, n: str, request: Request, lazy: LazySessionDep, cache: CacheDep
) -> Response:
    """The version's flattened fields: one row per question, ``*`` standing for any item of
    an array."""
    return await _cached_read(request, lazy, cache, slug, n, "fields")


@router.put("/{slug}/versions/{n}", dependencies=[AdminOnly])
async def replace_draft(
    slug: str, n: str, body: VersionCreate, session: SessionDep, settings: SettingsDep
) -> VersionCreated:
    """Replace a draft's schema and UI document; a published or retired version is a 409."""
    version, prepared = await service.replace_draft(
        session, slug, n, body.schema_, body.ui, _limits(settings)
    )
    return VersionCreated(
        form=slug,
        version=version.number,
        status=version.status,
        dialect=version.dialect,
        breaking=version.breaking,
        changes=version.changes,
        warnings=version.warnings,
        suggestions=version.suggestions,
        fields=len(prepared.rows),
    )


@router.get("/{slug}/versions/{n}/suggestions", dependencies=[AdminOnly])
async def get_suggestions(slug: str, n: str, session: SessionDep) -> dict[str, Any]:
    """Elements proposed for unmapped fields, to be confirmed with ``.../mappings``."""
    form, version = await service.require_version(session, slug, n, include_drafts=True)
    return {"form": form.slug, "version": version.number, "items": version.suggestions}


@router.post("/{slug}/versions/{n}/mappings", dependencies=[AdminOnly])
async def confirm_mappings(
    slug: str, n: str, body: MappingsUpdate, session: SessionDep
) -> dict[str, Any]:
    """Map draft fields to data elements (``element: null`` removes a mapping)."""
    form, version = await service.confirm_mappings(session, slug, n, body)
    return service.summary(version, form)


@router.post("/{slug}/versions/{n}/publish", dependencies=[AdminOnly])
async def publish_version(
    slug: str, n: str, session: SessionDep, cache: CacheDep
) -> dict[str, Any]:
    form, version = await service.publish(session, slug, n)
    after_commit(session, lambda: cache.drop_form(slug))
    return service.summary(version, form)


@router.post("/{slug}/versions/{n}/retire", dependencies=[AdminOnly])
async def retire_version(slug: str, n: str, session: SessionDep, cache: CacheDep) -> dict[str, Any]:
    form, version = await service.retire(session, slug, n)
    after_commit(session, lambda: cache.drop_form(slug))
    return service.summary(version, form)
