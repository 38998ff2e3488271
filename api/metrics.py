"""Prometheus metrics: counted in plain dicts on the request path, rendered at scrape time.

prometheus-client's Counter and Histogram take a lock on every observation and, in its
multiprocess mode, also write an mmap'd file on every observation (about 2 us per counter and
3 us per histogram observation here). In this module an observation is a dict update; numbers
become Prometheus text only when /metrics is scraped. Adding a metric is one more family below
and one `inc`/`observe` call on the hot path.

Input drift (api/drift.py): each /predict note is appended to a list (one `extend` on the hot
path) and counted with numpy many notes at a time: when the list holds DRIFT_PENDING_ROWS
notes, before every scrape, and (several workers) at each sync, so any worker's scrape sees
every note answered by then. /predict/batch counts its rows in its worker thread
and hands the counts over (`add_input_counts`).

One worker: /metrics renders this process's numbers, plus process metrics.
Several workers (`--workers N`, which sets PROMETHEUS_MULTIPROC_DIR; see api/metrics_dir.py):
each worker copies the series it changed into prometheus-client's multiprocess files in that
directory at most SHARED_SYNC_SECONDS after the change, and /metrics answers with
prometheus-client's MultiProcessCollector: the totals of all workers, whichever worker takes
the scrape.
Process metrics are left out there: one worker's memory or CPU would be a fraction of the truth.
"""

from __future__ import annotations

