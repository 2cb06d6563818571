"""RFC 9457 problem details: one exception hierarchy and one set of handlers for every
error path, so no client ever sees a stack trace or an HTML error page."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm.exc import StaleDataError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from tellonce_shared.params import NO_NUL, NUL_MESSAGE

PROBLEM_JSON = "application/problem+json"
TYPE_BASE = "https://tellonce.example.gov/problems/"

log = logging.getLogger("tellonce.problems")


class Problem(Exception):
    """An error a client can act on. Subclasses fix the status and the ``type`` URI."""

    status: int = 400
    slug: str = "bad-request"
    title: str = "Bad request"

    def __init__(
        self,
        detail: str | None = None,
        *,
        errors: Sequence[dict[str, str]] | None = None,
        headers: dict[str, str] | None = None,
        status: int | None = None,
        title: str | None = None,
        slug: str | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail or self.title)
        if status is not None:
            self.status = status
        if title is not None:
            self.title = title
        if slug is not None:
            self.slug = slug
        self.detail = detail or self.title
        self.errors = list(errors) if errors else None
        self.headers = headers or {}
        self.extra = extra or {}

    def body(self, instance: str | None = None) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "type": TYPE_BASE + self.slug,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
        }
        if instance:
            doc["instance"] = instance
        if self.errors is not None:
            doc["errors"] = self.errors
        doc.update(self.extra)
        return doc


class BadRequest(Problem):
    status, slug, title = 400, "bad-request", "Bad request"


class MalformedJSON(Problem):
    status, slug, title = 400, "malformed-json", "Malformed JSON"


class Unauthorized(Problem):
    status, slug, title = 401, "unauthorized", "Authentication required"

    def __init__(self, detail: str | None = None, **kw: Any) -> None:
        kw.setdefault("headers", {"WWW-Authenticate": 'Bearer realm="tellonce"'})
        super().__init__(detail, **kw)


class Forbidden(Problem):
    status, slug, title = 403, "forbidden", "Forbidden"


class NotFound(Problem):
    status, slug, title = 404, "not-found", "Not found"


class MethodNotAllowed(Problem):
    status, slug, title = 405, "method-not-allowed", "Method not allowed"


class Conflict(Problem):
    status, slug, title = 409, "conflict", "Conflict"


class Gone(Problem):
    status, slug, title = 410, "gone", "Gone"


class PayloadTooLarge(Problem):
    status, slug, title = 413, "payload-too-large", "Request body too large"


class UnsupportedMediaType(Problem):
    status, slug, title = 415, "unsupported-media-type", "Unsupported media type"


class ValidationFailed(Problem):
    status, slug, title = 422, "validation", "Validation failed"


class TooManyRequests(Problem):
    status, slug, title = 429, "too-many-requests", "Too many requests"

    def __init__(self, detail: str | None = None, *, retry_after: int = 1, **kw: Any) -> None:
        kw.setdefault("headers", {"Retry-After": str(max(1, int(retry_after)))})
        super().__init__(detail, **kw)


class ServiceUnavailable(Problem):
    status, slug, title = 503, "service-unavailable", "Service unavailable"


class GatewayTimeout(Problem):
    status, slug, title = 504, "gateway-timeout", "Gateway timeout"


class InternalError(Problem):
    """The answer to an error nobody expected (the error itself is logged, never sent)."""

    status, slug, title = 500, "internal", "Internal server error"

    def __init__(self) -> None:
        super().__init__("An unexpected error occurred; it has been logged with the request id.")


def problem_response(problem: Problem, instance: str | None = None) -> Response:
    return Response(
        content=orjson.dumps(problem.body(instance)),
        status_code=problem.status,
        media_type=PROBLEM_JSON,
        headers=problem.headers,
    )


def pointer_from_loc(loc: Sequence[int | str]) -> str:
    """Turn a pydantic error location into an RFC 6901 JSON pointer into the body."""
    parts = list(loc)
    if parts and parts[0] in ("body", "query", "path", "header", "cookie"):
        where = parts.pop(0)
        if where != "body":
            return f"/{where}/" + "/".join(_escape(p) for p in parts)
    return "/" + "/".join(_escape(p) for p in parts) if parts else ""


def _escape(part: int | str) -> str:
    return str(part).replace("~", "~0").replace("/", "~1")


async def _on_problem(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Problem)
    return problem_response(exc, request.url.path)


def _message(error: Mapping[str, Any]) -> str:
    """The error's message; for ``params.Text`` what the pattern means, not the pattern."""
    ctx = error.get("ctx")
    if error.get("type") == "string_pattern_mismatch" and (
        isinstance(ctx, Mapping) and ctx.get("pattern") == NO_NUL
    ):
        return NUL_MESSAGE
    return str(error.get("msg", ""))


