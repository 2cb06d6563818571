"""The edge's token check: the same TokenVerifier every service uses (JWKS cached, refreshed
on an unknown kid, tokens already verified remembered until their ``exp``, see
``tellonce_shared.auth``); this module reads the header, and looks a token up in the
verifier's memory without a coroutine (the gateway's fast path)."""

from __future__ import annotations

import time

from tellonce_shared.auth import Principal, TokenVerifier
from tellonce_shared.problems import Unauthorized


def bearer_token(authorization: bytes) -> str:
    """The token of an ``Authorization: Bearer`` header (401 if the header is malformed)."""
    scheme, _, token = authorization.decode("latin-1").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized("Use an Authorization: Bearer <token> header.")
    return token


def remembered(verifier: TokenVerifier, token: str) -> Principal | None:
    """The token's principal if the verifier has it in memory and it has not expired: what
    ``await verifier.verify(token)`` returns without verifying anything (None otherwise:
    verify it)."""
    hit = verifier._verified.get(token)
    if hit is not None and hit[1] > time.time():
        return hit[0]
    return None
