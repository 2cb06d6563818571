"""The lock-free per-request metrics expose what ``prometheus_client``'s own classes expose
for the same observations (but for the ``_created`` series they do not keep)."""

from __future__ import annotations

import math
import random

import pytest
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

from tellonce_shared.loop_metrics import LoopCounter, LoopHistogram

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


def _exposition(registry: CollectorRegistry) -> list[str]:
    return [
        line for line in generate_latest(registry).decode().splitlines() if "_created" not in line
    ]


def test_a_histogram_exposes_what_prometheus_clients_does() -> None:
    ours, theirs = CollectorRegistry(), CollectorRegistry()
    mine = LoopHistogram("t_seconds", "Time", ["service", "route"], BUCKETS, registry=ours)
    library = Histogram("t_seconds", "Time", ["service", "route"], buckets=BUCKETS, registry=theirs)
    values = [random.Random(7).uniform(0, 12) for _ in range(500)]
    values += [*BUCKETS, 0.0, -1.0, 1e9, math.inf]  # on each bound exactly ("le"), and beyond
    for i, value in enumerate(values):
        labels = ("gateway", f"/r{i % 3}")
        mine.labels(*labels).observe(value)
        library.labels(*labels).observe(value)
    assert _exposition(ours) == _exposition(theirs)


def test_a_counter_exposes_what_prometheus_clients_does() -> None:
    ours, theirs = CollectorRegistry(), CollectorRegistry()
    mine = LoopCounter("t_requests_total", "Requests", ["method", "status"], registry=ours)
    library = Counter("t_requests_total", "Requests", ["method", "status"], registry=theirs)
    for i in range(300):
        labels = ("GET" if i % 2 else "POST", str(200 + i % 5))
        mine.labels(*labels).inc()
        library.labels(*labels).inc()
    mine.labels("GET", "200").inc(2.5)
    library.labels("GET", "200").inc(2.5)
    assert _exposition(ours) == _exposition(theirs)
    assert ours.get_sample_value("t_requests_total", {"method": "GET", "status": "200"}) == (
        theirs.get_sample_value("t_requests_total", {"method": "GET", "status": "200"})
    )


def test_wrong_use_is_refused_as_the_library_refuses_it() -> None:
    registry = CollectorRegistry()
    counter = LoopCounter("u_total", "U", ["a"], registry=registry)
    with pytest.raises(ValueError):
        counter.labels("x").inc(-1)
    with pytest.raises(ValueError):
        counter.labels("x", "y")
    with pytest.raises(ValueError):  # the same name twice in one registry
        LoopCounter("u_total", "U", ["a"], registry=registry)
    histogram = LoopHistogram("v_seconds", "V", [], BUCKETS, registry=registry)
    histogram.labels().observe(0.01)
    assert registry.get_sample_value("v_seconds_bucket", {"le": "0.01"}) == 1.0
    assert registry.get_sample_value("v_seconds_count") == 1.0
