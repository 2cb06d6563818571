"""Sign up, sign in (OAuth password grant as the public client ``portal``), sign out, and the
language switch."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from typing import Annotated

from fastapi import APIRouter, Form, Query
from starlette.responses import Response

from tellonce_portal.api import ApiError
from tellonce_portal.deps import PageContext, PageDep, safe_next
from tellonce_portal.i18n import LOCALES, Translator

router = APIRouter()

HOME_BY_ROLE = {"agency": "/inbox", "auditor": "/audit", "admin": "/admin"}


async def _establish(ctx: PageContext, email: str, password: str) -> None:
    """Password grant, then who the user is; both kept in the session cookie."""
    gateway = ctx.anonymous()
    tokens = await gateway.password_grant(ctx.settings.client_id, email, password)
    ctx.session.access_token = tokens.access_token
    ctx.session.refresh_token = tokens.refresh_token
    ctx.session.expires_at = time.time() + tokens.expires_in
    me = await (await ctx.api()).me()
    ctx.session.sub = me.sub
    ctx.session.email = me.email or email
    ctx.session.name = me.full_name
    ctx.session.role = me.role
    ctx.session.agency = me.agency
    # A new CSRF token with the new privileges: one known before signing in (a cookie planted
    # by a sibling site, say) is worth nothing afterwards.
    ctx.session.csrf = secrets.token_urlsafe(32)
    ctx.session.dirty = True


@router.get("/sign-in")
async def sign_in_page(ctx: PageDep, next: Annotated[str | None, Query()] = None) -> Response:
    return ctx.render(
        "sign_in.html", next=safe_next(next, ""), errors=[], email="", demo=ctx.settings.is_local
    )


@router.post("/sign-in")
async def sign_in(
    ctx: PageDep,
    email: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "",
) -> Response:
    t = ctx.t
    errors = []
    if not email.strip():
        errors.append(("email", t("enter_email")))
    if not password:
        errors.append(("password", t("enter_password")))
    if not errors:
        try:
            await _establish(ctx, email.strip(), password)
        except ApiError as exc:
            message = t("invalid_credentials")
            if exc.status == 429:
                message = exc.detail or message
            errors.append(("email", message))
    if errors:
        return ctx.render(
            "sign_in.html",
            status=400,
            next=safe_next(next, ""),
            errors=errors,
            email=email,
            demo=ctx.settings.is_local,
        )
    default = HOME_BY_ROLE.get(ctx.session.role or "", "/applications")
    return ctx.redirect(safe_next(next, default))


@router.get("/sign-up")
async def sign_up_page(ctx: PageDep) -> Response:
    return ctx.render("sign_up.html", errors=[], values={})


@router.post("/sign-up")
async def sign_up(
    ctx: PageDep,
    full_name: Annotated[str, Form()] = "",
    email: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
) -> Response:
    t = ctx.t
    errors: list[tuple[str, str]] = []
    if not full_name.strip():
        errors.append(("full_name", t("enter_full_name")))
    if not email.strip():
        errors.append(("email", t("enter_email")))
    if not password:
        errors.append(("password", t("enter_password")))
    if not errors:
        try:
            await ctx.anonymous().sign_up(email.strip(), password, full_name.strip())
        except ApiError as exc:
            errors.extend(_sign_up_errors(ctx.t, exc))
    if not errors:
        for attempt in range(3):
            try:
                await _establish(ctx, email.strip(), password)
                ctx.session.flash = t("account_created")
                return ctx.redirect("/forms")
            except ApiError:
                # A new account may not be readable yet on another identity replica.
                await asyncio.sleep(0.3 * (attempt + 1))
        ctx.session.flash = t("account_created_sign_in")
        ctx.session.dirty = True
        return ctx.redirect("/sign-in")
    values = {"full_name": full_name, "email": email}
    return ctx.render("sign_up.html", status=400, errors=errors, values=values)


def _sign_up_errors(t: Translator, exc: ApiError) -> list[tuple[str, str]]:
    """Identity's problem details, placed on the sign-up fields."""
    if exc.status == 409:
        return [("email", exc.detail or t("account_exists"))]
    out = []
    for error in exc.errors:
        pointer = str(error.get("pointer") or "")
        name = pointer.rsplit("/", 1)[-1] if pointer else "password"
        if name not in ("email", "password", "full_name"):
            name = "password"
        out.append((name, str(error.get("message") or exc.detail)))
    return out or [("password", exc.detail or t("check_details"))]


@router.post("/sign-out")
async def sign_out(ctx: PageDep) -> Response:
    refresh = ctx.session.refresh_token
    if refresh:
        with contextlib.suppress(ApiError):
            await ctx.anonymous().revoke(ctx.settings.client_id, refresh)
    ctx.session.sign_out()
    return ctx.redirect("/")


@router.get("/language")
async def language(
    ctx: PageDep,
    to: Annotated[str, Query(max_length=5)] = "en",
    next: Annotated[str | None, Query()] = None,
) -> Response:
    if to in LOCALES and to != ctx.session.lang:
        ctx.session.lang = to
        ctx.session.dirty = True
    return ctx.redirect(safe_next(next))
