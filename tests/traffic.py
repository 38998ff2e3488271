"""Traffic with known answers for the /metrics tests, and what /metrics must then say.

Shared by tests/api (the service in process and under uvicorn with several workers) and
tests/container (the image with WORKERS=2). The drift figures are computed here with numpy,
straight from metadata.json's `feature_stats`, independently of api/drift.py.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
import numpy as np
from prometheus_client.parser import text_string_to_metric_families

from api.metrics import SHARED_SYNC_SECONDS

FEATURES = ("variance", "skewness", "curtosis", "entropy")
DATA = Path(__file__).resolve().parents[1] / "data" / "data_banknote_authentication.txt"
OUT_OF_RANGE = "banknote_input_out_of_range_total"
VALUE = "banknote_input_value"

# A sample: its name and its labels, sorted (`le` as a float, so "1.0" and "1" are one bound).
Key = tuple[str, tuple[tuple[str, str | float], ...]]
Stats = Mapping[str, Mapping[str, Any]]  # metadata.json feature_stats.features


def bucket_bounds(stats: Mapping[str, Any]) -> list[float]:
    """A feature's bucket bounds: its training quantiles, each value once, ascending."""
    return sorted(set(stats["quantiles"].values()))


def note(row: Sequence[float]) -> dict[str, float]:
    """A request body for one row of feature values."""
    return dict(zip(FEATURES, (float(v) for v in row), strict=True))


def edge_rows(stats: Stats) -> tuple[list[list[float]], dict[tuple[str, str], int]]:
    """Rows at and beyond each feature's training range, and how many are out of range.

    Feature number i (from 0) is below its training minimum in i + 1 rows and above its
    maximum in i + 2 rows. Each feature is also exactly at its minimum, at its maximum and at
    each of its bucket bounds in one row apiece (all in range). Every other value is the
    feature's median.
    """
    medians = [stats[f]["quantiles"]["0.5"] for f in FEATURES]
    rows: list[list[float]] = []
    out: dict[tuple[str, str], int] = {}

    def with_value(index: int, value: float) -> None:
        row = list(medians)
        row[index] = value
        rows.append(row)

    for index, feature in enumerate(FEATURES):
        low, high = stats[feature]["min"], stats[feature]["max"]
        for k in range(index + 1):
            with_value(index, low - 0.5 - k)
        for k in range(index + 2):
            with_value(index, high + 0.25 * (k + 1))
        with_value(index, low)
        with_value(index, high)
        for bound in bucket_bounds(stats[feature]):
            with_value(index, bound)
        out[(feature, "below")] = index + 1
        out[(feature, "above")] = index + 2
    return rows, out


def realistic_rows(count: int, seed: int = 7) -> list[list[float]]:
    """`count` rows of the data file with a little noise (mostly in range, some not)."""
    rng = np.random.default_rng(seed)
    data = np.loadtxt(DATA, delimiter=",")[:, :4]
    picked = data[rng.integers(0, len(data), count)] + rng.normal(0, 0.05, (count, 4))
    rows: list[list[float]] = picked.tolist()
    return rows


def expected_drift(stats: Stats, inputs: Sequence[Sequence[float]]) -> dict[Key, float]:
    """Every drift sample /metrics must show after `inputs` (rows of feature values)."""
    values = np.asarray(inputs, dtype=np.float64).reshape(-1, len(FEATURES))
    expected: dict[Key, float] = {}
    for index, feature in enumerate(FEATURES):
        column, own = values[:, index], stats[feature]
        below = np.count_nonzero(column < own["min"])
        above = np.count_nonzero(column > own["max"])
        expected[(OUT_OF_RANGE, (("direction", "below"), ("feature", feature)))] = float(below)
        expected[(OUT_OF_RANGE, (("direction", "above"), ("feature", feature)))] = float(above)
        for bound in [*bucket_bounds(own), np.inf]:
            key: Key = (f"{VALUE}_bucket", (("feature", feature), ("le", float(bound))))
            expected[key] = float(np.count_nonzero(column <= bound))
        expected[(f"{VALUE}_count", (("feature", feature),))] = float(len(column))
    return expected


