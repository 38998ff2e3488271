"""Two real uvicorn workers on loopback: /metrics tells the totals, whichever worker answers
(requests, predictions and input drift)."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.mmap_dict import MmapedDict

from api.metrics import Metrics
from tests.banknote import FORGED, GENUINE
from tests.traffic import (
    FEATURES,
    Sent,
    Stats,
    assert_valid_histograms,
    drift_samples,
    drive,
    edge_rows,
    expected_drift,
    once_shared,
    realistic_rows,
)

pytestmark = [pytest.mark.server, pytest.mark.slow]

GENUINE_COUNT, FORGED_COUNT = 140, 60
SCRAPES = 8


def _predictions_in(path: Path) -> float:
    """The predictions one worker counted, read from its own multiprocess file."""
    total = 0.0
    for key, value, _timestamp, _pos in MmapedDict.read_all_values_from_file(str(path)):
        if json.loads(key)[1] == "predictions_total":
            total += value
    return total


def _sample(text: str, pattern: str) -> float:
    found = re.findall(rf"^{pattern} (\S+)$", text, re.MULTILINE)
    assert len(found) == 1, f"{pattern!r} in:\n{text}"
    return float(found[0])


def _drive(url: str, stats: Stats) -> Sent:
    """GENUINE_COUNT + FORGED_COUNT known notes and the edge rows one by one, then the edge
    rows and some realistic rows again in batches; every request on a new connection (so the
    kernel hands them to both workers)."""
    edges, _ = edge_rows(stats)
    known = [[GENUINE[f] for f in FEATURES]] * GENUINE_COUNT
    known += [[FORGED[f] for f in FEATURES]] * FORGED_COUNT
    again = edges + realistic_rows(60)
    sent = drive(url, known + edges, [again[i : i + 25] for i in range(0, len(again), 25)])
    assert sent.predictions["genuine"] >= GENUINE_COUNT
    assert sent.predictions["forged"] >= FORGED_COUNT
    return sent


def _assert_exact(text: str, sent: Sent, expected: dict[Any, float]) -> None:
    """One scrape tells the exact totals of what `sent` sent."""
    for name in ("genuine", "forged"):
        assert (
            _sample(text, rf'predictions_total\{{prediction="{name}"\}}') == sent.predictions[name]
        )
    for route, count in (("/predict", sent.singles), ("/predict/batch", sent.batches)):
        assert (
            _sample(text, rf'http_requests_total\{{method="POST",route="{route}",status="200"\}}')
            == count
        )
        assert (
            _sample(
                text, rf'http_request_duration_seconds_count\{{method="POST",route="{route}"\}}'
            )
            == count
        )
    assert _sample(text, r"model_info\{[^}]*\}") == 1.0
    assert drift_samples(text) == expected
    assert_valid_histograms(text)


def _assert_totals(url: str, sent: Sent, stats: Stats) -> None:
    """Several scrapes, each on a new connection: every one tells the exact totals, once the
    workers' last changes reached the shared files."""
    expected = expected_drift(stats, sent.inputs)
    once_shared(
        lambda: httpx.get(f"{url}/metrics", timeout=10).text,
        lambda text: _assert_exact(text, sent, expected),
    )
    for _ in range(SCRAPES):
        _assert_exact(httpx.get(f"{url}/metrics", timeout=10).text, sent, expected)


def test_two_workers_report_totals(
    artifact_dir: Path, tmp_path: Path, start_server: Any, artifact_metadata: dict[str, Any]
) -> None:
    stats = artifact_metadata["feature_stats"]["features"]
    model_dir = tmp_path / "model"
    shutil.copytree(artifact_dir, model_dir)
    shared = tmp_path / "metrics"
    shared.mkdir()
    # Counts left by an earlier run in the same directory must not carry over.
    earlier = Metrics(shared, "99999")
    earlier.set_model("earlier-version", "2026-01-01T00:00:00Z")
    earlier.count_predictions("forged", 1000)
    earlier.close()

    own = start_server(model_dir, env={"WORKERS": "2", "PROMETHEUS_MULTIPROC_DIR": str(shared)})
    try:
        own.wait_ready()
        sent = _drive(own.url, stats)

        # Both workers answered predictions: one worker's numbers alone would be wrong.
        def all_counted(per_worker: list[float]) -> None:
            assert len(per_worker) == 2
            assert all(count > 0 for count in per_worker)
            assert sum(per_worker) == len(sent.inputs)

        once_shared(
            lambda: [_predictions_in(path) for path in sorted(shared.glob("counter_*.db"))],
            all_counted,
        )
        _assert_totals(own.url, sent, stats)
    finally:
        assert own.stop() == 0
    # A stopped worker's model_info goes with it; its counts stay until the next start.
    assert not list(shared.glob("gauge_*"))
    assert len(list(shared.glob("counter_*.db"))) == 2


def _children(pid: int) -> list[int]:
    return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def _environment(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    return dict(item.decode().split("=", 1) for item in raw if b"=" in item)


def test_two_workers_share_a_private_tmpfs_directory_removed_at_exit(
    artifact_dir: Path, tmp_path: Path, start_server: Any, artifact_metadata: dict[str, Any]
) -> None:
    stats = artifact_metadata["feature_stats"]["features"]
    model_dir = tmp_path / "model"
    shutil.copytree(artifact_dir, model_dir)
    own = start_server(model_dir, env={"WORKERS": "2", "ORT_INTRA_OP_THREADS": "1"})
    try:
        own.wait_ready()
        directories = {
            _environment(child).get("PROMETHEUS_MULTIPROC_DIR")
            for child in _children(own.process.pid)
        } - {None}
        # uvicorn's supervisor also starts a resource tracker; the workers carry the directory.
        assert len(directories) == 1
        shared = Path(str(directories.pop()))
        assert shared.parent == Path("/dev/shm")
        _assert_totals(own.url, _drive(own.url, stats), stats)
        assert len(list(shared.glob("counter_*.db"))) == 2
    finally:
        assert own.stop() == 0
    assert not shared.exists()
    # Each worker loaded and checked its own copy of the model, with one ORT thread.
    loaded = [line for line in own.output().splitlines() if '"model loaded"' in line]
    assert len(loaded) == 2
    assert all(json.loads(line)["ort_intra_op_threads"] == 1 for line in loaded)
