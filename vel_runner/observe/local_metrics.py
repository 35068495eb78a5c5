"""Metric families for one process that cost a turn a few additions.

prometheus-client's own metrics take a lock per value and walk the buckets in Python on every
observation; a turn updates a dozen of them. These keep plain numbers per label set (the
event loop's thread is the only writer) and become prometheus-client metric families only
when a scrape collects them, so the exposition is prometheus-client's.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterator, Sequence
from typing import Any

from prometheus_client import CollectorRegistry
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
)
from prometheus_client.utils import floatToGoString


class _Value:
    __slots__ = ("value",)

    def __init__(self) -> None:
        self.value = 0.0

    def inc(self, amount: float = 1) -> None:
        self.value += amount

    def dec(self, amount: float = 1) -> None:
        self.value -= amount

    def set(self, value: float) -> None:
        self.value = float(value)


class _Buckets:
    __slots__ = ("bounds", "counts", "sum")

    def __init__(self, bounds: Sequence[float]) -> None:
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)  # the last one is +Inf
        self.sum = 0.0

    def observe(self, amount: float) -> None:
        self.counts[bisect_left(self.bounds, amount)] += 1
        self.sum += amount


class _Family:
    """A metric with labels; ``labels(*values)`` returns the child to update."""

    def __init__(
        self,
        kind: str,
        name: str,
        documentation: str,
        labelnames: Sequence[str],
        buckets: Sequence[float] = (),
    ) -> None:
        self.kind, self.name, self.documentation = kind, name, documentation
        self.labelnames = list(labelnames)
        self.buckets = tuple(float(b) for b in buckets)
        self.children: dict[tuple[str, ...], Any] = {}

    def labels(self, *values: str) -> Any:
        child = self.children.get(values)
        if child is None:
            child = _Buckets(self.buckets) if self.kind == "histogram" else _Value()
            self.children[values] = child
        return child

    def collect(self) -> Any:
        if self.kind == "counter":
            family: Any = CounterMetricFamily(self.name, self.documentation, labels=self.labelnames)
            for values, child in self.children.items():
                family.add_metric(list(values), child.value)
        elif self.kind == "gauge":
            family = GaugeMetricFamily(self.name, self.documentation, labels=self.labelnames)
            for values, child in self.children.items():
                family.add_metric(list(values), child.value)
        else:
            family = HistogramMetricFamily(self.name, self.documentation, labels=self.labelnames)
            bounds = [*map(floatToGoString, self.buckets), "+Inf"]
            for values, child in self.children.items():
                running, cumulative = 0, []
                for bound, count in zip(bounds, child.counts, strict=True):
                    running += count
                    cumulative.append((bound, running))
                family.add_metric(list(values), cumulative, child.sum)
        return family


class LocalRegistry:
    """Builds local families (same call shapes as prometheus-client's classes) and collects
    them for ``registry``."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self._families: list[_Family] = []
        registry.register(self)

    def _add(self, family: _Family) -> _Family:
        self._families.append(family)
        return family

    def counter(self, name: str, documentation: str, labelnames: Sequence[str], **_: Any) -> Any:
        return self._add(_Family("counter", name, documentation, labelnames))

    def gauge(self, name: str, documentation: str, labelnames: Sequence[str], **_: Any) -> Any:
        return self._add(_Family("gauge", name, documentation, labelnames))

    def histogram(
        self,
        name: str,
        documentation: str,
        labelnames: Sequence[str],
        buckets: Sequence[float] = (),
        **_: Any,
    ) -> Any:
        return self._add(_Family("histogram", name, documentation, labelnames, buckets))

    def collect(self) -> Iterator[Any]:
        for family in self._families:
            yield family.collect()
