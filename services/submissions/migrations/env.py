import importlib
import pkgutil

import tellonce_submissions
from tellonce_shared.migrations import run_env
from tellonce_submissions.config import get_settings
from tellonce_submissions.models import Base

# Feature folders keep their own models.py (deliveries, performance, referrals...): import
# them all so autogenerate sees every table, not only those in models.py.
for module in pkgutil.walk_packages(tellonce_submissions.__path__, "tellonce_submissions."):
    if module.name.endswith(".models"):
        importlib.import_module(module.name)

run_env(Base.metadata, get_settings().database_url)
