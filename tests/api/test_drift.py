"""Input drift in /metrics: out-of-range counts and quantile histograms, per feature.

Expected figures come from tests/traffic.py, which computes them with numpy straight from
metadata.json's feature_stats (not through api/drift.py).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from api.config import Settings
from api.main import create_app
from contract import METADATA_FILE, QUANTILE_KEYS
from tests.traffic import (
    FEATURES,
    OUT_OF_RANGE,
    VALUE,
    Stats,
    assert_valid_histograms,
    drift_samples,
    edge_rows,
    expected_drift,
    note,
    realistic_rows,
)

BATCH_LIMIT = 50  # the test settings' max_batch_rows


def _scrape(client: TestClient) -> dict[Any, float]:
    response = client.get("/metrics")
    assert response.status_code == 200
    return drift_samples(response.text)


def _out_of_range(samples: dict[Any, float]) -> dict[tuple[str, str], float]:
    return {
        (dict(labels)["feature"], dict(labels)["direction"]): value
        for (name, labels), value in samples.items()
        if name == OUT_OF_RANGE
    }


def _post_batches(client: TestClient, rows: list[list[float]]) -> None:
    for start in range(0, len(rows), BATCH_LIMIT):
        chunk = rows[start : start + BATCH_LIMIT]
        response = client.post("/predict/batch", json=[note(r) for r in chunk])
        assert response.status_code == 200
        assert response.json()["count"] == len(chunk)


@pytest.fixture
def stats(artifact_metadata: dict[str, Any]) -> Stats:
    """The served model's training statistics, as metadata.json records them."""
    features: Stats = artifact_metadata["feature_stats"]["features"]
    return features


def test_every_series_starts_at_zero(fresh_client: TestClient, stats: Stats) -> None:
    got = _scrape(fresh_client)
    assert got == expected_drift(stats, [])
    assert set(_out_of_range(got)) == {(f, d) for f in FEATURES for d in ("below", "above")}


def test_single_and_batch_inputs_are_counted_per_feature_and_direction(
    fresh_client: TestClient, stats: Stats
) -> None:
    rows, out_of_range = edge_rows(stats)
    # Feature i is below its minimum in i + 1 rows and above its maximum in i + 2; the rows
    # exactly at the minimum, the maximum and each bucket bound are in range.
    assert out_of_range == {
        ("variance", "below"): 1,
        ("variance", "above"): 2,
        ("skewness", "below"): 2,
        ("skewness", "above"): 3,
        ("curtosis", "below"): 3,
        ("curtosis", "above"): 4,
        ("entropy", "below"): 4,
        ("entropy", "above"): 5,
    }

    for row in rows:
        assert fresh_client.post("/predict", json=note(row)).status_code == 200
    text = fresh_client.get("/metrics").text
    got = drift_samples(text)
    assert _out_of_range(got) == out_of_range
    assert got == expected_drift(stats, rows)
    assert_valid_histograms(text)

    _post_batches(fresh_client, rows)  # the same rows again, through /predict/batch
    got = _scrape(fresh_client)
    assert _out_of_range(got) == {key: 2 * count for key, count in out_of_range.items()}
    assert got == expected_drift(stats, rows + rows)

    realistic = realistic_rows(120)
    _post_batches(fresh_client, realistic)
    assert _scrape(fresh_client) == expected_drift(stats, rows + rows + realistic)


def test_rejected_input_is_not_counted(fresh_client: TestClient, stats: Stats) -> None:
    rows, _ = edge_rows(stats)
    bad = {**note(rows[0]), "entropy": "high"}
    assert fresh_client.post("/predict", json=bad).status_code == 422
    assert fresh_client.post("/predict/batch", json=[note(rows[0]), bad]).status_code == 422
    assert _scrape(fresh_client) == expected_drift(stats, [])


def test_help_says_what_the_buckets_are(fresh_client: TestClient) -> None:
    families = {
        f.name: f for f in text_string_to_metric_families(fresh_client.get("/metrics").text)
    }
    histogram = families[VALUE]
    assert histogram.type == "histogram"
    assert "training-data quantiles at 1, 5, 10, 25, 50, 75, 90, 95, 99 %" in (
        histogram.documentation
    )
    counter = families[OUT_OF_RANGE.removesuffix("_total")]
    assert counter.type == "counter"
    assert "below the training minimum" in counter.documentation
    # No _sum: a sum of values that can be negative is not a counter.
    assert not any(s.name == f"{VALUE}_sum" for s in histogram.samples)


def test_drift_metrics_can_be_turned_off(settings: Settings) -> None:
    app = create_app(settings.model_copy(update={"drift_metrics": False}))
    with TestClient(app) as client:
        assert client.post("/predict", json=note([0.0, 0.0, 0.0, 0.0])).status_code == 200
        assert client.post("/predict/batch", json=[note([99.0] * 4)]).status_code == 200
        text = client.get("/metrics").text
    assert "banknote_input_" not in text
    assert 'predictions_total{prediction="' in text


def _constant_stats(stats: Stats) -> dict[str, Any]:
    """`stats` with variance zeroed (every quantile, min and max 0, as a model trained on a
    zeroed column records it) and entropy's four lowest quantiles equal."""
    edited = json.loads(json.dumps(stats))
    edited["variance"] = {"min": 0.0, "max": 0.0, "quantiles": dict.fromkeys(QUANTILE_KEYS, 0.0)}
    entropy = edited["entropy"]["quantiles"]
    for key in ("0.01", "0.05", "0.1"):
        entropy[key] = entropy["0.25"]
    return dict(edited)


@pytest.fixture
def constant_client(artifact_copy: Path, settings: Settings) -> Iterator[tuple[TestClient, Any]]:
    """A service whose artifact records a constant variance and repeated entropy quantiles."""
    path = artifact_copy / METADATA_FILE
    metadata = json.loads(path.read_text())
    edited = _constant_stats(metadata["feature_stats"]["features"])
    metadata["feature_stats"]["features"] = edited
    path.write_text(json.dumps(metadata, indent=2))
    app = create_app(settings.model_copy(update={"model_dir": artifact_copy}))
    with TestClient(app) as client:
        yield client, edited


def test_a_constant_feature_still_gives_valid_buckets(
    constant_client: tuple[TestClient, Any],
) -> None:
    client, stats = constant_client
    medians = [stats[f]["quantiles"]["0.5"] for f in FEATURES]
    singles = [[0.0, *medians[1:]], [-1e-9, *medians[1:]], [2.0, *medians[1:]]]
    batch = [[0.0, *medians[1:]], [0.0, *medians[1:]], [-3.0, *medians[1:]]]
    for row in singles:
        assert client.post("/predict", json=note(row)).status_code == 200
    assert client.post("/predict/batch", json=[note(r) for r in batch]).status_code == 200

    text = client.get("/metrics").text
    got = drift_samples(text)  # prometheus-client's parser reads it
    assert got == expected_drift(stats, singles + batch)
    assert _out_of_range(got)[("variance", "below")] == 2
    assert _out_of_range(got)[("variance", "above")] == 1
    bounds = {
        feature: sorted(dict(labels)["le"] for name, labels in got if name == f"{VALUE}_bucket"
                        and dict(labels)["feature"] == feature)
        for feature in FEATURES
    }  # fmt: skip
    assert bounds["variance"] == [0.0, float("inf")]  # nine equal quantiles: one bound
    assert len(bounds["entropy"]) == 9 - 3 + 1
    assert len(bounds["skewness"]) == 9 + 1

    assert_valid_histograms(text)