async def _on_validation(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errs = list(exc.errors())
    if any(e.get("type") == "json_invalid" for e in errs):
        return problem_response(
            MalformedJSON("The request body is not valid JSON."), request.url.path
        )
    errors = [{"pointer": pointer_from_loc(e.get("loc", ())), "message": _message(e)} for e in errs]
    return problem_response(
        ValidationFailed("The request has invalid fields.", errors=errors), request.url.path
    )


async def _on_http(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    status = exc.status_code
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "Error"
    detail = exc.detail if isinstance(exc.detail, str) and exc.detail != phrase else None
    if status == 404:
        detail = detail or f"No resource at {request.url.path}."
    elif status == 405:
        detail = detail or f"{request.method} is not allowed on {request.url.path}."
    problem = Problem(
        detail or phrase,
        status=status,
        title=phrase,
        slug=phrase.lower().replace(" ", "-"),
        headers=dict(exc.headers or {}),
    )
    return problem_response(problem, request.url.path)


async def _on_unexpected(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error", exc_info=exc)
    return problem_response(InternalError(), request.url.path)


def _log_cause(what: str, exc: Exception) -> None:
    """A warning naming the database's error: its class and the first line of its message
    only, never the statement's parameters (which may hold a resident's answers)."""
    cause = getattr(exc, "orig", None) or exc
    log.warning("%s: %s: %s", what, type(cause).__name__, str(cause).split("\n", 1)[0][:200])


async def _on_database_unavailable(request: Request, exc: Exception) -> Response:
    """The database refused a connection, dropped one (SQLAlchemy has already invalidated it
    and the pool replaces it) or every pooled connection stayed busy: nothing was committed,
    so the client may simply retry (a submission with the same Idempotency-Key)."""
    if isinstance(exc, DBAPIError) and not (
        exc.connection_invalidated or isinstance(exc, (OperationalError, InterfaceError))
    ):
        return await _on_unexpected(request, exc)
    _log_cause("database unavailable", exc)
    return problem_response(
        ServiceUnavailable(
            "The database is unavailable for a moment; nothing was saved. Retry shortly.",
            headers={"Retry-After": "1"},
        ),
        request.url.path,
    )


async def _on_refused_value(request: Request, exc: Exception) -> Response:
    """The last line for a value PostgreSQL refuses to store or compare (SQLSTATE class 22:
    a NUL character, a number out of range...), which request validation should have caught
    with a 422 naming the field: a 400 problem rather than a 500, nothing written (the
    transaction is rolled back). Logged without the statement's parameters."""
    _log_cause("value refused by the database", exc)
    return problem_response(
        BadRequest("The request holds a value that cannot be stored."), request.url.path
    )


RACE_SQLSTATES = frozenset({"23505", "23503", "23P01"})
"""Unique, foreign-key and exclusion violations: what two requests at once can cause. A NOT
NULL or CHECK violation (23502, 23514) is a bug, and stays a 500."""
RACE_SQLITE = ("UNIQUE constraint failed", "FOREIGN KEY constraint failed")


def _is_race(exc: Exception) -> bool:
    if isinstance(exc, StaleDataError):
        return True
    cause = getattr(exc, "orig", None)
    state = getattr(cause, "sqlstate", None) or getattr(cause, "pgcode", None)
    if isinstance(state, str):
        return state in RACE_SQLSTATES
    return str(cause).startswith(RACE_SQLITE)


async def _on_concurrent_change(request: Request, exc: Exception) -> Response:
    """The last line for two requests changing the same thing at once, which a service did
    not turn into a problem of its own: a key inserted twice or a row referred to deleted
    meanwhile (an ``IntegrityError`` of ``RACE_SQLSTATES``), a row updated or deleted by
    another request between its read and this one's write (``StaleDataError``). A 409 the
    client can retry after reloading, never a 500; nothing was written (the transaction is
    rolled back). Logged as a warning, without parameters, so that the race can be found and
    given a precise answer. Any other integrity error is a bug: a 500."""
    if not _is_race(exc):
        return await _on_unexpected(request, exc)
    _log_cause("concurrent change refused", exc)
    return problem_response(
        Conflict(
            "Another request changed the same record at the same moment; nothing was saved. "
            "Reload it and try again.",
            headers={"Retry-After": "1"},
        ),
        request.url.path,
    )


def install_problem_handlers(app: FastAPI) -> None:
    app.add_exception_handler(Problem, _on_problem)
    app.add_exception_handler(DataError, _on_refused_value)
    app.add_exception_handler(IntegrityError, _on_concurrent_change)
    app.add_exception_handler(StaleDataError, _on_concurrent_change)
    app.add_exception_handler(DBAPIError, _on_database_unavailable)
    app.add_exception_handler(PoolTimeout, _on_database_unavailable)
    app.add_exception_handler(RequestValidationError, _on_validation)
    app.add_exception_handler(StarletteHTTPException, _on_http)
    app.add_exception_handler(Exception, _on_unexpected)
