"""Metrics kept in process and shared between workers through prometheus-client's files."""

from __future__ import annotations

import asyncio
import json
import math
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client.parser import text_string_to_metric_families

from api import metrics_dir
from api.drift import DriftReference
from api.metrics import DRIFT_PENDING_ROWS, SHARED_SYNC_SECONDS, Metrics
from contract import QUANTILE_KEYS, FeatureStatsBlock
from tests.event_loop import run_on_own_loop
from tests.traffic import (
    assert_valid_histograms,
    drift_samples,
    edge_rows,
    expected_drift,
    realistic_rows,
)

REPO = Path(__file__).resolve().parents[2]
MODEL = ("20260101T000000Z-abc-123", "2026-01-01T00:00:00Z")


def samples(exposition: bytes) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of the exposition, keyed by name and sorted labels."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(exposition.decode())
        for sample in family.samples
    }


def service_samples(exposition: bytes) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """The service's own samples (process and python_info left out)."""
    prefixes = ("http_", "predictions_", "model_info")
    return {key: v for key, v in samples(exposition).items() if key[0].startswith(prefixes)}


@pytest.fixture
def shared(tmp_path: Path) -> Iterator[Callable[..., Metrics]]:
    """Makes workers' Metrics on one directory (default: tmp_path); closes them afterwards."""
    made: list[Metrics] = []

    def make(worker_id: str, directory: Path = tmp_path) -> Metrics:
        metrics = Metrics(directory, worker_id)
        made.append(metrics)
        return metrics

    yield make
    for metrics in made:
        metrics.close()


def record(metrics: Metrics, seconds: list[float], predictions: list[str]) -> None:
    for duration in seconds:
        metrics.observe_request("POST", "/predict", 200, duration)
    metrics.observe_request("GET", "<unmatched>", 404, 0.0001)
    metrics.observe_request("BREW", "<unmatched>", 405, 0.0001)
    for name in predictions:
        metrics.count_predictions(name)


def test_in_process_exposition() -> None:
    metrics = Metrics()
    metrics.set_model(*MODEL)
    record(metrics, [0.0004, 0.002, 0.002, 3.0], ["genuine", "forged", "genuine"])
    got = samples(metrics.render())
    post = (("method", "POST"), ("route", "/predict"))
    assert got[("http_requests_total", (*post, ("status", "200")))] == 4
    assert (
        got[
            (
                "http_requests_total",
                (("method", "OTHER"), ("route", "<unmatched>"), ("status", "405")),
            )
        ]
        == 1
    )
    assert got[("http_request_duration_seconds_bucket", (("le", "0.0005"), *post))] == 1
    assert got[("http_request_duration_seconds_bucket", (("le", "0.0025"), *post))] == 3
    assert got[("http_request_duration_seconds_bucket", (("le", "2.5"), *post))] == 3
    assert got[("http_request_duration_seconds_bucket", (("le", "+Inf"), *post))] == 4
    assert got[("http_request_duration_seconds_count", post)] == 4
    assert got[("http_request_duration_seconds_sum", post)] == pytest.approx(3.0044)
    assert got[("predictions_total", (("prediction", "genuine"),))] == 2
    assert got[("model_info", (("created_at", MODEL[1]), ("model_version", MODEL[0])))] == 1
    assert ("process_resident_memory_bytes", ()) in got


def test_two_workers_sharing_files_report_the_totals(shared: Callable[..., Metrics]) -> None:
    # Two workers as two Metrics on one directory; the reference counts everything in one.
    first, second = shared("101"), shared("102")
    reference = Metrics()
    for metrics in (first, second, reference):
        metrics.set_model(*MODEL)
    record(first, [0.0004, 0.002], ["genuine", "forged"])
    record(second, [0.03, 3.0, 0.0001], ["genuine"])
    record(reference, [0.0004, 0.002, 0.03, 3.0, 0.0001], ["genuine", "forged", "genuine"])
    record(reference, [], [])  # each worker answered one 404 and one 405
    # No event loop here, so every change is shared at once; a scrape sees both workers.
    expected = service_samples(reference.render())
    assert service_samples(first.render()) == pytest.approx(expected)
    assert service_samples(second.render()) == pytest.approx(expected)
    # Process metrics of one worker would be a fraction of the truth: not reported.
    assert not any(name.startswith("process_") for name, _ in samples(first.render()))


