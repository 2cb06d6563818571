"""Access-token verification against the identity service's JWKS.

Every service checks every token itself (the gateway's check is only a first line): the
signature with an algorithm allowlist, the ``typ`` (RFC 9068 ``at+jwt``), ``iss``, ``aud`` and
``exp`` with a small leeway. The key set is cached and refreshed when a token names an unknown
``kid`` (a key rotation), at most once per ``min_refresh_seconds``.

A token already verified is remembered (by its exact text) for ``verified_cache_seconds`` or
until its ``exp``, whichever is sooner, so a client's next call costs a dictionary look-up
instead of an ECDSA verification. The memory is bounded and forgotten whenever the key set is
fetched again.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Annotated, Any

import httpx
from fastapi import Depends, Request
from joserfc import jws, jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from tellonce_shared.problems import Forbidden, ServiceUnavailable, Unauthorized

ALLOWED_ALGORITHMS = ("ES256", "EdDSA")
ROLES = ("resident", "agency", "auditor", "admin")


@dataclass(frozen=True)
class Principal:
    """Who is calling, as the verified token says."""

    sub: str
    role: str
    agency: str | None = None
    scope: tuple[str, ...] = ()
    email: str | None = None
    claims: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def has_role(self, *roles: str) -> bool:
        return self.role in roles


class TokenVerifier:
    def __init__(
        self,
        *,
        jwks_url: str | None,
        issuer: str,
        audience: str,
        cache_seconds: int = 300,
        leeway: int = 30,
        min_refresh_seconds: float = 5.0,
        static_keys: dict[str, Any] | None = None,
        client: httpx.AsyncClient | None = None,
        verified_cache_seconds: float = 60.0,
        verified_cache_entries: int = 50_000,
    ) -> None:
        self.jwks_url = jwks_url
        self.verified_cache_seconds = verified_cache_seconds
        self.verified_cache_entries = verified_cache_entries
        self._verified: dict[str, tuple[Principal, float]] = {}
        self.issuer = issuer
        self.audience = audience
        self.cache_seconds = cache_seconds
        self.leeway = leeway
        self.min_refresh_seconds = min_refresh_seconds
        self._keys: KeySet | None = KeySet.import_key_set(static_keys) if static_keys else None  # type: ignore[arg-type]
        self._static = static_keys is not None
        self._fetched_at = 0.0
        self._lock = asyncio.Lock()
        self._client = client

    async def _fetch(self) -> KeySet:
        if self.jwks_url is None:
            raise ServiceUnavailable("No JWKS source is configured.")
        client = self._client or httpx.AsyncClient(timeout=5.0)
        try:
            resp = await client.get(self.jwks_url)
            resp.raise_for_status()
            return KeySet.import_key_set(resp.json())
        except (httpx.HTTPError, ValueError, JoseError) as exc:
            raise ServiceUnavailable("The identity service's keys cannot be read.") from exc
        finally:
            if self._client is None:
                await client.aclose()

    async def keyset(self, *, unknown_kid: str | None = None) -> KeySet:
        now = time.monotonic()
        fresh = self._keys is not None and (
            self._static or now - self._fetched_at < self.cache_seconds
        )
        if fresh and (unknown_kid is None or self._static):
            assert self._keys is not None
            return self._keys
        async with self._lock:
            now = time.monotonic()
            if (
                self._keys is not None
                and not self._static
                and now - self._fetched_at < self.min_refresh_seconds
            ):
                return self._keys
            if self._static:
                assert self._keys is not None
                return self._keys
            self._keys = await self._fetch()
            self._fetched_at = time.monotonic()
            self._verified.clear()
            return self._keys

    async def verify(self, token: str) -> Principal:
        """The token's principal (401 if the token is not valid), from memory when the same
        token was verified recently."""
        remembered = self.remembered(token)
        if remembered is not None:
            return remembered
        now = time.time()
        principal = await self._verify(token)
        if self.verified_cache_seconds > 0:
            until = now + self.verified_cache_seconds
            exp = principal.claims.get("exp")
            if isinstance(exp, int | float):
                until = min(until, float(exp))
            if len(self._verified) >= self.verified_cache_entries:
                self._verified = {k: v for k, v in self._verified.items() if v[1] > now}
                if len(self._verified) >= self.verified_cache_entries:
                    self._verified.clear()
            self._verified[token] = (principal, until)
        return principal

    def remembered(self, token: str) -> Principal | None:
        """The principal of a token verified recently and not expired since (what
        :meth:`verify` answers from memory), without a coroutine; None: verify it."""
        hit = self._verified.get(token)
        if hit is not None and hit[1] > time.time():
            return hit[0]
        return None

    async def _verify(self, token: str) -> Principal:
        try:
            header = jws.extract_compact(token.encode()).headers()
        except (JoseError, ValueError) as exc:
            raise Unauthorized("The access token is malformed.") from exc
        if header.get("alg") not in ALLOWED_ALGORITHMS:
            raise Unauthorized("The access token's algorithm is not allowed.")
        if str(header.get("typ", "")).lower() not in ("at+jwt", "application/at+jwt"):
            raise Unauthorized("The token is not an access token.")
        kid = header.get("kid")
        keys = await self.keyset()
        if not isinstance(kid, str) or not _has_kid(keys, kid):
            keys = await self.keyset(unknown_kid=str(kid))
            if not isinstance(kid, str) or not _has_kid(keys, kid):
                raise Unauthorized("The access token is signed by an unknown key.")
        try:
            decoded = jwt.decode(token, keys, algorithms=list(ALLOWED_ALGORITHMS))
            registry = jwt.JWTClaimsRegistry(
                leeway=self.leeway,
                iss={"essential": True, "value": self.issuer},
                aud={"essential": True, "value": self.audience},
                exp={"essential": True},
                sub={"essential": True},
            )
            registry.validate(decoded.claims)
        except (JoseError, ValueError) as exc:
            raise Unauthorized("The access token is invalid or expired.") from exc
        claims = decoded.claims
        role = claims.get("role")
        if role not in ROLES:
            raise Unauthorized("The access token carries no known role.")
        scope = claims.get("scope") or ""
        return Principal(
            sub=str(claims["sub"]),
            role=str(role),
            agency=claims.get("agency"),
            scope=tuple(str(scope).split()),
            email=claims.get("email"),
            claims=dict(claims),
        )


def _has_kid(keys: KeySet, kid: str) -> bool:
    return any(k.kid == kid for k in keys.keys)


def bearer_token(request: Request) -> str | None:
    value = request.headers.get("authorization")
    if not value:
        return None
    scheme, _, token = value.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("Use an Authorization: Bearer <token> header.")
    return token.strip()


async def optional_principal(request: Request) -> Principal | None:
    token = bearer_token(request)
    if token is None:
        return None
    verifier: TokenVerifier = request.app.state.verifier
    principal = await verifier.verify(token)
    request.state.principal = principal
    return principal


async def current_principal(request: Request) -> Principal:
    """The caller (401 without a valid token). Plain functions calling each other rather
    than a chain of FastAPI dependencies: each dependency level costs every request."""
    principal = await optional_principal(request)
    if principal is None:
        raise Unauthorized("An access token is required.")
    return principal


PrincipalDep = Annotated[Principal, Depends(current_principal)]
OptionalPrincipalDep = Annotated[Principal | None, Depends(optional_principal)]


async def principal_with_role(request: Request, *roles: str) -> Principal:
    """The caller if they hold one of ``roles``: 401 without a valid token, 403 for the other
    roles. For routes that take no dependencies (see ``require_roles``)."""
    principal = await current_principal(request)
    if principal.role not in roles:
        raise Forbidden(f"This needs the role {' or '.join(roles)}.")
    return principal


class RoleCheck:
    """The dependency of ``require_roles`` (a class, so the OpenAPI document can tell the
    routes that need a role: ``openapi.auth_codes``)."""

    def __init__(self, roles: tuple[str, ...]) -> None:
        self.roles = roles

    async def __call__(self, request: Request) -> Principal:
        return await principal_with_role(request, *self.roles)


def require_roles(*roles: str) -> Any:
    """A dependency that lets only the given roles through (403 for the others)."""
    return Depends(RoleCheck(roles))
