"""Counters and histograms for the metrics every request records, kept as plain numbers.

``prometheus_client``'s ``Counter`` and ``Histogram`` take a lock for every increment (two
for a histogram's observation, plus exemplar checks), so they can be shared by threads.
Counted on the gateway (docs/gateway.md, "How low Python can go"): its three observations per
request cost about 32,000 instructions, a seventh of all its work per request. The
per-request metrics of a service are recorded from its event loop's thread only (the
request middleware, the gateway's ledger), so they need no lock: these keep a count per
bucket and a sum in plain Python numbers and hand them to ``prometheus_client`` at the
scrape, as a custom collector (the library's documented way to expose numbers kept
elsewhere). The exposition is the library's own, but for the ``_created`` series, which these
do not keep (as with ``PROMETHEUS_DISABLE_CREATED_SERIES``). ``shared/tests`` compares the
output with the library's own classes.

Use them only from one thread; anything observed from other threads keeps using
``prometheus_client``'s classes."""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Callable, Iterator, Sequence
from itertools import accumulate
from typing import Generic, TypeVar, cast

from prometheus_client import utils
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import REGISTRY, Collector, CollectorRegistry

Child = TypeVar("Child")

_bound_name = cast(Callable[[float], str], utils.floatToGoString)
"""How the library writes a bucket's bound ("0.005", "1.0", "+Inf")."""


class CounterChild:
    """One series of a :class:`LoopCounter`."""

    __slots__ = ("value",)

    def __init__(self) -> None:
        self.value = 0.0

    def inc(self, amount: float = 1.0) -> None:
        if amount < 0:
            raise ValueError("Counters can only be incremented by non-negative amounts.")
        self.value += amount


class HistogramChild:
    """One series of a :class:`LoopHistogram`: a count per bucket (not cumulative) and a sum."""

    __slots__ = ("bounds", "counts", "sum")

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self.bounds = bounds
        self.counts = [0] * len(bounds)
        self.sum = 0.0

    def observe(self, value: float) -> None:
        # The first bucket whose upper bound is >= the value ("le"), +Inf last.
        self.counts[bisect_left(self.bounds, value)] += 1
        self.sum += value


class _Family(Collector, Generic[Child]):
    """A labelled family: one child per label values, made by ``new_child`` on first use."""

    def __init__(
        self,
        name: str,
        documentation: str,
        labelnames: Sequence[str],
        registry: CollectorRegistry | None,
        new_child: Callable[[], Child],
    ) -> None:
        self.name = name
        self.documentation = documentation
        self.labelnames = tuple(labelnames)
        self._new_child = new_child
        self._children: dict[tuple[str, ...], Child] = {}
        if registry is not None:
            registry.register(self)

    def labels(self, *values: str) -> Child:
        child = self._children.get(values)
        if child is None:
            if len(values) != len(self.labelnames):
                raise ValueError(f"{self.name} takes the labels {self.labelnames}, not {values}")
            child = self._children[values] = self._new_child()
        return child


class LoopCounter(_Family[CounterChild]):
    """A labelled counter (``name`` without ``_total``; the exposition adds it)."""

    def __init__(
        self,
        name: str,
        documentation: str,
        labelnames: Sequence[str],
        registry: CollectorRegistry | None = REGISTRY,
    ) -> None:
        super().__init__(
            name.removesuffix("_total"), documentation, labelnames, registry, CounterChild
        )

    def describe(self) -> list[Metric]:
        return [CounterMetricFamily(self.name, self.documentation, labels=self.labelnames)]

    def collect(self) -> Iterator[Metric]:
        family = CounterMetricFamily(self.name, self.documentation, labels=self.labelnames)
        for values, child in list(self._children.items()):
            family.add_metric(list(values), child.value)
        yield family


class LoopHistogram(_Family[HistogramChild]):
    """A labelled histogram with fixed buckets (+Inf added)."""

    def __init__(
        self,
        name: str,
        documentation: str,
        labelnames: Sequence[str],
        buckets: Sequence[float],
        registry: CollectorRegistry | None = REGISTRY,
    ) -> None:
        bounds = tuple(sorted(float(b) for b in buckets))
        if not bounds or bounds[-1] != math.inf:
            bounds += (math.inf,)
        self.bounds = bounds
        self._names = [_bound_name(b) for b in bounds]
        super().__init__(name, documentation, labelnames, registry, lambda: HistogramChild(bounds))

    def describe(self) -> list[Metric]:
        return [HistogramMetricFamily(self.name, self.documentation, labels=self.labelnames)]

    def collect(self) -> Iterator[Metric]:
        family = HistogramMetricFamily(self.name, self.documentation, labels=self.labelnames)
        for values, child in list(self._children.items()):
            cumulative = accumulate(list(child.counts))
            family.add_metric(
                list(values), list(zip(self._names, cumulative, strict=True)), child.sum
            )
        yield family
