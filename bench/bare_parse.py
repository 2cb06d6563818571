"""The yardstick: a bare FastAPI endpoint that only parses the same JSON body."""

from __future__ import annotations

import orjson
from fastapi import FastAPI, Request, Response

app = FastAPI()


@app.post("/api/v1/submissions")
async def parse(request: Request) -> Response:
    orjson.loads(await request.body())
    return Response(b'{"ok":true}', status_code=201, media_type="application/json")
