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

router = APIRouter()

MAX_UPLOAD = 900_000


def _problem(t: Translator, exc: ApiError) -> list[tuple[str, str]]:
    """The registry's problem as (where, message) rows (its messages are shown as they come:
    the registry writes them)."""
    rows = [(str(e.get("pointer") or ""), str(e.get("message") or "")) for e in exc.errors]
    return rows or [("", exc.detail or t("registry_refused", status=exc.status))]


@router.get("/admin")
async def admin_home(ctx: PageDep) -> Response:
    ctx.require("admin")
    return await _catalog_page(ctx, [])


async def _catalog_page(
    ctx: PageContext, problems: list[tuple[str, str]], status: int = 200
) -> Response:
    gateway = await ctx.api()
    return ctx.render(
        "admin.html",
        status=status,
        agencies=await gateway.agencies(),
        forms=await gateway.all_forms(),
        agreements=await gateway.agreements(),
        problems=problems,
    )


@router.post("/admin/agencies")
async def add_agency(
    ctx: PageDep,
    code: Annotated[str, Form(max_length=16)] = "",
    name: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    ctx.require("admin")
    try:
        await (await ctx.api()).add_agency(code.strip().upper(), name.strip())
    except ApiError as exc:
        return await _catalog_page(ctx, _problem(ctx.t, exc), 422)
    return ctx.redirect("/admin")


@router.post("/admin/forms")
async def add_form(
    ctx: PageDep,
    slug: Annotated[str, Form(max_length=100)] = "",
    agency: Annotated[str, Form(max_length=16)] = "",
    title: Annotated[str, Form(max_length=300)] = "",
    description: Annotated[str, Form(max_length=5000)] = "",
    minutes: Annotated[str, Form(max_length=10)] = "",
    yearly_volume: Annotated[str, Form(max_length=12)] = "",
) -> Response:
    ctx.require("admin")
    doc: dict[str, Any] = {
        "slug": slug.strip(),
        "agency": agency.strip(),
        "title": title.strip(),
        "description": description.strip(),
    }
    for key, raw in (("minutes", minutes), ("yearly_volume", yearly_volume)):
        if raw.strip():
            if not raw.strip().isdigit():
                return await _catalog_page(ctx, [(key, ctx.t("enter_whole_number"))], 422)
            doc[key] = int(raw.strip())
    try:
        await (await ctx.api()).add_form(doc)
    except ApiError as exc:
        return await _catalog_page(ctx, _problem(ctx.t, exc), 422)
    return ctx.redirect(f"/admin/forms/{doc['slug']}")


@router.post("/admin/agreements")
async def add_agreement(
    ctx: PageDep,
    agency: Annotated[str, Form(max_length=16)] = "",
    form: Annotated[str, Form(max_length=100)] = "",
    fields: Annotated[str, Form(max_length=20000)] = "",
    purpose: Annotated[str, Form(max_length=2000)] = "",
    legal_basis: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    ctx.require("admin")
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
        return await _catalog_page(ctx, _problem(ctx.t, exc), 422)
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
