from tellonce_identity.config import get_settings
from tellonce_identity.models import Base
from tellonce_shared.migrations import run_env

run_env(Base.metadata, get_settings().database_url)
