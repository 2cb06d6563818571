"""Gateway metrics beside the shared per-route ones: time to the service's answer and the
service's failures, per upstream, and what the edge itself turned away."""

from __future__ import annotations

from typing import Any

from prometheus_client import Counter, Histogram

from tellonce_shared.metrics import ERRORS, LATENCY, REQUESTS

UPSTREAM_LATENCY = Histogram(
    "tellonce_gateway_upstream_duration_seconds",
    "Time from forwarding a request to the service's response headers",
    ["upstream"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
UPSTREAM_ERRORS = Counter(
    "tellonce_gateway_upstream_errors_total",
    "Calls to a service that failed: down, timeout, or broken connection",
    ["upstream", "kind"],
)
EDGE_REJECTIONS = Counter(
    "tellonce_gateway_rejections_total",
    "Requests the gateway answered itself without calling a service",
    ["reason"],
)


class RequestMetrics:
    """The shared per-route request metrics (service="gateway"), with the labelled children
    kept, so a request costs two increments instead of three label look-ups."""

    def __init__(self, service: str = "gateway") -> None:
        self.service = service
        self._children: dict[tuple[str, str, int], tuple[Any, Any, Any]] = {}

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