def drift_samples(exposition: str) -> dict[Key, float]:
    """The drift samples of a /metrics answer, read with prometheus-client's parser."""
    found: dict[Key, float] = {}
    for family in text_string_to_metric_families(exposition):
        for sample in family.samples:
            if sample.name.startswith("banknote_input_"):
                labels = tuple(
                    sorted((k, float(v) if k == "le" else v) for k, v in sample.labels.items())
                )
                found[(sample.name, labels)] = sample.value
    return found


def assert_valid_histograms(exposition: str) -> None:
    """Every histogram series of a /metrics answer is well formed: `le` strictly ascending in
    the order served and ending in +Inf, counts cumulative (never falling), `_count` equal to
    the +Inf bucket, no sample twice (Prometheus' text format: docs/instrumenting/
    exposition_formats.md, "Histograms and summaries")."""
    for family in text_string_to_metric_families(exposition):
        if family.type != "histogram":
            continue
        seen: set[tuple[str, tuple[tuple[str, str], ...]]] = set()
        buckets: dict[tuple[tuple[str, str], ...], list[tuple[float, float]]] = {}
        counts: dict[tuple[tuple[str, str], ...], float] = {}
        for sample in family.samples:
            key = (sample.name, tuple(sorted(sample.labels.items())))
            assert key not in seen, f"{key} served twice"
            seen.add(key)
            series = tuple(sorted((k, v) for k, v in sample.labels.items() if k != "le"))
            if sample.name.endswith("_bucket"):
                le = float(sample.labels["le"])
                buckets.setdefault(series, []).append((le, sample.value))
            elif sample.name.endswith("_count"):
                counts[series] = sample.value
        for series, found in buckets.items():
            bounds = [le for le, _ in found]
            values = [value for _, value in found]
            assert bounds == sorted(set(bounds)), f"{family.name}{series}: bounds {bounds}"
            assert bounds[-1] == np.inf, f"{family.name}{series}: no +Inf bucket"
            assert values == sorted(values), f"{family.name}{series}: not cumulative {values}"
            assert counts.get(series, values[-1]) == values[-1], f"{family.name}{series}"


@dataclass
class Sent:
    """What `drive` sent and what the service answered."""

    singles: int = 0
    batches: int = 0
    inputs: list[list[float]] = field(default_factory=list)
    predictions: Counter[str] = field(default_factory=Counter)


def drive(
    url: str, singles: Sequence[Sequence[float]], batches: Sequence[Sequence[Sequence[float]]]
) -> Sent:
    """POST every single row to /predict and every batch to /predict/batch, 8 at a time, each
    on a new connection (so the kernel spreads them over the workers)."""
    sent = Sent()
    # A client per thread (no pool shared between threads), keeping no connection alive:
    # every request connects anew.
    local, clients = threading.local(), []

    def client() -> httpx.Client:
        if not hasattr(local, "client"):
            local.client = httpx.Client(
                limits=httpx.Limits(max_keepalive_connections=0), timeout=30
            )
            clients.append(local.client)
        own: httpx.Client = local.client
        return own

    def ask(rows: Sequence[Sequence[float]], batch: bool) -> list[str]:
        if batch:
            response = client().post(f"{url}/predict/batch", json=[note(r) for r in rows])
            response.raise_for_status()
            return [p["prediction"] for p in response.json()["predictions"]]
        response = client().post(f"{url}/predict", json=note(rows[0]))
        response.raise_for_status()
        return [response.json()["prediction"]]

    work = [([row], False) for row in singles] + [(rows, True) for rows in batches]
    try:
        with ThreadPoolExecutor(8) as pool:
            for answers in pool.map(lambda item: ask(*item), work):
                sent.predictions.update(answers)
    finally:
        for each in clients:
            each.close()
    sent.singles, sent.batches = len(singles), len(batches)
    sent.inputs = [list(row) for row in singles] + [list(r) for rows in batches for r in rows]
    return sent


T = TypeVar("T")


def once_shared(read: Callable[[], T], check: Callable[[T], None], timeout: float = 20.0) -> T:
    """`read()` until `check` passes on its value (raises no AssertionError); that value.

    Each worker writes its changes to the shared files at most SHARED_SYNC_SECONDS after them
    (api/metrics.py); a busy test machine can delay that, hence the generous timeout. Numbers
    that still do not add up by then fail with `check`'s own assertion.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = read()
        try:
            check(value)
        except AssertionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(SHARED_SYNC_SECONDS)
        else:
            return value
