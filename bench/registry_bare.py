"""The yardstick for the registry benchmark: a bare FastAPI endpoint returning the same
pre-encoded bytes as ``GET /api/v1/forms/{slug}/versions/latest``."""

from __future__ import annotations

import os
from pathlib import Path

from fastapi import FastAPI, Response

BODY = Path(os.environ["BENCH_BODY_FILE"]).read_bytes()
app = FastAPI()


@app.get("/api/v1/forms/{slug}/versions/{n}")
async def version(slug: str, n: str) -> Response:
    return Response(BODY, media_type="application/json")
