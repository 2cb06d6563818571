"""Prometheus metrics shared by every service: requests, latency and errors per route."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest
from starlette.responses import Response

REQUESTS = Counter(
    "tellonce_http_requests_total",
    "HTTP requests handled",
    ["service", "method", "route", "status"],
)
ERRORS = Counter(
    "tellonce_http_errors_total",
    "HTTP requests answered with a 5xx status",
    ["service", "method", "route"],
)
LATENCY = Histogram(
    "tellonce_http_request_duration_seconds",
    "Time to answer an HTTP request",
    ["service", "method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)


_CHILDREN: dict[tuple[str, str, str, int], tuple[Any, Any]] = {}
"""The counter's and the histogram's child per label set, kept: looking a child up by its
labels costs more than the observation itself. Labels are route templates, so the set is
small; it stops growing at ``_MAX_CHILDREN`` all the same."""
_MAX_CHILDREN = 10_000


def observe_request(service: str, method: str, route: str, status: int, seconds: float) -> None:
    key = (service, method, route, status)
    children = _CHILDREN.get(key)
    if children is None:
        children = (
            REQUESTS.labels(service, method, route, str(status)),
            LATENCY.labels(service, method, route),
        )
        if len(_CHILDREN) < _MAX_CHILDREN:
            _CHILDREN[key] = children
    children[0].inc()
    children[1].observe(seconds)
    if status >= 500:
        ERRORS.labels(service, method, route).inc()


metrics_router = APIRouter()


@metrics_router.get("/metrics", include_in_schema=False)
async def metrics() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
