"""The edge's token check: the same TokenVerifier every service uses (JWKS cached, refreshed
on an unknown kid, tokens already verified remembered until their ``exp``, see
``tellonce_shared.auth``); this module only reads the header."""

from __future__ import annotations

from tellonce_shared.problems import Unauthorized


def bearer_token(authorization: bytes) -> str:
    """The token of an ``Authorization: Bearer`` header (401 if the header is malformed)."""
    scheme, _, token = authorization.decode("latin-1").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized("Use an Authorization: Bearer <token> header.")
    return token
