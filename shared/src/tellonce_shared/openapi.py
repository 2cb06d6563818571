"""The error responses of every service's OpenAPI document: RFC 9457 problem details.

Every service answers its errors as ``application/problem+json`` (``problems``), but FastAPI
documents none of them but a 422 it describes as its own ``HTTPValidationError`` in
``application/json``, which no service ever sends. Agencies generate their clients from the
documents, so ``document_problems`` rewrites each operation's error responses once, when the
document is built:

- every error response documented without a body of its own (a route's ``responses={409:
  {}}``) and FastAPI's 422 get the ``Problem`` schema as ``application/problem+json``;
- each operation gets the errors the shared code answers for it: 400 and 422 when it takes
  parameters or a body, 413 with a body, 404 with path parameters, 409 for writes (two
  requests changing one record at once), 401 when it reads the caller's token, 403 when it
  needs a role (``auth.require_roles``), 503 always (the database unavailable for a moment);
- an error documented with a body of its own is left as it is (the OAuth endpoints' RFC 6749
  ``application/json`` errors), and an operation's ``x-problem-omit`` list names codes it
  never answers (the OAuth endpoints answer bad input with 400, never 422).

The ``Problem`` and ``ProblemError`` components are the same in every service, so the
gateway's merged document keeps one of each."""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from http import HTTPStatus
from typing import Any

from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts
from starlette.routing import BaseRoute

from tellonce_shared.auth import RoleCheck, current_principal, optional_principal
from tellonce_shared.problems import PROBLEM_JSON, TYPE_BASE

REF = "#/components/schemas/"
OMIT = "x-problem-omit"
"""An operation's list of error codes it never answers (removed from the document)."""
WRITE_METHODS = frozenset({"post", "put", "patch", "delete"})
FASTAPI_VALIDATION = ("HTTPValidationError", "ValidationError")

PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "description": (
        "RFC 9457 problem details, the body of every error (application/problem+json). "
        "Members other than these may follow, named in the route's description."
    ),
    "type": "object",
    "properties": {
        "type": {
            "type": "string",
            "format": "uri",
            "description": f"What kind of error: a URI under {TYPE_BASE}.",
            "examples": [f"{TYPE_BASE}validation"],
        },
        "title": {"type": "string", "description": "A short summary of the kind of error."},
        "status": {"type": "integer", "description": "The HTTP status code."},
        "detail": {"type": "string", "description": "What went wrong with this request."},
        "instance": {"type": "string", "description": "The path of the request."},
        "errors": {
            "type": "array",
            "description": "On a 422: one entry per refused value.",
            "items": {"$ref": f"{REF}ProblemError"},
        },
    },
    "required": ["type", "title", "status", "detail"],
    "additionalProperties": True,
}
PROBLEM_ERROR_SCHEMA: dict[str, Any] = {
    "title": "ProblemError",
    "description": "One refused value of a request.",
    "type": "object",
    "properties": {
        "pointer": {
            "type": "string",
            "description": (
                "Where: an RFC 6901 JSON pointer into the body (/answers/name), or "
                "/query/<name>, /path/<name>, /header/<name> for a parameter."
            ),
            "examples": ["/name", "/query/form", "/path/rule_id"],
        },
        "message": {"type": "string", "description": "What is wrong with it."},
    },
    "required": ["pointer", "message"],
}

RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds to wait before trying again.",
        "schema": {"type": "integer"},
    }
}
WWW_AUTHENTICATE = {
    "WWW-Authenticate": {
        "description": 'The scheme to use: Bearer realm="tellonce".',
        "schema": {"type": "string"},
    }
}
DESCRIPTIONS: dict[str, str] = {
    "400": "Bad request: malformed JSON, an invalid cursor, or a value that cannot be used.",
    "401": "No valid access token: send Authorization: Bearer <token>.",
    "403": "The caller's role or agency may not do this.",
    "404": "Nothing at this path: an unknown id.",
    "409": (
        "A conflict with the resource's state, or another request changed it at the same "
        "moment (then with Retry-After): reload it and try again."
    ),
    "413": "The request body is larger than the service accepts.",
    "422": "Validation failed: errors names each refused value (pointer) and why (message).",
    "429": "Too many requests: wait for Retry-After seconds.",
    "503": (
        "The service or its database is unavailable for a moment; nothing was saved. "
        "Retry after Retry-After seconds."
    ),
}
HEADERS: dict[str, dict[str, Any]] = {
    "401": WWW_AUTHENTICATE,
    "429": RETRY_AFTER,
    "503": RETRY_AFTER,
}


