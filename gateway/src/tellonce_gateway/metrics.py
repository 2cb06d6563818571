"""Gateway metrics beside the shared per-route ones (``tellonce_shared.metrics``): time to
the service's answer and the service's failures, per upstream, what the edge itself turned
away, and each service's breaker (``tellonce_gateway.breaker``)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

from tellonce_shared.loop_metrics import LoopHistogram

UPSTREAM_LATENCY = LoopHistogram(  # every request, from the event loop: no lock per observation
    "tellonce_gateway_upstream_duration_seconds",
    "Time from forwarding a request to the service's response headers",
    ["upstream"],
    (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
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
UPSTREAM_REFUSALS = Counter(
    "tellonce_gateway_upstream_refusals_total",
    "Requests answered 503 without calling the service: too many in flight to it "
    "(in-flight), or its breaker open or trying it (breaker)",
    ["upstream", "reason"],
)
BREAKER_STATE = Gauge(
    "tellonce_gateway_breaker_state",
    "State of the service's breaker: 0 closed, 1 open, 2 half-open (set on changes only)",
    ["upstream"],
)
UPSTREAM_IN_FLIGHT = Gauge(
    "tellonce_gateway_upstream_in_flight",
    "Requests waiting on the service for their answer's head (read at the scrape, not kept "
    "per request)",
    ["upstream"],
)
