"""The audit's own settings (env prefix ``REGISTRY_AUDIT_``): the stated assumptions behind the
hours a tell-once prefill would save."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class AuditSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="REGISTRY_AUDIT_", extra="ignore")

    repeat_filer_share: float = Field(default=0.25, ge=0, le=1)
    """Share of a form's filers who already gave a fact on another form of the catalog."""
    review_fraction: float = Field(default=0.2, ge=0, le=1)
    """Share of a field's answer time still spent checking a prefilled answer."""
    pairs_limit: int = Field(default=50, ge=1, le=10000)
    pdf_clusters: int = Field(default=40, ge=1)
    """Clusters listed in the PDF (it is meant for reading, not for every field)."""


@lru_cache
def get_audit_settings() -> AuditSettings:
    return AuditSettings()
