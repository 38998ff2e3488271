"""Prometheus metrics of one service instance, in a registry of its own."""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterator

from prometheus_client import (
    CollectorRegistry,
    Gauge,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.metrics_core import (
    CounterMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class _ServiceCollector(Collector):
    """Request, latency and prediction counts kept in plain dicts, rendered at scrape time.

    prometheus-client's Counter and Histogram take a lock and walk the buckets in Python on
    every observation; this costs a dict update and a C bisect. It is safe without locks
    because every update and every scrape runs on the event loop thread.
    """

    def __init__(self) -> None:
        self.requests: dict[tuple[str, str, int], int] = {}
        # (method, route) -> per-bucket counts (last slot: +Inf), and the sum of durations.
        self.latency: dict[tuple[str, str], tuple[list[int], list[float]]] = {}
        self.predictions: dict[str, int] = {}

    def collect(self) -> Iterator[Metric]:
        requests = CounterMetricFamily(
            "http_requests",
            "HTTP requests answered, by method, route template and status code.",
            labels=["method", "route", "status"],
        )
        for (method, route, status), count in sorted(self.requests.items()):
            requests.add_metric([method, route, str(status)], count)
        yield requests
        latency = HistogramMetricFamily(
            "http_request_duration_seconds",
            "Time from request start to the end of the response, by method and route template.",
            labels=["method", "route"],
        )
        bounds = [*(str(b) for b in LATENCY_BUCKETS), "+Inf"]
        for (method, route), (counts, total) in sorted(self.latency.items()):
            cumulative, buckets = 0, []
            for bound, count in zip(bounds, counts, strict=True):
                cumulative += count
                buckets.append((bound, cumulative))
            latency.add_metric([method, route], buckets, total[0])
        yield latency
        predictions = CounterMetricFamily(
            "predictions", "Notes scored, by predicted class.", labels=["prediction"]
        )
        for name, count in sorted(self.predictions.items()):
            predictions.add_metric([name], count)
        yield predictions


class Metrics:
    """Requests and latency by route and status, predictions by class, model version info."""

    def __init__(self) -> None:
        """Create the collectors in a fresh registry (so several apps can live in one process)."""
        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        self._service = _ServiceCollector()
        self.registry.register(self._service)
        self.model_info = Gauge(
            "model_info",
            "The model being served (value is 1).",
            ["model_version", "created_at"],
            registry=self.registry,
        )

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        """Count one answered request and its duration."""
        if method not in KNOWN_METHODS:
            method = "OTHER"  # clients choose methods freely; keep the label set bounded
        key = (method, route, status)
        requests = self._service.requests
        requests[key] = requests.get(key, 0) + 1
        latency = self._service.latency.get((method, route))
        if latency is None:
            latency = ([0] * (len(LATENCY_BUCKETS) + 1), [0.0])
            self._service.latency[(method, route)] = latency
        latency[0][bisect_left(LATENCY_BUCKETS, seconds)] += 1
        latency[1][0] += seconds

    def count_predictions(self, prediction: str, amount: int = 1) -> None:
        """Add `amount` predictions of class `prediction`."""
        predictions = self._service.predictions
        predictions[prediction] = predictions.get(prediction, 0) + amount

    def set_model(self, model_version: str, created_at: str) -> None:
        """Publish which model is loaded."""
        self.model_info.clear()
        self.model_info.labels(model_version, created_at).set(1)

    def render(self) -> bytes:
        """The registry in Prometheus text format."""
        return generate_latest(self.registry)
