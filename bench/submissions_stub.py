"""Bench helper process: the registry double from the submissions tests plus a JWKS, so the
submissions service can run alone under load (``python -m bench.submissions_stub PORT JWKS``)."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

ROOT = Path(__file__).resolve().parents[1]


def registry_app(jwks_path: str) -> Starlette:
    path = ROOT / "services" / "submissions" / "tests" / "registry_double.py"
    spec = importlib.util.spec_from_file_location("registry_double", path)
    assert spec
    assert spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    app: Starlette = module.RegistryDouble().app()
    jwks = json.loads(Path(jwks_path).read_text())

    async def keys(request: Request) -> JSONResponse:
        return JSONResponse(jwks)

    app.router.routes.append(Route("/.well-known/jwks.json", keys))
    return app


if __name__ == "__main__":
    port, jwks_file = int(sys.argv[1]), sys.argv[2]
    uvicorn.run(registry_app(jwks_file), host="127.0.0.1", port=port, log_level="warning")