def problem_response(code: str, description: str | None = None) -> dict[str, Any]:
    """The documented response for an error ``code`` answered as a problem."""
    response: dict[str, Any] = {
        "description": description or DESCRIPTIONS.get(code) or _phrase(code),
        "content": {PROBLEM_JSON: {"schema": {"$ref": f"{REF}Problem"}}},
    }
    if code in HEADERS:
        response["headers"] = dict(HEADERS[code])
    return response


def _phrase(code: str) -> str:
    try:
        return HTTPStatus(int(code)).phrase
    except ValueError:
        return "Error"


def _walk(dependant: Dependant) -> Iterable[Dependant]:
    yield dependant
    for sub in dependant.dependencies:
        yield from _walk(sub)


def auth_codes(dependant: Dependant) -> set[str]:
    """401 when a route's dependencies (``dependant``) read the caller's token, 403 too when
    they need a role. (A route that checks the caller in its body declares them itself.)"""
    codes: set[str] = set()
    for each in _walk(dependant):
        call = each.call
        if isinstance(call, RoleCheck):
            codes.update(("401", "403"))
        elif call is current_principal or call is optional_principal:
            codes.add("401")
    return codes


def _is_error(code: str) -> bool:
    return code.isdigit() and int(code) >= 400


def _undocumented(response: Mapping[str, Any]) -> bool:
    """An error response without a body of its own: no content, content with empty
    schemas (a route's ``responses={409: {}}``), or FastAPI's validation error."""
    content = response.get("content")
    if not content:
        return True
    for media in content.values():
        schema = (media or {}).get("schema") or {}
        ref = schema.get("$ref", "")
        if schema and not ref.endswith(tuple(f"/{name}" for name in FASTAPI_VALIDATION)):
            return False
    return True


def _default_description(code: str, description: object) -> bool:
    return not description or description in (_phrase(code), "Validation Error")


def document_operation(operation: dict[str, Any], path: str, method: str, auth: set[str]) -> None:
    responses: dict[str, Any] = operation.setdefault("responses", {})
    omit = {str(code) for code in operation.pop(OMIT, [])}
    takes_input = bool(operation.get("parameters")) or "requestBody" in operation
    wanted = {"503", *auth}
    if takes_input:
        wanted.update(("400", "422"))
    if "requestBody" in operation:
        wanted.add("413")
    if "{" in path:
        wanted.add("404")
    if method in WRITE_METHODS:
        wanted.add("409")
    for code in wanted - omit:
        responses.setdefault(code, {})
    for code in list(responses):
        if code in omit:
            del responses[code]
            continue
        if not _is_error(code) or not _undocumented(responses[code]):
            continue
        description = responses[code].get("description")
        responses[code] = problem_response(
            code, None if _default_description(code, description) else str(description)
        )
    operation["responses"] = dict(sorted(responses.items()))


def _references(node: Any, target: str) -> bool:
    if isinstance(node, dict):
        return any(
            (key == "$ref" and value == target) or _references(value, target)
            for key, value in node.items()
        )
    if isinstance(node, list):
        return any(_references(item, target) for item in node)
    return False


def document_problems(doc: dict[str, Any], routes: Iterable[BaseRoute]) -> dict[str, Any]:
    """Rewrite ``doc`` (a FastAPI document of ``routes``) in place, and return it."""
    auth: dict[tuple[str, str], set[str]] = {}
    # iter_route_contexts: FastAPI's own walk for its document, through included routers,
    # with their dependencies added to each route's
    for route in iter_route_contexts(list(routes)):
        if isinstance(route.original_route, APIRoute):
            codes = auth_codes(route.dependant)
            for method in route.methods or ():
                auth[(str(route.path_format), method.lower())] = codes
    for path, item in (doc.get("paths") or {}).items():
        for method, operation in item.items():
            if isinstance(operation, dict) and "responses" in operation:
                document_operation(operation, path, method, auth.get((path, method), set()))
    schemas: dict[str, Any] = doc.setdefault("components", {}).setdefault("schemas", {})
    schemas["Problem"] = copy.deepcopy(PROBLEM_SCHEMA)
    schemas["ProblemError"] = copy.deepcopy(PROBLEM_ERROR_SCHEMA)
    for name in FASTAPI_VALIDATION:
        if name in schemas:
            rest = {key: value for key, value in doc.items() if key != "components"}
            others = {key: value for key, value in schemas.items() if key != name}
            if not _references([rest, others], f"{REF}{name}"):
                del schemas[name]
    doc["components"]["schemas"] = dict(sorted(schemas.items()))
    return doc
