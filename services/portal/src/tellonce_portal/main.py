"""create_app() for the portal: the shared service app (problem handlers, request ids, health,
metrics) plus HTML pages, static files and HTML error pages for browsers."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import cast

import httpx
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import HTMLResponse, RedirectResponse, Response

from tellonce_portal.api import ApiError, ApiUnavailable, SignInRequired, gateway_client
from tellonce_portal.config import Settings, get_settings
from tellonce_portal.dashboard.router import router as dashboard_router
from tellonce_portal.definitions import DefinitionCache
from tellonce_portal.deps import CSP, CsrfRejected, RoleForbidden, load_session
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


def install_html_errors(app: FastAPI) -> None:
    """Registered after the shared problem handlers, so they take precedence; each falls back
    to problem+json for non-HTML clients."""
    shared = FastAPI()
    install_problem_handlers(shared)
    problem_http = cast(Handler, shared.exception_handlers[StarletteHTTPException])
    problem_validation = cast(Handler, shared.exception_handlers[RequestValidationError])
    problem_unexpected = cast(Handler, shared.exception_handlers[Exception])

    async def on_sign_in(request: Request, exc: Exception) -> Response:
        session = load_session(request)
        session.sign_out()
        target = request.url.path if request.method == "GET" else "/"
        response = RedirectResponse(f"/sign-in?next={target}", status_code=303)
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
