import tellonce_registry.audit.models  # noqa: F401  (the audit tables, so autogenerate keeps them)
from tellonce_registry.config import get_settings
from tellonce_registry.models import Base
from tellonce_shared.migrations import run_env

run_env(Base.metadata, get_settings().database_url)
