"""Settings of the gateway (env prefix GATEWAY_): where each service answers, and the edge
limits. Upstream URLs are settings so Kubernetes service names can replace local ports."""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from tellonce_shared.settings import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="GATEWAY_", extra="ignore")

    database_url: str = ""
    """Unused: the gateway keeps no database (empty so production mode does not refuse it)."""
    port: int = 8000
    workers: int = 1

    identity_url: str = "http://127.0.0.1:8001"
    registry_url: str = "http://127.0.0.1:8002"
    submissions_url: str = "http://127.0.0.1:8003"
    portal_url: str = "http://127.0.0.1:8004"

    client: Literal["native", "aiohttp"] = "native"
    """Which HTTP client forwards requests: the gateway's own pooled HTTP/1.1 protocol
    (fastest, measured in docs/benchmarks.md) or an aiohttp ClientSession."""
    lean_path: bool = True
    """Answer the usual request in one flat pass (tellonce_gateway.lean) before the fast
    path; False leaves every request to the fast path and the ASGI path (the native client
    only)."""
    connect_timeout: float = 1.0
    """Seconds to open a connection to a service; past it the service counts as down (503)."""
    default_timeout: float = 15.0
    """Seconds without a byte from the service before the gateway answers 504."""
    route_timeouts: dict[str, float] = Field(
        default_factory=lambda: {
            "/api/v1/audit": 60.0,
            "/api/v1/submissions": 30.0,
            "/api/v1/identity": 10.0,
            "/.well-known": 5.0,
        }
    )
    """Per route prefix overrides of ``default_timeout`` (PDFs and the audit take longer)."""

    pool_limit: int = 512
    """Connections kept open to all services together by the aiohttp forwarder. The native
    one keeps up to 256 idle connections per service and opens one per request in progress."""
    upstream_max_in_flight: int = Field(default=256, ge=1)
    """Requests waiting on one service for their answer's head at a time; one more is
    answered 503 with Retry-After at once, so a service that hangs cannot gather waiting
    requests and sockets in the gateway without bound. Time spent on the client (reading its
    upload, passing it the answer) does not count (docs/gateway.md, "Protecting services from
    one another")."""
    breaker_failures: int = Field(default=5, ge=1)
    """Consecutive failures of a service (down, or silent past the route's timeout) that open
    its breaker: the gateway then answers 503 without calling it."""
    breaker_open_seconds: float = Field(default=5.0, gt=0)
    """How long an open breaker refuses requests before one is let through to try the
    service again."""
    keepalive_seconds: float = 4.0
    """Idle time after which a pooled connection is closed; below uvicorn's 5 s default so
    the gateway never reuses a connection the service is about to close."""
    header_timeout_seconds: float = Field(default=10.0, gt=0)
    """Seconds a client connection has to send its first request's head, and a request to
    finish its head once its first byte came; past it the connection is closed (with a 408
    when a head had begun). A kept-alive connection idle between requests is closed by the
    30 s keep-alive instead."""
    body_idle_timeout_seconds: float = Field(default=30.0, gt=0)
    """Seconds a request whose body is not all in may go without a byte of it from the
    client (counted while the gateway reads; not a limit on the whole upload, so a slow
    upload that keeps sending is never cut); past it the gateway answers 408, if it has not
    answered yet, and closes the connection, releasing what it held at the service."""
    max_target_bytes: int = Field(default=8192, ge=1024)
    """The longest request target (path and query string, as sent) the gateway takes; a
    longer one is answered 414 at the edge and never reaches a service (nginx's default
    request-line buffer, 8 KiB; the API's own targets stay under 1 KiB)."""
    max_header_bytes: int = Field(default=32768, ge=4096)
    """The most a request's header fields may take, in bytes (names and values, and four
    bytes of framing each); past it the gateway answers 431 and closes the connection, having
    held no more of them than that (nginx's default, `large_client_header_buffers 4 8k`, is
    32 KiB for the request line and fields together; a browser with the portal's cookies
    sends under 2 KiB)."""
    buffer_request_bytes: int = 262_144
    """Request bodies with a Content-Length up to this size are read whole and sent with a
    Content-Length; bigger or chunked ones stream."""

    rate_limit_per_second: float = 50.0
    rate_limit_burst: int = 200
    auth_rate_limit_per_minute: float = 30.0
    auth_rate_limit_burst: int = 30
    """The stricter limit on ``POST /api/v1/identity/token`` and sign-up, per address."""

    trusted_proxies: list[str] = Field(default_factory=lambda: ["127.0.0.1", "::1"])
    """Peers (addresses or CIDR blocks) whose X-Forwarded-For / -Proto the gateway believes:
    the portal and an ingress in front of the gateway."""
    cors_origins: list[str] = Field(default_factory=list)
    """Browser origins allowed to call the API cross-origin; empty means CORS is closed."""

    openapi_cache_seconds: float = 30.0
    readiness_timeout: float = 2.0
    hsts_max_age: int = 63_072_000


@lru_cache
def get_settings() -> Settings:
    return Settings()
