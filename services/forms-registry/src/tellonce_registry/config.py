"""Settings of the forms registry service (env prefix REGISTRY_)."""

from __future__ import annotations

from functools import lru_cache

from pydantic_settings import SettingsConfigDict

from tellonce_shared.settings import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="REGISTRY_", extra="ignore")

    database_url: str = "sqlite+aiosqlite:///var/registry.db"
    port: int = 8002
    max_body_bytes: int = 2_097_152
    max_schema_bytes: int = 1_000_000
    """A form schema over this many bytes (as compact JSON) is refused with a 422."""
    max_fields: int = 5000
    """A form schema that flattens into more fields than this is refused with a 422."""
    published_cache_seconds: float = 30.0
    """How long a process keeps a published version's response in memory. Content never
    changes; only ``status`` (retired) and which version is ``latest`` can, so this bounds how
    stale those are on other processes."""
    published_cache_entries: int = 1024


@lru_cache
def get_settings() -> Settings:
    return Settings()
