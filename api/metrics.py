"""Prometheus metrics of one service instance, in a registry of its own."""

from __future__ import annotations

from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)

KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class Metrics:
    """Requests and latency by route and status, predictions by class, model version info."""

    def __init__(self) -> None:
        """Create the collectors in a fresh registry (so several apps can live in one process)."""
        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        self.requests = Counter(
            "http_requests",
            "HTTP requests answered, by method, route template and status code.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "http_request_duration_seconds",
            "Time from request start to the end of the response, by method and route template.",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.predictions = Counter(
            "predictions",
            "Notes scored, by predicted class.",
            ["prediction"],
            registry=self.registry,
        )
        self.model_info = Gauge(
            "model_info",
            "The model being served (value is 1).",
            ["model_version", "created_at"],
            registry=self.registry,
        )
        # Resolving label children takes a lock and a lookup; cache them per key instead.
        # The key space is bounded: known methods x route templates x status codes.
        self._request_children: dict[tuple[str, str, int], tuple[Any, Any]] = {}
        self._prediction_children: dict[str, Any] = {}

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        """Count one answered request and its duration."""
        key = (method, route, status)
        children = self._request_children.get(key)
        if children is None:
            label = method if method in KNOWN_METHODS else "OTHER"
            children = (
                self.requests.labels(label, route, str(status)),
                self.latency.labels(label, route),
            )
            self._request_children[key] = children
        children[0].inc()
        children[1].observe(seconds)

    def count_predictions(self, prediction: str, amount: int = 1) -> None:
        """Add `amount` predictions of class `prediction`."""
        child = self._prediction_children.get(prediction)
        if child is None:
            child = self._prediction_children[prediction] = self.predictions.labels(prediction)
        child.inc(amount)

    def set_model(self, model_version: str, created_at: str) -> None:
        """Publish which model is loaded."""
        self.model_info.clear()
        self.model_info.labels(model_version, created_at).set(1)

    def render(self) -> bytes:
        """The registry in Prometheus text format."""
        return generate_latest(self.registry)
