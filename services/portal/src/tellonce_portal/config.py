"""Settings of the portal (env prefix PORTAL_). The portal keeps no database: the user's
tokens live in an encrypted, HttpOnly session cookie, everything else is read through the
gateway."""

from __future__ import annotations

from functools import lru_cache

from pydantic import SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from tellonce_shared.settings import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="PORTAL_", extra="ignore")

    database_url: str = ""
    """Unused: the portal has no database (kept empty so production's SQLite check passes)."""
    port: int = 8004
    gateway_url: str = "http://127.0.0.1:8000"
    """Where the portal calls the public API, as the signed-in user."""
    client_id: str = "portal"
    session_secret: SecretStr = SecretStr("local-only-portal-session-secret-change-me")
    """Encrypts the session cookie (tokens, CSRF token); production refuses a demo value and
    one shorter than 32 characters."""
    session_max_age: int = 8 * 3600
    gateway_timeout: float = 12.0
    """Seconds the portal waits for an API call. Keep it under the gateway's timeout for
    portal pages (``GATEWAY_DEFAULT_TIMEOUT``, 15 s), so a slow API gives the portal's own
    error page rather than the gateway's JSON 504."""
    form_definition_cache_size: int = 64
    """Form definitions (the questions and pages of a published form version, per locale) kept
    in the process, least recently used dropped first; 0 builds one per request
    (``tellonce_portal.definitions``)."""

    def secrets_to_check(self) -> dict[str, SecretStr | str | None]:
        return {"session_secret": self.session_secret}

    @model_validator(mode="after")
    def _strong_session_secret_in_production(self) -> Settings:
        if self.mode == "production" and len(self.session_secret.get_secret_value()) < 32:
            raise ValueError("PORTAL_SESSION_SECRET needs at least 32 characters")
        return self

    @property
    def secure_cookies(self) -> bool:
        return self.mode == "production"


@lru_cache
def get_settings() -> Settings:
    return Settings()
