"""Prometheus metrics: the service's families and the registry /metrics renders.

The families are plain numbers on the request path (api/metric_families.py says why): adding a
metric is one more family in `Metrics` and one `inc`/`observe` call on the hot path.

Input drift (api/drift.py): each /predict row is appended to a list (one `extend` on the hot
path) and counted with numpy many rows at a time: when the list holds DRIFT_PENDING_ROWS
rows, before every scrape, and (several workers) at each sync, so any worker's scrape sees
every row answered by then. /predict/batch counts its rows in its worker thread
and hands the counts over (`add_input_counts`).

One worker: /metrics renders this process's numbers, plus process metrics.
Several workers (`--workers N`, which sets PROMETHEUS_MULTIPROC_DIR; see api/metrics_dir.py):
each worker copies the series it changed into its files (api/metric_files.py) at most
SHARED_SYNC_SECONDS after the change, and /metrics answers with prometheus-client's
MultiProcessCollector: the totals of all workers, whichever worker takes the scrape.
Process metrics are left out there: one worker's memory or CPU would be a fraction of the truth.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
from prometheus_client import (
    CollectorRegistry,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from api.drift import DIRECTIONS, DriftReference, InputCounts
from api.metric_families import CounterFamily, HistogramFamily, Labels
from api.metric_files import WorkerFiles
from contract import QUANTILE_LEVELS

KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
MODEL_INFO = "model_info"
MODEL_INFO_HELP = "The model being served (value is 1)."
MODEL_INFO_LABELS = ("model_version", "created_at")

# The drift series are named after the model (its spec's `name`): <name>_input_out_of_range and
# <name>_input_value, e.g. pump_input_out_of_range_total for a model named pump. One series
# per feature.
OUT_OF_RANGE = "{model}_input_out_of_range"
OUT_OF_RANGE_HELP = (
    "Inputs outside the range of the rows the model was trained on, by feature and direction "
    "(below the training minimum, above the training maximum; a value equal to either is in "
    "range)."
)
INPUT_VALUE = "{model}_input_value"
INPUT_VALUE_HELP = (
    "Input values by feature. Each feature's bucket bounds (le) are its training-data quantiles "
    f"at {', '.join(f'{100 * level:g}' for level in QUANTILE_LEVELS)} % (a repeated quantile "
    "once), so while inputs look like the training data each bucket holds about its quantile's "
    "share of _count. No _sum: the values can be negative."
)
# /predict rows wait in a list until this many are counted at once (with one worker; several
# workers count at every sync). 256 rows take ~70 us with numpy, about 0.3 us a row.
DRIFT_PENDING_ROWS = 256
# Several workers: the longest a worker's changes wait before they reach the shared files. A
# sync counts the waiting drift rows with numpy and writes every changed series. Once per
# loop iteration (~13 rows under wrk) that took 11 % of a worker's samples (py-spy) and the
# shared files cost 25 % of its throughput (`make bench`, api-shared / api = 0.75x); every
# 50 ms it is shared by hundreds of requests. A scrape is then at most 50 ms behind the other
# workers, against Prometheus scrape intervals of 15 s and more.
SHARED_SYNC_SECONDS = 0.05


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
            "predictions", "Rows scored, by predicted class.", ("prediction",)
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
        self._pending_inputs: list[float] = []  # /predict rows not counted yet, flattened
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

    def expect_predictions(self, classes: Sequence[str]) -> None:
        """Start the predictions series of every class at 0.

        A counter that appears at its first increment loses that increment to `rate()`, which
        needs two samples: a class nobody predicted yet would count from its second prediction
        on, and the rollout gate and the alerts compare those rates between revisions.
        """
        for name in classes:
            self.predictions.inc((name,), 0.0)
        if self._files is not None and not self._sync_scheduled:
            self._schedule_sync()

    def watch_inputs(self, reference: DriftReference, model: str) -> None:
        """Count inputs against `reference` (the served model's training statistics) from now on,
        in series named after `model` (the model's name).

        Every series starts at 0, so a rate or an alert has data before the first input. The
        lifespan may run again on the same app (tests do): the same statistics keep counting.
        """
        if self.drift is not None:
            if self.drift.limits() == reference.limits():
                return
            raise RuntimeError("inputs are already counted against other training statistics")
        self.out_of_range = CounterFamily(
            OUT_OF_RANGE.format(model=model), OUT_OF_RANGE_HELP, ("feature", "direction")
        )
        self.input_values = HistogramFamily(
            INPUT_VALUE.format(model=model),
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
        """Record one /predict input (features in the reference's order) for the drift metrics."""
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
                self._write_model(self._files, self.model, 0.0)
            self._write_model(self._files, labels, 1.0)
        self.model = labels

    @staticmethod
    def _write_model(files: WorkerFiles, labels: Labels, value: float) -> None:
        files.write_live_gauge(MODEL_INFO, MODEL_INFO_HELP, MODEL_INFO_LABELS, labels, value)

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
