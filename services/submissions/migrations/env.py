from tellonce_shared.migrations import run_env
from tellonce_submissions.config import get_settings
from tellonce_submissions.models import Base

run_env(Base.metadata, get_settings().database_url)
