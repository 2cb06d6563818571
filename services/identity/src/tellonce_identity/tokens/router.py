"""POST /api/v1/identity/token (RFC 6749) and /revoke (RFC 7009), form-encoded."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Header, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import BaseModel, Field
from sqlalchemy.exc import DataError
from starlette.exceptions import HTTPException

from tellonce_identity.deps import AddressDep, KeyringDep, PasswordsDep, SessionDep, SettingsDep
from tellonce_identity.http import json_response
from tellonce_identity.tokens import service
from tellonce_identity.tokens.errors import NO_STORE, InvalidRequest
from tellonce_identity.tokens.service import TokenContext, TokenForm


def _fields(exc: RequestValidationError) -> str:
    names = sorted({str(e["loc"][-1]) for e in exc.errors() if e.get("loc")})
    return ", ".join(names) or "the body"


class OAuthRoute(APIRoute):
    """RFC 6749 5.2 for every error of these endpoints: a request they cannot read (a body
    that is not a form, a multipart body without a boundary, a field sent as a file) is an
    ``invalid_request`` 400 with the ``error`` member OAuth clients look for, never the
    service's 422 or plain 400 problem. So is a value the database refuses (the last line:
    the service refuses NUL characters itself)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def oauth_handler(request: Request) -> Response:
            try:
                return await handler(request)
            except RequestValidationError as exc:
                raise InvalidRequest(
                    f"Send every parameter as one form-encoded text value: {_fields(exc)}."
                ) from None
            except HTTPException as exc:
                if exc.status_code != 400:
                    raise
                raise InvalidRequest(
                    f"The body is not a readable form ({exc.detail}); send "
                    "application/x-www-form-urlencoded."
                ) from None
            except DataError:
                raise InvalidRequest("The request holds a value that cannot be used.") from None

        return oauth_handler


TOKEN_PARAMETERS = (
    "grant_type",
    "username",
    "password",
    "client_id",
    "client_secret",
    "refresh_token",
    "scope",
)
REVOKE_PARAMETERS = ("token", "token_type_hint", "client_id", "client_secret")


def sent_once(*names: str) -> Any:
    """RFC 6749 3.1 and 3.2: request parameters MUST NOT be included more than once. A
    parameter of the endpoint sent twice (in the form body, in the query string, or once in
    each) is an ``invalid_request`` naming it, not "the last one counts": a proxy or a log
    that reads the first value would otherwise see another request than the one served.
    Parameters the endpoint does not know are ignored, repeated or not (RFC 6749 3.2). Runs
    after FastAPI has read the form (``request.form()`` returns the same parsed form)."""

    async def refuse_repeated(request: Request) -> None:
        counts = Counter(key for key, _ in request.query_params.multi_items())
        counts.update(key for key, _ in (await request.form()).multi_items())
        repeated = [name for name in names if counts[name] > 1]
        if repeated:
            listed = ", ".join(repeated)
            raise InvalidRequest(
                f"Send each parameter once; sent more than once: {listed} (RFC 6749 3.2)."
            )

    return Depends(refuse_repeated)


class OAuthErrorBody(BaseModel):
    """An RFC 6749 (5.2) error, as ``application/json``: the members OAuth clients read
    (``error``, ``error_description``) and the RFC 9457 ones of every other error."""

    error: str = Field(
        description="invalid_request, invalid_client, invalid_grant, unauthorized_client, "
        "unsupported_grant_type or invalid_scope"
    )
    error_description: str
    type: str
    title: str
    status: int
    detail: str
    instance: str | None = None


def oauth_error(description: str) -> dict[str, Any]:
    return {"model": OAuthErrorBody, "description": description}


OAUTH_DOCS: dict[str, Any] = {"x-problem-omit": ["422"]}
"""Bad input is a 400 ``invalid_request`` here (``OAuthRoute``), never a 422."""

router = APIRouter(prefix="/api/v1/identity", tags=["identity"], route_class=OAuthRoute)
FormField = Annotated[str | None, Form()]
AuthorizationHeader = Annotated[str | None, Header(include_in_schema=False)]


@router.post(
    "/token",
    dependencies=[sent_once(*TOKEN_PARAMETERS)],
    responses={
        200: {"description": "access_token, token_type, expires_in, scope, refresh_token?"},
        400: oauth_error("RFC 6749 error: invalid_request, invalid_grant, ..."),
        401: oauth_error("invalid_client (WWW-Authenticate: Basic)"),
        429: {"description": "too many failed sign-ins (Retry-After)"},
    },
    openapi_extra=OAUTH_DOCS,
)
async def token(
    session: SessionDep,
    settings: SettingsDep,
    keyring: KeyringDep,
    passwords: PasswordsDep,
    address: AddressDep,
    grant_type: FormField = None,
    username: FormField = None,
    password: FormField = None,
    client_id: FormField = None,
    client_secret: FormField = None,
    refresh_token: FormField = None,
    scope: FormField = None,
    authorization: AuthorizationHeader = None,
) -> Response:
    """Grants: ``password`` (client_id=portal), ``client_credentials`` (agency systems, secret
    in the body or HTTP Basic) and ``refresh_token`` (rotated on every use)."""
    form = TokenForm(
        grant_type=grant_type,
        username=username,
        password=password,
        client_id=client_id,
        client_secret=client_secret,
        refresh_token=refresh_token,
        scope=scope,
        authorization=authorization,
    )
    ctx = TokenContext(settings=settings, keyring=keyring, passwords=passwords, address=address)
    body: dict[str, Any] = await service.issue(session, form, ctx)
    return json_response(body, headers=NO_STORE)


@router.post(
    "/revoke",
    dependencies=[sent_once(*REVOKE_PARAMETERS)],
    response_class=Response,  # RFC 7009 2.2: 200 with no body
    responses={
        200: {"description": "revoked, or not a known token (no body)"},
        400: oauth_error("RFC 6749 error: invalid_request"),
        401: oauth_error("invalid_client (WWW-Authenticate: Basic)"),
    },
    openapi_extra=OAUTH_DOCS,
)
async def revoke(
    session: SessionDep,
    settings: SettingsDep,
    keyring: KeyringDep,
    passwords: PasswordsDep,
    address: AddressDep,
    token: FormField = None,
    token_type_hint: FormField = None,
    client_id: FormField = None,
    client_secret: FormField = None,
    authorization: AuthorizationHeader = None,
) -> Response:
    """RFC 7009: revoke a refresh token (and its sign-in). Unknown tokens answer 200 too."""
    form = TokenForm(
        token=token,
        token_type_hint=token_type_hint,
        client_id=client_id,
        client_secret=client_secret,
        authorization=authorization,
    )
    ctx = TokenContext(settings=settings, keyring=keyring, passwords=passwords, address=address)
    await service.revoke(session, form, ctx)
    return Response(status_code=200, headers=NO_STORE)