import asyncio
import math
import os
from bisect import bisect_left
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import numpy as np
from prometheus_client import (
    CollectorRegistry,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.metrics_core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.mmap_dict import MmapedDict, mmap_key
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from prometheus_client.samples import Sample
from prometheus_client.utils import floatToGoString

from api.drift import DIRECTIONS, DriftReference, InputCounts
from contract import QUANTILE_LEVELS

KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
MODEL_INFO = "model_info"
MODEL_INFO_HELP = "The model being served (value is 1)."
MODEL_INFO_LABELS = ("model_version", "created_at")

OUT_OF_RANGE = "banknote_input_out_of_range"
OUT_OF_RANGE_HELP = (
    "Inputs outside the range of the rows the model was trained on, by feature and direction "
    "(below the training minimum, above the training maximum; a value equal to either is in "
    "range)."
)
INPUT_VALUE = "banknote_input_value"
INPUT_VALUE_HELP = (
    "Input values by feature. Each feature's bucket bounds (le) are its training-data quantiles "
    f"at {', '.join(f'{100 * level:g}' for level in QUANTILE_LEVELS)} % (a repeated quantile "
    "once), so while inputs look like the training data each bucket holds about its quantile's "
    "share of _count. No _sum: the values can be negative."
)
# /predict notes wait in a list until this many are counted at once (with one worker; several
# workers count at every sync). 256 notes take ~70 us with numpy, about 0.3 us a note.
DRIFT_PENDING_ROWS = 256
# Several workers: the longest a worker's changes wait before they reach the shared files. A
# sync counts the waiting drift notes with numpy and writes every changed series. Once per
# loop iteration (~13 notes under wrk) that took 11 % of a worker's samples (py-spy) and the
# shared files cost 25 % of its throughput (`make bench`, api-shared / api = 0.75x); every
# 50 ms it is shared by hundreds of requests. A scrape is then at most 50 ms behind the other
# workers, against Prometheus scrape intervals of 15 s and more.
SHARED_SYNC_SECONDS = 0.05

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


class WorkerFiles:
    """One worker's series in prometheus-client's multiprocess file format.

    The files are prometheus-client's own (`MmapedDict`, keys from `mmap_key`), named as its
    MultiProcessCollector expects: `counter_<id>.db`, `histogram_<id>.db`, and
    `gauge_livemax_<id>.db` for model_info (a live gauge: removed when the worker stops).
    """

    def __init__(self, directory: Path, worker_id: str) -> None:
        """Open (or create) this worker's files in `directory`."""
        self._counters = MmapedDict(str(directory / f"counter_{worker_id}.db"))
        self._histograms = MmapedDict(str(directory / f"histogram_{worker_id}.db"))
        self._gauge_path = directory / f"gauge_livemax_{worker_id}.db"
        self._gauges = MmapedDict(str(self._gauge_path))
        self._keys: dict[tuple[str, Labels], list[str]] = {}
        self._written: dict[tuple[str, Labels], list[float]] = {}

    def write_counter(self, family: CounterFamily, labels: Labels, value: float) -> None:
        """Store the series' current total."""
        keys = self._keys.get((family.name, labels))
        if keys is None:
            keys = [
                mmap_key(
                    family.name,
                    f"{family.name}_total",
                    list(family.labelnames),
                    list(labels),
                    family.documentation,
                )
            ]
            self._keys[(family.name, labels)] = keys
        self._counters.write_value(keys[0], value, 0.0)

    def write_histogram(self, family: HistogramFamily, labels: Labels, series: list[float]) -> None:
        """Store the series' bucket counts and sum; only the slots that changed are written."""
        slot = (family.name, labels)
        keys = self._keys.get(slot)
        if keys is None:
            keys = self._keys[slot] = _histogram_keys(family, labels)
            self._written[slot] = [math.nan] * len(keys)
        written = self._written[slot]
        for index, key in enumerate(keys):  # no key for the sum of a family without one
            value = series[index]
            if value != written[index]:
                self._histograms.write_value(key, value, 0.0)
                written[index] = value

    def write_model(self, labels: Labels, value: float) -> None:
        """Set model_info for `labels` (1 serving, 0 no longer)."""
        key = mmap_key(
            MODEL_INFO, MODEL_INFO, list(MODEL_INFO_LABELS), list(labels), MODEL_INFO_HELP
        )
        self._gauges.write_value(key, value, 0.0)

    def close(self) -> None:
        """Close the files; the live gauge file goes, the counts stay for the other workers."""
        for file in (self._counters, self._histograms, self._gauges):
            file.close()
        self._gauge_path.unlink(missing_ok=True)


def _histogram_keys(family: HistogramFamily, labels: Labels) -> list[str]:
    # prometheus-client's Histogram stores each bucket under `<name>_bucket` with an extra
    # `le` label, counts not cumulative, and the sum under `<name>_sum`.
    names = [*family.labelnames, "le"]
    keys = [
        mmap_key(
            family.name,
            f"{family.name}_bucket",
            names,
            [*labels, str(bound)],  # MultiProcessCollector reads it with float()
            family.documentation,
        )
        for bound in (*family.bounds_of(labels), math.inf)
    ]
    if not family.has_sum:
        return keys
    keys.append(
        mmap_key(
            family.name,
            f"{family.name}_sum",
            list(family.labelnames),
            list(labels),
            family.documentation,
        )
    )
    return keys


class _LocalCollector(Collector):
    """This process's families and model_info, for the one-worker registry."""

    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics

    def collect(self) -> Iterator[Metric]:
        for family in self._metrics.families:
            yield family.collect()
        info = GaugeMetricFamily(MODEL_INFO, MODEL_INFO_HELP, labels=MODEL_INFO_LABELS)
        if self._metrics.model is not None:
            info.add_metric(self._metrics.model, 1)
        yield info


class Metrics:
    """Requests and latency by route and status, predictions by class, model version info,
    and (once `watch_inputs` is called) input drift per feature."""

    def __init__(self, shared_dir: Path | None = None, worker_id: str | None = None) -> None:
        """In-process numbers; with `shared_dir`, also this worker's share of the totals there.

        `worker_id` names this worker's files (default: the process id).
        """
        self.requests = CounterFamily(
            "http_requests",
            "HTTP requests answered, by method, route template and status code.",
            ("method", "route", "status"),
        )
        self.latency = HistogramFamily(
            "http_request_duration_seconds",
            "Time from request start to the end of the response, by method and route template.",
            ("method", "route"),
            LATENCY_BUCKETS,
        )
        self.predictions = CounterFamily(
            "predictions", "Notes scored, by predicted class.", ("prediction",)
        )
        self.families: tuple[CounterFamily | HistogramFamily, ...] = (
            self.requests,
            self.latency,
            self.predictions,
        )
        self.model: Labels | None = None
        # Input drift: set by watch_inputs (the model's training statistics are needed).
        self.drift: DriftReference | None = None
        self.out_of_range: CounterFamily | None = None
        self.input_values: HistogramFamily | None = None
        self._pending_inputs: list[float] = []  # /predict notes not counted yet, flattened
        self._pending_limit = 0
        self.registry = CollectorRegistry()
        self._shared_dir = shared_dir
        self._worker_id = worker_id
        # Opened when the model is published (at start-up), closed at shutdown.
        self._files: WorkerFiles | None = None
        self._sync_scheduled = False
        if shared_dir is None:
            self.registry.register(_LocalCollector(self))
            ProcessCollector(registry=self.registry)
        else:
            MultiProcessCollector(self.registry, path=str(shared_dir))
        # python_info: the same in every worker, so any worker may tell it.
        PlatformCollector(registry=self.registry)

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        """Count one answered request and its duration."""
        if method not in KNOWN_METHODS:
            method = "OTHER"  # clients choose methods freely; keep the label set bounded
        self.requests.inc((method, route, str(status)))
        self.latency.observe((method, route), seconds)
        if self._files is not None and not self._sync_scheduled:
            self._schedule_sync()

    def count_predictions(self, prediction: str, amount: int = 1) -> None:
        """Add `amount` predictions of class `prediction`."""
        self.predictions.inc((prediction,), amount)
        if self._files is not None and not self._sync_scheduled:
            self._schedule_sync()

    def watch_inputs(self, reference: DriftReference) -> None:
        """Count inputs against `reference` (the served model's training statistics) from now on.

        Every series starts at 0, so a rate or an alert has data before the first input. The
        lifespan may run again on the same app (tests do): the same statistics keep counting.
        """
        if self.drift is not None:
            if self.drift.limits() == reference.limits():
                return
            raise RuntimeError("inputs are already counted against other training statistics")
        self.out_of_range = CounterFamily(OUT_OF_RANGE, OUT_OF_RANGE_HELP, ("feature", "direction"))
        self.input_values = HistogramFamily(
            INPUT_VALUE,
            INPUT_VALUE_HELP,
            ("feature",),
            (),
            series_bounds={
                (feature,): bounds
                for feature, bounds in zip(reference.features, reference.bounds, strict=True)
            },
            has_sum=False,
        )
        for feature in reference.features:
            for direction in DIRECTIONS:
                self.out_of_range.inc((feature, direction), 0.0)
            self.input_values.add((feature,), ())
        self.families = (*self.families, self.out_of_range, self.input_values)
        self.drift = reference
        self._pending_limit = DRIFT_PENDING_ROWS * len(reference.features)
        if self._files is not None and not self._sync_scheduled:
            self._schedule_sync()

    def count_input(self, row: Sequence[float]) -> None:
        """Note one /predict input (features in the reference's order) for the drift metrics."""
        if self.drift is None:
            return
        pending = self._pending_inputs
        pending.extend(row)  # counted with the others, vectorised, before anyone reads them
        if len(pending) >= self._pending_limit:
            self._count_pending()
        if self._files is not None and not self._sync_scheduled:
            self._schedule_sync()

    def add_input_counts(self, counts: InputCounts) -> None:
        """Add drift counts made by `DriftReference.count` (/predict/batch, in its thread)."""
        self._add_input_counts(counts)
        if self._files is not None and not self._sync_scheduled:
            self._schedule_sync()

    def _add_input_counts(self, counts: InputCounts) -> None:
        drift, out_of_range, values = self.drift, self.out_of_range, self.input_values
        if drift is None or out_of_range is None or values is None:
            return
        for feature, below, above, buckets in zip(
            drift.features, counts.below, counts.above, counts.buckets, strict=True
        ):
            if below:
                out_of_range.inc((feature, "below"), below)
            if above:
                out_of_range.inc((feature, "above"), above)
            values.add((feature,), buckets)

    def _count_pending(self) -> None:
        pending = self._pending_inputs
        if not pending or self.drift is None:
            return
        self._pending_inputs = []
        features = np.array(pending, dtype=np.float64).reshape(-1, len(self.drift.features))
        self._add_input_counts(self.drift.count(features))

    def set_model(self, model_version: str, created_at: str) -> None:
        """Publish which model is loaded."""
        labels = (model_version, created_at)
        if self._shared_dir is not None and self._files is None:
            worker_id = self._worker_id or str(os.getpid())
            self._files = WorkerFiles(self._shared_dir, worker_id)
            self.sync()  # anything counted before start-up
        if self._files is not None:
            if self.model is not None and self.model != labels:
                self._files.write_model(self.model, 0.0)
            self._files.write_model(labels, 1.0)
        self.model = labels

    def render(self) -> bytes:
        """The registry in Prometheus text format (all workers' totals when shared)."""
        self.sync()
        return generate_latest(self.registry)

    def sync(self) -> None:
        """Count the waiting inputs; copy the series changed since the last sync into this
        worker's shared files."""
        self._count_pending()
        self._sync_scheduled = False
        files = self._files
        if files is None:
            return
        for family in self.families:
            if isinstance(family, CounterFamily):
                for labels in family.changed:
                    files.write_counter(family, labels, family.values[labels])
            else:
                for labels in family.changed:
                    files.write_histogram(family, labels, family.series[labels])
            family.changed.clear()

    def close(self) -> None:
        """Share the last numbers and close this worker's files (at shutdown; start-up reopens)."""
        if self._files is not None:
            self.sync()
            self._files.close()
            self._files = None

    def _schedule_sync(self) -> None:
        # One sync for everything changed in the next SHARED_SYNC_SECONDS (see there).
        self._sync_scheduled = True
        try:
            asyncio.get_running_loop().call_later(SHARED_SYNC_SECONDS, self.sync)
        except RuntimeError:  # no event loop in this thread
            self.sync()
