"""RFC 6749 section 5.2 errors of the token and revocation endpoints.

The body carries the RFC 6749 members (``error``, ``error_description``) that OAuth clients
read, and the RFC 9457 members (``type``, ``title``, ``status``, ``detail``) the rest of the
API uses; the media type is ``application/json`` as RFC 6749 requires."""

from __future__ import annotations

import orjson
from fastapi import FastAPI, Request
from starlette.responses import Response

from tellonce_identity.deps import KeepChanges
from tellonce_shared.problems import Problem, TooManyRequests

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


class OAuthError(Problem, KeepChanges):
    def __init__(self, error: str, description: str, *, status: int = 400) -> None:
        headers = dict(NO_STORE)
        if error == "invalid_client":
            status = 401
            headers["WWW-Authenticate"] = 'Basic realm="tellonce", charset="UTF-8"'
        super().__init__(
            description,
            status=status,
            title=error,
            slug=f"oauth/{error.replace('_', '-')}",
            headers=headers,
            extra={"error": error, "error_description": description},
        )
        self.error = error


class InvalidRequest(OAuthError):
    def __init__(self, description: str) -> None:
        super().__init__("invalid_request", description)


class InvalidClient(OAuthError):
    def __init__(self, description: str = "Client authentication failed.") -> None:
        super().__init__("invalid_client", description)


class InvalidGrant(OAuthError):
    def __init__(self, description: str) -> None:
        super().__init__("invalid_grant", description)


class LoginThrottled(TooManyRequests, KeepChanges):
    """Too many failed sign-ins for this account or from this address."""


async def _on_oauth_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, OAuthError)
    return Response(
        content=orjson.dumps(exc.body(request.url.path)),
        status_code=exc.status,
        media_type="application/json",
        headers=exc.headers,
    )


def install(app: FastAPI) -> None:
    app.add_exception_handler(OAuthError, _on_oauth_error)
