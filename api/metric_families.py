"""Counter and histogram families kept as plain numbers, turned into Prometheus text on scrape.

prometheus-client's Counter and Histogram take a lock on every observation and, in its
multiprocess mode, also write an mmap'd file on every observation (about 2 us per counter and
3 us per histogram observation here). Here an observation is a dict update; numbers become
Prometheus text only when /metrics is scraped (`collect`). Each family also remembers which
series changed since the last sync (`changed`), so several workers share only what moved
(api/metric_files.py).
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Mapping, Sequence

from prometheus_client.metrics_core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.samples import Sample
from prometheus_client.utils import floatToGoString

Labels = tuple[str, ...]


class CounterFamily:
    """A labelled counter kept as plain numbers; `changed` holds series not yet shared."""

    __slots__ = ("changed", "documentation", "labelnames", "name", "values")

    def __init__(self, name: str, documentation: str, labelnames: Labels) -> None:
        """`name` without the `_total` suffix, as prometheus-client spells it."""
        self.name = name
        self.documentation = documentation
        self.labelnames = labelnames
        self.values: dict[Labels, float] = {}
        self.changed: set[Labels] = set()

    def inc(self, labels: Labels, amount: float = 1.0) -> None:
        """Add `amount` to the series `labels`."""
        values = self.values
        values[labels] = values.get(labels, 0.0) + amount
        self.changed.add(labels)

    def collect(self) -> Metric:
        """The family in exposition form."""
        family = CounterMetricFamily(self.name, self.documentation, labels=self.labelnames)
        for labels, value in sorted(self.values.items()):
            family.add_metric(labels, value)
        return family


class HistogramFamily:
    """A labelled histogram: per series, a count per bucket (last: +Inf) and the sum.

    Every series has the family's `bounds` unless `series_bounds` gives it its own (the drift
    histogram: each feature's bounds are its training quantiles). With `has_sum` False no
    `_sum` is exposed: a sum of values that can be negative is not a counter (it may fall, which
    rate() reads as a restart), and OpenMetrics forbids `_sum` with negative buckets.
    """

    __slots__ = (
        "bounds",
        "changed",
        "documentation",
        "has_sum",
        "labelnames",
        "name",
        "series",
        "series_bounds",
    )

    def __init__(
        self,
        name: str,
        documentation: str,
        labelnames: Labels,
        bounds: Sequence[float],
        *,
        series_bounds: Mapping[Labels, Sequence[float]] | None = None,
        has_sum: bool = True,
    ) -> None:
        """`bounds` (and each of `series_bounds`): finite upper bounds, strictly ascending."""
        self.name = name
        self.documentation = documentation
        self.labelnames = labelnames
        self.bounds = tuple(bounds)
        self.series_bounds = {k: tuple(v) for k, v in (series_bounds or {}).items()}
        self.has_sum = has_sum
        # labels -> [count of bucket 0, ..., count of +Inf, sum]; counts are not cumulative.
        self.series: dict[Labels, list[float]] = {}
        self.changed: set[Labels] = set()

    def bounds_of(self, labels: Labels) -> tuple[float, ...]:
        """The finite bucket bounds of the series `labels`."""
        return self.series_bounds.get(labels, self.bounds)

    def _series(self, labels: Labels) -> list[float]:
        series = self.series.get(labels)
        if series is None:
            series = self.series[labels] = [0.0] * (len(self.bounds_of(labels)) + 2)
        return series

    def observe(self, labels: Labels, value: float) -> None:
        """Count `value` in the series `labels` (a family without `series_bounds`)."""
        series = self.series.get(labels)
        if series is None:
            series = self._series(labels)
        # Bucket i counts values <= bounds[i] (Prometheus' `le`); past the last one is +Inf.
        series[bisect_left(self.bounds, value)] += 1
        series[-1] += value
        self.changed.add(labels)

    def add(self, labels: Labels, counts: Sequence[int], total: float = 0.0) -> None:
        """Add non-cumulative bucket `counts` (one per bound, then +Inf) and their sum `total`."""
        series = self._series(labels)
        for index, count in enumerate(counts):
            if count:
                series[index] += count
        series[-1] += total
        self.changed.add(labels)

    def collect(self) -> Metric:
        """The family in exposition form (cumulative buckets)."""
        family = HistogramMetricFamily(self.name, self.documentation, labels=self.labelnames)
        for labels, series in sorted(self.series.items()):
            bounds = [*(floatToGoString(b) for b in self.bounds_of(labels)), "+Inf"]
            cumulative, buckets = 0.0, []
            for bound, count in zip(bounds, series[:-1], strict=True):
                cumulative += count
                buckets.append((bound, cumulative))
            if self.has_sum:
                family.add_metric(labels, buckets, series[-1])
            else:
                family.add_metric(labels, buckets, None)
                # prometheus-client adds `_count` only together with `_sum`. Prometheus' text
                # format has `_count` with every histogram, the shared mode
                # (MultiProcessCollector) always adds it, and the drift alert divides by it.
                # (OpenMetrics, not served here, would drop it with negative bounds.)
                family.samples.append(
                    Sample(
                        f"{self.name}_count",
                        dict(zip(self.labelnames, labels, strict=True)),
                        cumulative,
                    )
                )
        return family
