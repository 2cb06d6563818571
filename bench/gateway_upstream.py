"""The service behind the gateway benchmark: a bare FastAPI app with a small pre-encoded GET,
a POST that parses its JSON body, and the JWKS the gateway checks tokens against."""

from __future__ import annotations

import os

import orjson
from fastapi import FastAPI, Request, Response

app = FastAPI()
SMALL = orjson.dumps(
    {"slug": "benefits", "agency": "DSS", "title": "Benefits application", "versions": [1, 2]}
)
JWKS = os.environ.get("BENCH_JWKS", '{"keys": []}').encode()


@app.get("/api/v1/forms/bench")
async def small() -> Response:
    return Response(SMALL, media_type="application/json")


@app.post("/api/v1/forms/bench")
async def parse(request: Request) -> Response:
    doc = orjson.loads(await request.body())
    return Response(orjson.dumps({"fields": len(doc["answers"])}), media_type="application/json")


@app.get("/.well-known/jwks.json")
async def jwks() -> Response:
    return Response(JWKS, media_type="application/json")


@app.get("/readyz")
async def readyz() -> Response:
    return Response(b'{"status":"ok"}', media_type="application/json")
