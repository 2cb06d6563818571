from tellonce_portal.config import get_settings
from tellonce_portal.models import Base
from tellonce_shared.migrations import run_env

run_env(Base.metadata, get_settings().database_url)
