"""The edge's token check: the same TokenVerifier every service uses (JWKS cached, refreshed
on an unknown kid), plus a short memory of tokens already verified, so a client's tenth call
costs a dictionary look-up instead of an ECDSA verification."""

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


class EdgeAuth:
    def __init__(
        self, verifier: TokenVerifier, cache_seconds: float = 60.0, max_entries: int = 50_000
    ) -> None:
        self.verifier = verifier
        self.cache_seconds = cache_seconds
        self.max_entries = max_entries
        self._verified: dict[str, tuple[Principal, float]] = {}

    async def principal(self, token: str) -> Principal:
        now = time.time()
        hit = self._verified.get(token)
        if hit is not None and hit[1] > now:
            return hit[0]
        principal = await self.verifier.verify(token)
        exp = principal.claims.get("exp")
        until = now + self.cache_seconds
        if isinstance(exp, int | float):
            until = min(until, float(exp))
        if len(self._verified) >= self.max_entries:
            self._verified = {k: v for k, v in self._verified.items() if v[1] > now}
            if len(self._verified) >= self.max_entries:
                self._verified.clear()
        self._verified[token] = (principal, until)
        return principal
