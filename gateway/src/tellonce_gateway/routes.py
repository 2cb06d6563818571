"""The routing table: which service answers a path, how long it may take, and whether the
edge insists on a token. Prefixes come from docs/architecture.md; URLs from the settings."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from urllib.parse import urlsplit

import aiohttp

from tellonce_gateway.config import Settings

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class TokenPolicy(Enum):
    """What the edge demands before forwarding (the service still decides who may do what)."""

    OPEN = "open"
    """No token needed; a token that is sent is still verified."""
    WRITES = "writes"
    """Reads are public, anything else needs a token (the catalog)."""
    ALWAYS = "always"
    """Every call needs a token (residents' and agencies' data)."""


@dataclass(frozen=True, slots=True)
class Route:
    prefix: str
    upstream: str
    base_url: str
    host_header: bytes
    read_timeout: float
    """Seconds without a byte from the service before the gateway gives up (504)."""
    client_timeout: aiohttp.ClientTimeout
    policy: TokenPolicy
    public_posts: frozenset[str] = frozenset()
    """Paths under an ALWAYS prefix that anyone may POST to (sign-up, token, revoke)."""
    csp_kind: str = "api"
    """Which Content-Security-Policy its answers get (``headers.SecurityHeaders``)."""

    def matches(self, path: str) -> bool:
        p = self.prefix
        return path.startswith(p) and (
            len(path) == len(p) or p.endswith("/") or path[len(p)] == "/"
        )

    def needs_token(self, method: str, path: str) -> bool:
        if self.policy is TokenPolicy.OPEN or method == "OPTIONS":
            return False
        if self.policy is TokenPolicy.WRITES:
            return method not in SAFE_METHODS
        return not (method == "POST" and path.rstrip("/") in self.public_posts)


RECENT_PATHS = 4096
"""Paths whose route is remembered (the table is fixed, so an answer never goes stale)."""

AUTH_ENDPOINTS = frozenset({"/api/v1/identity/token", "/api/v1/identity/residents"})
"""POSTs that get the stricter per-address limit: password guessing and mass sign-up."""

IDENTITY_PUBLIC_POSTS = frozenset(
    {"/api/v1/identity/token", "/api/v1/identity/residents", "/api/v1/identity/revoke"}
)

# (prefix, upstream, policy); the first match wins, so longer prefixes come first.
TABLE: tuple[tuple[str, str, TokenPolicy], ...] = (
    ("/.well-known", "identity", TokenPolicy.OPEN),
    ("/api/v1/identity/me", "identity", TokenPolicy.ALWAYS),
    ("/api/v1/identity/users", "identity", TokenPolicy.ALWAYS),
    ("/api/v1/identity/clients", "identity", TokenPolicy.ALWAYS),
    ("/api/v1/identity", "identity", TokenPolicy.OPEN),
    ("/api/v1/agencies", "registry", TokenPolicy.WRITES),
    ("/api/v1/elements", "registry", TokenPolicy.WRITES),
    ("/api/v1/forms", "registry", TokenPolicy.WRITES),
    ("/api/v1/agreements", "registry", TokenPolicy.WRITES),
    ("/api/v1/audit", "registry", TokenPolicy.ALWAYS),
    ("/api/v1/priorities", "registry", TokenPolicy.WRITES),
    ("/api/v1/referral-rules", "registry", TokenPolicy.WRITES),
    ("/api/v1/submissions", "submissions", TokenPolicy.ALWAYS),
    ("/api/v1/drafts", "submissions", TokenPolicy.ALWAYS),
    ("/api/v1/profile", "submissions", TokenPolicy.ALWAYS),
    ("/api/v1/deliveries", "submissions", TokenPolicy.ALWAYS),
    ("/api/v1/performance", "submissions", TokenPolicy.OPEN),
    ("/api/v1/referrals", "submissions", TokenPolicy.ALWAYS),
    ("/", "portal", TokenPolicy.OPEN),
)

API_UPSTREAMS = ("identity", "registry", "submissions")
"""Services whose OpenAPI documents make up the gateway's /openapi.json."""


def upstream_urls(settings: Settings) -> dict[str, str]:
    return {
        "identity": settings.identity_url.rstrip("/"),
        "registry": settings.registry_url.rstrip("/"),
        "submissions": settings.submissions_url.rstrip("/"),
        "portal": settings.portal_url.rstrip("/"),
    }


def _timeout_for(prefix: str, settings: Settings) -> float:
    seconds = settings.default_timeout
    best = ""
    for candidate, value in settings.route_timeouts.items():
        if prefix.startswith(candidate.rstrip("/")) and len(candidate) > len(best):
            best, seconds = candidate, value
    return seconds


class RouteTable:
    def __init__(self, settings: Settings) -> None:
        urls = upstream_urls(settings)
        self.upstreams = urls
        self.routes: tuple[Route, ...] = tuple(
            Route(
                prefix=prefix,
                upstream=upstream,
                base_url=urls[upstream],
                host_header=(urlsplit(urls[upstream]).netloc or "localhost").encode("latin-1"),
                read_timeout=_timeout_for(prefix, settings),
                client_timeout=aiohttp.ClientTimeout(
                    total=None,
                    sock_connect=settings.connect_timeout,
                    sock_read=_timeout_for(prefix, settings),
                ),
                policy=policy,
                public_posts=IDENTITY_PUBLIC_POSTS if upstream == "identity" else frozenset(),
                csp_kind="portal" if upstream == "portal" else "api",
            )
            for prefix, upstream, policy in TABLE
        )
        self._by_prefix = {route.prefix.rstrip("/"): route for route in self.routes[:-1]}
        self._fallback = self.routes[-1]
        self._recent: dict[str, Route] = {}

    def match(self, path: str) -> Route:
        """Longest prefix made of whole segments (the table's prefixes have at most four),
        by dictionary look-ups instead of a scan; the answers for recent paths kept."""
        route = self._recent.get(path)
        if route is None:
            route = self._match(path)
            if len(self._recent) >= RECENT_PATHS:
                self._recent.clear()  # many distinct paths (ids): start again
            self._recent[path] = route
        return route

    def _match(self, path: str) -> Route:
        end = 0
        for _ in range(5):
            nxt = path.find("/", end + 1)
            if nxt == -1:
                end = len(path)
                break
            end = nxt
        get = self._by_prefix.get
        while end > 0:
            route = get(path[:end])
            if route is not None:
                return route
            end = path.rfind("/", 0, end)
        return self._fallback
