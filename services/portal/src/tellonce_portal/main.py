"""create_app() for the portal: the shared service app (problem handlers, request ids, health,
metrics) plus HTML pages, static files and HTML error pages for browsers."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import cast
from urllib.parse import urlsplit

import httpx
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Match, Mount

from tellonce_portal.api import ApiError, ApiUnavailable, SignInRequired, gateway_client
from tellonce_portal.config import Settings, get_settings
from tellonce_portal.dashboard.router import router as dashboard_router
from tellonce_portal.definitions import DefinitionCache
from tellonce_portal.deps import (
    CSP,
    CsrfRejected,
    RoleForbidden,
    full_path,
    load_session,
    safe_next,
    sign_in_url,
)
from tellonce_portal.i18n import Translator
from tellonce_portal.session import SessionCodec
from tellonce_portal.templating import STATIC_DIR, environment
from tellonce_portal.web import admin, applications, audit, auth, catalog, fill, profile, staff
from tellonce_portal.web.fill import PageMissing
from tellonce_shared.app import create_service_app
from tellonce_shared.auth import TokenVerifier
from tellonce_shared.problems import install_problem_handlers

log = logging.getLogger("tellonce.portal")
Handler = Callable[[Request, Exception], Awaitable[Response]]


def wants_html(request: Request) -> bool:
    """Browsers get HTML error pages; API-style clients keep problem+json."""
    accept = request.headers.get("accept", "")
    return "text/html" in accept or (not accept.strip() and request.method == "GET")


def error_page(
    request: Request, status: int, title_key: str, body_key: str, detail: str = ""
) -> Response:
    session = load_session(request)
    t = Translator(session.lang)
    html = (
        environment()
        .get_template("error.html")
        .render(
            t=t,
            locale=t.locale,
            session=session,
            csrf=session.csrf,
            path=request.url.path,
            full_path=request.url.path,
            flash=None,
            title=t(title_key),
            body=t(body_key),
            detail=detail,
        )
    )
    return HTMLResponse(html, status_code=status, headers={"Content-Security-Policy": CSP})


def _is_page(request: Request, path: str) -> bool:
    """Whether ``GET path`` is one of the app's pages (a route, not a static file)."""
    scope = {**request.scope, "method": "GET", "path": path, "root_path": ""}
    return any(
        not isinstance(route, Mount) and route.matches(scope)[0] is Match.FULL
        for route in request.app.routes
    )


def page_of_post(request: Request) -> str:
    """The page a posted form was on: the ``Referer`` when it names a page of this site
    (Chromium sends it for the same origin under the gateway's ``same-origin`` policy),
    else the posted path when it is a page too (a draft's page posts to itself), else its
    nearest parent that is (``/forms/snap/start`` -> ``/forms/snap``), else home."""
    referer = request.headers.get("referer")
    if referer:
        parts = urlsplit(referer)
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        if safe_next(target, "") and _is_page(request, parts.path):
            return target
    path = request.url.path
    while path not in ("", "/"):
        if _is_page(request, path):
            return path
        path = path.rsplit("/", 1)[0]
    return "/"


def install_html_errors(app: FastAPI) -> None:
    """Registered after the shared problem handlers, so they take precedence; each falls back
    to problem+json for non-HTML clients."""
    shared = FastAPI()
    install_problem_handlers(shared)
    problem_http = cast(Handler, shared.exception_handlers[StarletteHTTPException])
    problem_validation = cast(Handler, shared.exception_handlers[RequestValidationError])
    problem_unexpected = cast(Handler, shared.exception_handlers[Exception])

    async def on_sign_in(request: Request, exc: Exception) -> Response:
        # Back to the page after signing in: a GET's own address with its query; for a
        # form posted when the sign-in had run out (a refused token refresh), the page the
        # form was on. What it posted is lost, and the sign-in page says so.
        session = load_session(request)
        was_signed_in = session.signed_in
        session.sign_out()
        posted = request.method not in ("GET", "HEAD")
        target = page_of_post(request) if posted else full_path(request)
        if was_signed_in:
            t = Translator(session.lang)
            session.warning = t("signed_out_post" if posted else "signed_out_get")
        response = RedirectResponse(sign_in_url(target), status_code=303)
        request.app.state.codec.save(response, session)
        return response

    async def on_forbidden(request: Request, exc: Exception) -> Response:
        return error_page(request, 403, "forbidden", "forbidden_body")

    async def on_csrf(request: Request, exc: Exception) -> Response:
        return error_page(request, 403, "expired", "expired_body")

    async def on_unavailable(request: Request, exc: Exception) -> Response:
        log.warning("gateway unavailable: %s", exc)
        return error_page(request, 503, "server_error", "unavailable")

    async def on_api_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ApiError)
        if exc.status == 404:
            return error_page(request, 404, "not_found", "not_found_body")
        if exc.status == 403:
            return error_page(request, 403, "forbidden", "forbidden_body")
        status = exc.status if 400 <= exc.status < 500 else 400
        return error_page(request, status, "server_error", "server_error_body", exc.detail)

    async def on_page_missing(request: Request, exc: Exception) -> Response:
        return error_page(request, 404, "not_found", "not_found_body")

    async def on_http(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        if wants_html(request) and exc.status_code in (404, 405):
            return error_page(request, exc.status_code, "not_found", "not_found_body")
        return await problem_http(request, exc)

    async def on_validation(request: Request, exc: Exception) -> Response:
        # What a page's own checks did not catch (a hand-made request, a value no input
        # can send): a 400 saying so, not "Page not found". Typed answers are checked in
        # their handlers and shown again with an error (web/limits.py).
        if wants_html(request):
            return error_page(request, 400, "bad_request", "bad_request_body")
        return await problem_validation(request, exc)

    async def on_unexpected(request: Request, exc: Exception) -> Response:
        if wants_html(request):
            log.exception("unhandled error", exc_info=exc)
            return error_page(request, 500, "server_error", "server_error_body")
        return await problem_unexpected(request, exc)

    app.add_exception_handler(SignInRequired, on_sign_in)
    app.add_exception_handler(RoleForbidden, on_forbidden)
    app.add_exception_handler(CsrfRejected, on_csrf)
    app.add_exception_handler(ApiUnavailable, on_unavailable)
    app.add_exception_handler(ApiError, on_api_error)
    app.add_exception_handler(PageMissing, on_page_missing)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(Exception, on_unexpected)


def create_app(
    settings: Settings | None = None,
    verifier: TokenVerifier | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
) -> FastAPI:
    """``transport`` stands in for the gateway in tests (an ``httpx.MockTransport``)."""
    settings = settings or get_settings()
    gateway = gateway_client(settings.gateway_url, settings.gateway_timeout, transport)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        await gateway.aclose()

    app = create_service_app(
        service="portal",
        settings=settings,
        routers=[
            catalog.router,
            auth.router,
            fill.router,
            applications.router,
            profile.router,
            staff.router,
            audit.router,
            admin.router,
            dashboard_router,
        ],
        lifespan=lifespan,
        verifier=verifier,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.codec = SessionCodec(settings)
    app.state.gateway = gateway
    app.state.definitions = DefinitionCache(settings.form_definition_cache_size)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    install_html_errors(app)
    return app
