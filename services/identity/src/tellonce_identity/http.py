"""A JSON response with chosen headers, serialized with orjson."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import Response


def json_response(
    body: Any, *, media_type: str = "application/json", headers: dict[str, str] | None = None
) -> Response:
    return Response(content=orjson.dumps(body), media_type=media_type, headers=headers)
