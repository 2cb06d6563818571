"""Prometheus metrics shared by every service: requests, latency and errors per route."""

from __future__ import annotations

from fastapi import APIRouter
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.responses import Response

from tellonce_shared.loop_metrics import CounterChild, HistogramChild, LoopCounter, LoopHistogram

# Recorded for every request from the event loop's thread: plain numbers, no lock per
# increment (tellonce_shared.loop_metrics).
REQUESTS = LoopCounter(
    "tellonce_http_requests_total",
    "HTTP requests handled",
    ["service", "method", "route", "status"],
)
ERRORS = LoopCounter(
    "tellonce_http_errors_total",
    "HTTP requests answered with a 5xx status",
    ["service", "method", "route"],
)
LATENCY = LoopHistogram(
    "tellonce_http_request_duration_seconds",
    "Time to answer an HTTP request",
    ["service", "method", "route"],
    (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)


class RequestMetrics:
    """The per-route request metrics of one service, with the labelled children kept: a
    label look-up costs more than the observation itself, so a request costs two
    increments instead of three look-ups. Labels are route templates, so the set of children
    stays small; it stops growing at 10,000 all the same."""

    def __init__(self, service: str) -> None:
        self.service = service
        self._children: dict[
            tuple[str, str, int], tuple[CounterChild, HistogramChild, CounterChild | None]
        ] = {}

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        key = (method, route, status)
        children = self._children.get(key)
        if children is None:
            children = (
                REQUESTS.labels(self.service, method, route, str(status)),
                LATENCY.labels(self.service, method, route),
                ERRORS.labels(self.service, method, route) if status >= 500 else None,
            )
            if len(self._children) < 10_000:  # methods x routes x statuses stays small
                self._children[key] = children
        children[0].inc()
        children[1].observe(seconds)
        if children[2] is not None:
            children[2].inc()


metrics_router = APIRouter()


@metrics_router.get("/metrics", include_in_schema=False)
async def metrics() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
