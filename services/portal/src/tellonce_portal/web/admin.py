"""Admins: agencies, forms and their versions (import a schema file, read the breaking-change
report, publish or retire), and data-sharing agreements. Every action is an API call; the
registry decides and explains (its 422 pointers are shown as they come)."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Form, UploadFile
from starlette.responses import Response

from tellonce_portal.api import ApiError, VersionReport
from tellonce_portal.deps import PageContext, PageDep
from tellonce_portal.i18n import Translator
from tellonce_portal.web import limits

router = APIRouter()

MAX_UPLOAD = 900_000


AGENCY_FIELDS = {"code": "code", "name": "name"}
FORM_FIELDS = {
    name: name for name in ("slug", "agency", "title", "description", "minutes", "yearly_volume")
}
AGREEMENT_FIELDS = {
    "agency": "agreement-agency",
    "form": "agreement-form",
    "fields": "fields",
    "purpose": "purpose",
    "legal_basis": "legal_basis",
}
"""The posted name -> the page's field (``f-<field>``) of each form of /admin: the
agreement's selects are not the new form's ones."""


def _problem(
    t: Translator, exc: ApiError, fields: dict[str, str] | None = None
) -> list[tuple[str, str]]:
    """The registry's problem as (where, message) rows (its messages are shown as they come:
    the registry writes them). A pointer naming a field of the posted form (``/slug``) is
    put on that field, so the summary links to it and the field shows the message."""
    rows = []
    for e in exc.errors:
        pointer = str(e.get("pointer") or "")
        where = (fields or {}).get(pointer.removeprefix("/").removeprefix("body/"), pointer)
        rows.append((where, str(e.get("message") or "")))
    return rows or [("", exc.detail or t("registry_refused", status=exc.status))]


@router.get("/admin")
async def admin_home(ctx: PageDep) -> Response:
    ctx.require("admin")
    return await _catalog_page(ctx, [])


async def _catalog_page(
    ctx: PageContext,
    problems: list[tuple[str, str]],
    status: int = 200,
    posted_form: str = "",
    posted: dict[str, str] | None = None,
) -> Response:
    """``posted_form`` (``agency``, ``form`` or ``agreement``) and ``posted``: the form that
    was refused and what was typed in it, shown again with its problems on its fields."""
    gateway = await ctx.api()
    return ctx.render(
        "admin.html",
        status=status,
        agencies=await gateway.agencies(),
        forms=await gateway.all_forms(),
        agreements=await gateway.agreements(),
        problems=problems,
        posted_form=posted_form,
        posted=posted or {},
        limits=limits,
    )


@router.post("/admin/agencies")
async def add_agency(
    ctx: PageDep,
    code: Annotated[str, Form()] = "",
    name: Annotated[str, Form()] = "",
) -> Response:
    ctx.require("admin")
    posted = {"code": code, "name": name}
    problems = limits.too_long(
        ctx.t,
        [
            ("code", "agency_code", code, limits.AGENCY_CODE),
            ("name", "agency_name", name, limits.AGENCY_NAME),
        ],
    )
    if problems:
        return await _catalog_page(ctx, problems, 422, "agency", posted)
    try:
        await (await ctx.api()).add_agency(code.strip().upper(), name.strip())
    except ApiError as exc:
        return await _catalog_page(ctx, _problem(ctx.t, exc, AGENCY_FIELDS), 422, "agency", posted)
    return ctx.redirect("/admin")


@router.post("/admin/forms")
async def add_form(
    ctx: PageDep,
    slug: Annotated[str, Form()] = "",
    agency: Annotated[str, Form()] = "",
    title: Annotated[str, Form()] = "",
    description: Annotated[str, Form()] = "",
    minutes: Annotated[str, Form()] = "",
    yearly_volume: Annotated[str, Form()] = "",
) -> Response:
    ctx.require("admin")
    description = limits.typed(description)
    posted = {
        "slug": slug,
        "agency": agency,
        "title": title,
        "description": description,
        "minutes": minutes,
        "yearly_volume": yearly_volume,
    }
    doc: dict[str, Any] = {
        "slug": slug.strip(),
        "agency": agency.strip(),
        "title": title.strip(),
        "description": description.strip(),
    }
    problems = limits.too_long(
        ctx.t,
        [
            ("slug", "slug", slug, limits.FORM_SLUG),
            ("agency", "agency", agency, limits.AGENCY_CODE),
            ("title", "title", title, limits.FORM_TITLE),
            ("description", "description", description, limits.FORM_DESCRIPTION),
            ("minutes", "minutes_to_complete", minutes, limits.MINUTES),
            ("yearly_volume", "yearly_volume", yearly_volume, limits.YEARLY_VOLUME),
        ],
    )
    for key, raw in (("minutes", minutes), ("yearly_volume", yearly_volume)):
        if raw.strip() and not any(where == key for where, _ in problems):
            if not raw.strip().isdigit():
                problems.append((key, ctx.t("enter_whole_number")))
            else:
                doc[key] = int(raw.strip())
    if problems:
        return await _catalog_page(ctx, problems, 422, "form", posted)
    try:
        await (await ctx.api()).add_form(doc)
    except ApiError as exc:
        return await _catalog_page(ctx, _problem(ctx.t, exc, FORM_FIELDS), 422, "form", posted)
    return ctx.redirect(f"/admin/forms/{doc['slug']}")


@router.post("/admin/agreements")
async def add_agreement(
    ctx: PageDep,
    agency: Annotated[str, Form()] = "",
    form: Annotated[str, Form()] = "",
    fields: Annotated[str, Form()] = "",
    purpose: Annotated[str, Form()] = "",
    legal_basis: Annotated[str, Form()] = "",
) -> Response:
    ctx.require("admin")
    fields, purpose, legal_basis = (limits.typed(v) for v in (fields, purpose, legal_basis))
    posted = {
        "agency": agency,
        "form": form,
        "fields": fields,
        "purpose": purpose,
        "legal_basis": legal_basis,
    }
    problems = limits.too_long(
        ctx.t,
        [
            ("agreement-agency", "receiving_agency", agency, limits.AGENCY_CODE),
            ("agreement-form", "form", form, limits.FORM_SLUG),
            ("fields", "fields", fields, limits.AGREEMENT_FIELDS),
            ("purpose", "purpose", purpose, limits.AGREEMENT_TEXT),
            ("legal_basis", "legal_basis", legal_basis, limits.AGREEMENT_TEXT),
        ],
    )
    if problems:
        return await _catalog_page(ctx, problems, 422, "agreement", posted)
    doc = {
        "agency": agency.strip(),
        "form": form.strip(),
        "fields": [line.strip() for line in fields.splitlines() if line.strip()],
        "purpose": purpose.strip(),
        "legal_basis": legal_basis.strip(),
    }
    try:
        await (await ctx.api()).add_agreement(doc)
    except ApiError as exc:
        return await _catalog_page(
            ctx, _problem(ctx.t, exc, AGREEMENT_FIELDS), 422, "agreement", posted
        )
    return ctx.redirect("/admin")


async def _form_page(
    ctx: PageContext,
    slug: str,
    report: VersionReport | None,
    problems: list[tuple[str, str]],
    status: int = 200,
) -> Response:
    gateway = await ctx.api()
    return ctx.render(
        "admin_form.html",
        status=status,
        form=await gateway.form(slug),
        versions=await gateway.form_versions(slug),
        report=report,
        problems=problems,
    )


@router.get("/admin/forms/{slug}")
async def form_admin(ctx: PageDep, slug: str) -> Response:
    ctx.require("admin")
    return await _form_page(ctx, slug, None, [])


async def _read_json(t: Translator, upload: UploadFile | None, what: str) -> tuple[Any, str | None]:
    """``what`` is "schema" or "ui": the messages are ``{what}_too_large`` and
    ``{what}_not_json``."""
    if upload is None or not upload.filename:
        return None, None
    raw = await upload.read(MAX_UPLOAD + 1)
    if len(raw) > MAX_UPLOAD:
        return None, t(f"{what}_too_large", kb=t.number(MAX_UPLOAD // 1000))
    try:
        return json.loads(raw), None
    except (ValueError, UnicodeDecodeError):
        return None, t(f"{what}_not_json")


@router.post("/admin/forms/{slug}/versions")
async def import_version(
    ctx: PageDep,
    slug: str,
    schema_file: UploadFile | None = None,
    ui_file: UploadFile | None = None,
) -> Response:
    """Import a JSON Schema file (and optionally a UI document) as a new draft version."""
    ctx.require("admin")
    schema, schema_error = await _read_json(ctx.t, schema_file, "schema")
    ui, ui_error = await _read_json(ctx.t, ui_file, "ui")
    problems = [("schema_file", e) for e in (schema_error,) if e]
    problems += [("ui_file", e) for e in (ui_error,) if e]
    if schema is None and not schema_error:
        problems.append(("schema_file", ctx.t("choose_schema_file")))
    if problems:
        return await _form_page(ctx, slug, None, problems, 422)
    try:
        report = await (await ctx.api()).add_version(slug, schema, ui)
    except ApiError as exc:
        return await _form_page(ctx, slug, None, _problem(ctx.t, exc), 422)
    return await _form_page(ctx, slug, report, [], 201)


@router.post("/admin/forms/{slug}/versions/{version}/{action}")
async def lifecycle(ctx: PageDep, slug: str, version: int, action: str) -> Response:
    ctx.require("admin")
    if action not in ("publish", "retire"):
        return await _form_page(ctx, slug, None, [("", ctx.t("unknown_action"))], 404)
    try:
        await (await ctx.api()).lifecycle(slug, version, action)
    except ApiError as exc:
        return await _form_page(ctx, slug, None, _problem(ctx.t, exc), 422)
    return ctx.redirect(f"/admin/forms/{slug}")
