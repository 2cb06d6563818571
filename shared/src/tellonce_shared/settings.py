"""Settings base shared by every service: a local mode with safe demo defaults, and a
production mode that refuses them."""

from __future__ import annotations

from typing import Literal

from pydantic import SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEMO_MARKERS = ("demo", "insecure", "change-me", "local-only")


class ServiceSettings(BaseSettings):
    """Fields every service has; each service subclasses it with its own env prefix."""

    # hide_input_in_errors: a refused setting's error never repeats what was given (a model
    # validator's input is every setting, secrets included). Subclasses' model_config merges
    # with this one, so every service inherits it.
    model_config = SettingsConfigDict(
        env_prefix="TELLONCE_", extra="ignore", hide_input_in_errors=True
    )

    mode: Literal["local", "production"] = "local"
    database_url: str = "sqlite+aiosqlite:///var/service.db"
    identity_url: str = "http://127.0.0.1:8001"
    """Where the identity service answers inside the cluster (JWKS is read from here)."""
    issuer: str = "http://127.0.0.1:8000"
    """The public issuer URL, as written in every token's ``iss``."""
    audience: str = "tellonce"
    max_body_bytes: int = 1_048_576
    log_level: str = "INFO"
    jwks_cache_seconds: int = 300
    token_cache_seconds: float = 60.0
    """How long a verified access token is remembered, so its next use skips the signature
    check (never past its ``exp``; 0 turns it off)."""
    workers: int = 1
    """HTTP worker processes of `serve` (each with its own database pool). One per core
    the process may use; in Kubernetes, scale with replicas and keep 1."""
    db_pool_size: int = 10
    """Database connections each process keeps open. A request waits for a free one rather
    than opening another, so PostgreSQL sees at most processes x pool size backends (keep it
    under its ``max_connections``)."""
    db_pool_timeout_seconds: float = 10.0
    """How long a request waits for a free connection before a 503 (``Retry-After``)."""
    db_pool_pre_ping: bool = False
    """Test each pooled connection with a round trip before use. Off: a connection broken by a
    database restart fails one request with a 503 and is replaced (SQLAlchemy invalidates the
    pool), and every other request saves a round trip."""

    def secrets_to_check(self) -> dict[str, SecretStr | str | None]:
        """Secrets that must not keep a demo value in production; services extend this."""
        return {}

    @model_validator(mode="after")
    def _refuse_unsafe_production(self) -> ServiceSettings:
        if self.mode != "production":
            return self
        if self.database_url.startswith("sqlite"):
            raise ValueError("production mode refuses SQLite: set a PostgreSQL DATABASE_URL")
        for name, value in self.secrets_to_check().items():
            raw = value.get_secret_value() if isinstance(value, SecretStr) else value
            if not raw or any(marker in raw.lower() for marker in DEMO_MARKERS):
                raise ValueError(f"production mode refuses the demo value of {name}")
        return self

    @property
    def is_local(self) -> bool:
        return self.mode == "local"
