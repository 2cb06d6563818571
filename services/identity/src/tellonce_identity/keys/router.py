"""OIDC discovery (RFC 8414 / OpenID Connect Discovery 1.0) and the JWKS."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from tellonce_identity.deps import KeyringDep, SessionDep, SettingsDep
from tellonce_identity.http import json_response
from tellonce_identity.keys.service import ALGORITHM
from tellonce_identity.tokens.service import CLIENT_SCOPES, GRANT_TYPES, USER_SCOPES

router = APIRouter(prefix="/.well-known", tags=["identity"])


def discovery_document(issuer: str) -> dict[str, Any]:
    base = issuer.rstrip("/")
    api = f"{base}/api/v1/identity"
    return {
        "issuer": issuer,
        "token_endpoint": f"{api}/token",
        "jwks_uri": f"{base}/.well-known/jwks.json",
        "revocation_endpoint": f"{api}/revoke",
        "userinfo_endpoint": f"{api}/me",
        "grant_types_supported": list(GRANT_TYPES),
        # No authorization endpoint: there is no browser redirect flow, so the only
        # response type is RFC 8414's "none" placeholder and no ID tokens are issued.
        "response_types_supported": ["none"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": [ALGORITHM],
        "token_endpoint_auth_methods_supported": [
            "client_secret_basic",
            "client_secret_post",
            "none",
        ],
        "revocation_endpoint_auth_methods_supported": [
            "client_secret_basic",
            "client_secret_post",
            "none",
        ],
        "scopes_supported": [*USER_SCOPES, *CLIENT_SCOPES],
        "claims_supported": [
            "iss",
            "sub",
            "aud",
            "exp",
            "iat",
            "jti",
            "client_id",
            "role",
            "agency",
            "scope",
            "email",
            "full_name",
        ],
        "access_token_signing_alg_values_supported": [ALGORITHM],
        "service_documentation": f"{base}/docs",
    }


@router.get("/openid-configuration")
async def openid_configuration(settings: SettingsDep) -> Response:
    return json_response(
        discovery_document(settings.issuer), headers={"Cache-Control": "public, max-age=300"}
    )


JWK_SET = "application/jwk-set+json"
JWK_SET_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "RFC 7517 JWK Set: the public keys (RS256) that sign access tokens.",
    "properties": {
        "keys": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "kty": {"type": "string"},
                    "kid": {"type": "string"},
                    "use": {"type": "string"},
                    "alg": {"type": "string"},
                    "n": {"type": "string"},
                    "e": {"type": "string"},
                },
                "required": ["kty", "kid"],
            },
        }
    },
    "required": ["keys"],
}


@router.get(
    "/jwks.json",
    response_class=Response,  # served as JWK_SET, not application/json
    responses={
        200: {"description": "The JWK Set.", "content": {JWK_SET: {"schema": JWK_SET_SCHEMA}}}
    },
)
async def jwks(session: SessionDep, keyring: KeyringDep) -> Response:
    """Every key a live token may be signed with: the signing key and, after a rotation,
    the previous ones until their tokens have expired."""
    keys = await keyring.jwks(session)
    return json_response(
        keys,
        media_type=JWK_SET,
        headers={"Cache-Control": "public, max-age=60"},
    )