def test_changes_made_on_the_event_loop_are_shared_within_the_sync_interval(
    shared: Callable[..., Metrics],
) -> None:
    worker, scraper = shared("201"), shared("202")
    worker.set_model(*MODEL)
    scraper.set_model(*MODEL)
    key = ("predictions_total", (("prediction", "forged"),))

    async def scenario() -> tuple[float, float, float]:
        for _ in range(5):
            worker.count_predictions("forged")
        before = samples(scraper.render()).get(key, 0.0)  # same iteration: not yet written
        await asyncio.sleep(0)  # the loop turns: still gathering (one sync per interval)
        gathering = samples(scraper.render()).get(key, 0.0)
        # A timer due later than the sync's runs after it (asyncio orders timers by deadline).
        await asyncio.sleep(2 * SHARED_SYNC_SECONDS)
        return before, gathering, samples(scraper.render())[key]

    assert run_on_own_loop(scenario()) == (0.0, 0.0, 5.0)


def test_a_stopped_worker_keeps_its_counts_but_not_its_model(
    shared: Callable[..., Metrics], tmp_path: Path
) -> None:
    old, new = shared("301"), shared("302")
    old.set_model("old-version", "2026-01-01T00:00:00Z")
    new.set_model(*MODEL)
    old.count_predictions("genuine", 7)
    new.count_predictions("genuine", 1)
    old.close()
    got = samples(new.render())
    assert got[("predictions_total", (("prediction", "genuine"),))] == 8
    versions = {dict(labels)["model_version"] for name, labels in got if name == "model_info"}
    assert versions == {MODEL[0]}
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "counter_301.db",
        "counter_302.db",
        "gauge_livemax_302.db",
        "histogram_301.db",
        "histogram_302.db",
    ]


