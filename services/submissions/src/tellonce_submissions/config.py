"""Settings of the submissions service (env prefix SUBMISSIONS_)."""

from __future__ import annotations

from functools import lru_cache

from pydantic import SecretStr
from pydantic_settings import SettingsConfigDict

from tellonce_shared.settings import ServiceSettings

# A demo key for local mode only: its id says so, and production mode refuses it.
DEMO_ANSWER_KEYS = "local-only-1:dGVsbC1vbmNlIGxvY2FsLW9ubHkgZGVtbyBrZXkgISE="


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="SUBMISSIONS_", extra="ignore")

    database_url: str = "sqlite+aiosqlite:///var/submissions.db"
    port: int = 8003
    registry_url: str = "http://127.0.0.1:8002"
    """Where the forms registry answers (form versions, fields, agreements)."""
    registry_timeout_seconds: float = 5.0
    agreements_cache_seconds: float = 30.0
    """Agreements can change; published versions and their fields never do."""
    version_status_cache_seconds: float = 60.0
    """How long a version's lifecycle status (published/retired) is trusted from cache."""
    answer_keys: SecretStr = SecretStr(DEMO_ANSWER_KEYS)
    """AES-256-GCM keys for restricted values, ``kid:base64key`` comma-separated; the first
    one encrypts, every one decrypts (so keys rotate without re-encrypting at once)."""
    reference_prefix: str = "CT"
    draft_retention_days: int = 60
    idempotency_retention_hours: int = 24
    idempotency_lease_seconds: int = 60
    """An in-flight key older than this (its request died) may be taken over."""
    retention_interval_seconds: int = 3600
    """How often the serve process purges expired drafts and keys (0: never; use the CLI)."""
    receipt_workers: int = 1
    max_answer_values: int = 10_000
    max_answer_depth: int = 32

    def secrets_to_check(self) -> dict[str, SecretStr | str | None]:
        return {"answer_keys": self.answer_keys}


@lru_cache
def get_settings() -> Settings:
    return Settings()