class TestMetricsDir:
    def test_one_worker_keeps_metrics_in_process(self) -> None:
        assert metrics_dir.prepare(None, 1) == (None, False)

    def test_several_workers_get_a_fresh_private_directory_each_start(self) -> None:
        first, made_first = metrics_dir.prepare(None, 2)
        second, made_second = metrics_dir.prepare(None, 2)
        try:
            assert made_first
            assert made_second
            assert first is not None
            assert second is not None
            assert first != second
            assert first.parent == metrics_dir.TMPFS  # a tmpfs, writable under --read-only
            assert list(first.iterdir()) == []
            assert first.stat().st_mode & 0o777 == 0o700
        finally:
            for directory in (first, second):
                if directory is not None:
                    metrics_dir.remove(directory)
        assert not first.exists()

    def test_a_configured_directory_is_created_or_wiped(
        self, shared: Callable[..., Metrics], tmp_path: Path
    ) -> None:
        target = tmp_path / "metrics"
        assert metrics_dir.prepare(target, 2) == (target, False)
        stale = shared("999", target)
        stale.set_model(*MODEL)
        stale.count_predictions("forged", 1000)  # a previous run's counts
        stale.close()
        (target / "notes.txt").write_text("not ours")
        assert metrics_dir.prepare(target, 1) == (target, False)
        assert sorted(p.name for p in target.iterdir()) == ["notes.txt"]
        fresh = shared("1000", target)
        fresh.set_model(*MODEL)
        assert ("predictions_total", (("prediction", "forged"),)) not in samples(fresh.render())

    def test_an_unusable_directory_is_one_clear_error(self, tmp_path: Path) -> None:
        blocker = tmp_path / "file"
        blocker.write_text("")
        with pytest.raises(metrics_dir.MetricsDirError, match="not a writable directory"):
            metrics_dir.prepare(blocker / "metrics", 2)

    def test_no_writable_place_is_one_clear_error(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        # As in a read-only container without /dev/shm: tempfile finds no usable directory.
        blocker = tmp_path / "file"
        blocker.write_text("")
        monkeypatch.setattr(metrics_dir, "TMPFS", blocker / "shm")

        def no_tempdir() -> str:
            raise FileNotFoundError(2, "No usable temporary directory found")

        monkeypatch.setattr(metrics_dir.tempfile, "gettempdir", no_tempdir)
        with pytest.raises(metrics_dir.MetricsDirError, match="PROMETHEUS_MULTIPROC_DIR"):
            metrics_dir.prepare(None, 2)

    def test_the_command_line_says_so_in_one_line(self, tmp_path: Path, artifact_dir: Path) -> None:
        blocker = tmp_path / "file"
        blocker.write_text("")
        result = subprocess.run(
            [sys.executable, "-m", "api", "--workers", "2", "--model-dir", str(artifact_dir)],
            cwd=REPO,
            env={"PROMETHEUS_MULTIPROC_DIR": str(blocker), "PATH": "/usr/bin:/bin"},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 2
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1
        assert "PROMETHEUS_MULTIPROC_DIR" in lines[0]
        assert "Traceback" not in result.stderr


# Input drift: the families that count inputs against the training statistics.


def _statistics(artifact_metadata: dict[str, Any], constant: bool = False) -> dict[str, Any]:
    """The artifact's feature_stats; with `constant`, variance zeroed (every quantile, min and
    max 0) and curtosis' lowest three quantiles equal to its 25 % one."""
    stats: dict[str, Any] = json.loads(json.dumps(artifact_metadata["feature_stats"]))
    if constant:
        stats["features"]["variance"] = {
            "min": 0.0,
            "max": 0.0,
            "quantiles": dict.fromkeys(QUANTILE_KEYS, 0.0),
        }
        curtosis = stats["features"]["curtosis"]["quantiles"]
        for key in ("0.01", "0.05", "0.1"):
            curtosis[key] = curtosis["0.25"]
    return stats


def _reference(stats: dict[str, Any]) -> DriftReference:
    return DriftReference(FeatureStatsBlock.model_validate(stats))


@pytest.mark.parametrize("constant", [False, True], ids=["trained", "constant-feature"])
def test_drift_counts_in_process_and_shared_agree_with_numpy(
    shared: Callable[..., Metrics], artifact_metadata: dict[str, Any], constant: bool
) -> None:
    stats = _statistics(artifact_metadata, constant)
    reference = _reference(stats)
    rows = edge_rows(stats["features"])[0] + realistic_rows(3 * DRIFT_PENDING_ROWS)
    # Worker 1 counts single notes (more than DRIFT_PENDING_ROWS, so the list is counted
    # before any scrape as well), worker 2 the rest as batches counted like /predict/batch.
    singles, batches = rows[: 2 * DRIFT_PENDING_ROWS + 7], rows[2 * DRIFT_PENDING_ROWS + 7 :]
    first, second, alone = shared("401"), shared("402"), Metrics()
    for metrics in (first, second, alone):
        metrics.watch_inputs(reference, "banknote")
        metrics.set_model(*MODEL)
    for row in singles:
        first.count_input(row)
        alone.count_input(row)
    for start in range(0, len(batches), 50):
        counts = reference.count(np.array(batches[start : start + 50]))
        second.add_input_counts(counts)
        alone.add_input_counts(counts)
    # The bounds each series is served with are the statistics' quantiles, each once.
    expected = expected_drift(stats["features"], rows)
    for metrics in (alone, first, second):
        text = metrics.render().decode()
        assert drift_samples(text) == expected
        assert_valid_histograms(text)


def test_waiting_notes_are_shared_within_the_sync_interval(
    shared: Callable[..., Metrics], artifact_metadata: dict[str, Any]
) -> None:
    reference = _reference(_statistics(artifact_metadata))
    worker, scraper = shared("501"), shared("502")
    for metrics in (worker, scraper):
        metrics.watch_inputs(reference, "banknote")
        metrics.set_model(*MODEL)
    low = [reference.minimum[0] - 1.0, *[bounds[4] for bounds in reference.bounds[1:]]]
    key = (
        "banknote_input_out_of_range_total",
        (("direction", "below"), ("feature", "variance")),
    )

    async def scenario() -> tuple[float, float]:
        for _ in range(3):
            worker.count_input(low)
        before = drift_samples(scraper.render().decode())[key]  # same iteration: not yet
        await asyncio.sleep(2 * SHARED_SYNC_SECONDS)  # the worker counts and shares them
        return before, drift_samples(scraper.render().decode())[key]

    assert run_on_own_loop(scenario()) == (0.0, 3.0)


def test_the_same_statistics_keep_counting_and_others_are_refused(
    artifact_metadata: dict[str, Any],
) -> None:
    # The lifespan runs again when an app is started again (TestClient, schemathesis).
    stats = _statistics(artifact_metadata)
    metrics = Metrics()
    metrics.watch_inputs(_reference(stats), "banknote")
    rows = edge_rows(stats["features"])[0]
    for row in rows:
        metrics.count_input(row)
    metrics.watch_inputs(_reference(stats), "banknote")
    assert drift_samples(metrics.render().decode()) == expected_drift(stats["features"], rows)
    with pytest.raises(RuntimeError, match="other training statistics"):
        metrics.watch_inputs(_reference(_statistics(artifact_metadata, constant=True)), "banknote")


def _values(reference: DriftReference) -> st.SearchStrategy[float]:
    # Values at the bounds and the range ends, a hair either side of them, and anywhere.
    edges = sorted(
        {v for bounds in reference.bounds for v in bounds}
        | set(reference.minimum)
        | set(reference.maximum)
    )
    near = [math.nextafter(v, direction) for v in edges for direction in (-math.inf, math.inf)]
    return st.one_of(
        st.sampled_from(edges + near),
        st.floats(min_value=-30, max_value=30),
        st.floats(allow_nan=False, allow_infinity=False),
    )


@pytest.mark.parametrize("constant", [False, True], ids=["trained", "constant-feature"])
def test_vectorised_counts_equal_numpy_for_any_rows(
    artifact_metadata: dict[str, Any], constant: bool
) -> None:
    stats = _statistics(artifact_metadata, constant)
    reference = _reference(stats)
    rows = st.lists(st.lists(_values(reference), min_size=4, max_size=4), min_size=1, max_size=40)

    @settings(max_examples=60, deadline=None)
    @given(rows=rows)
    def check(rows: list[list[float]]) -> None:
        metrics = Metrics()
        metrics.watch_inputs(reference, "banknote")
        metrics.add_input_counts(reference.count(np.array(rows, dtype=np.float64)))
        assert drift_samples(metrics.render().decode()) == expected_drift(stats["features"], rows)

    check()


def test_every_class_is_counted_from_zero_at_start_up(fresh_client: Any) -> None:
    # rate() needs two samples of a series: one that first appeared at its first increment
    # would lose that prediction. So each class of the served model starts at 0.
    def predictions() -> dict[str, float]:
        text = fresh_client.get("/metrics").text
        (family,) = [f for f in text_string_to_metric_families(text) if f.name == "predictions"]
        return {
            s.labels["prediction"]: s.value for s in family.samples if s.name.endswith("_total")
        }

    classes = [c["name"] for c in fresh_client.get("/model").json()["classes"]]
    assert predictions() == dict.fromkeys(classes, 0.0)
    example = fresh_client.get("/model").json()["examples"][0]
    answer = fresh_client.post("/predict", json=example["features"]).json()
    assert predictions() == {name: float(name == answer["prediction"]) for name in classes}
