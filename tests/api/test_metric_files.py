"""WorkerFiles writes what prometheus-client's own multiprocess metrics write.

api/metric_files.py writes the multiprocess files with prometheus-client's undocumented
`prometheus_client.mmap_dict` (MmapedDict, mmap_key). A dependency update may change it without
notice, so this test records the same observations twice: once with prometheus-client's public
Counter, Histogram and Gauge in multiprocess mode (a subprocess with PROMETHEUS_MULTIPROC_DIR
set, as its docs describe: prometheus/client_python docs/content/multiprocess/_index.md), once
with WorkerFiles, and reads both directories with the public MultiProcessCollector. They must
agree sample for sample.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

from api.metric_families import CounterFamily, HistogramFamily
from api.metric_files import WorkerFiles
from api.metrics import LATENCY_BUCKETS, MODEL_INFO, MODEL_INFO_HELP, MODEL_INFO_LABELS

UPGRADE_HINT = (
    f"prometheus-client {version('prometheus-client')} reads WorkerFiles' files differently "
    "from its own: its private mmap_dict changed. Port api/metric_files.py to the new format, or "
    "pin the last prometheus-client this test passed with in pyproject.toml (make lock)."
)
REQUESTS = ("http_requests", "HTTP requests answered.", ("method", "route", "status"))
LATENCY = ("http_request_duration_seconds", "Time to answer.", ("method", "route"))
REQUEST_COUNTS = {("POST", "/predict", "200"): 7.0, ("GET", "/", "404"): 2.0}
DURATIONS = {("POST", "/predict"): [0.0004, 0.002, 0.002, 3.0], ("GET", "/"): [0.07]}
MODEL = ("20260101T000000Z-abc-123", "2026-01-01T00:00:00Z")

# prometheus-client's public metrics, one observation at a time (the arguments come as JSON).
PUBLIC_WRITER = """
import json, sys
from prometheus_client import Counter, Gauge, Histogram
spec = json.loads(sys.argv[1])
requests = Counter(*spec["requests"])
for labels, amount in spec["request_counts"]:
    requests.labels(*labels).inc(amount)
latency = Histogram(*spec["latency"], buckets=spec["bounds"])
for labels, values in spec["durations"]:
    for value in values:
        latency.labels(*labels).observe(value)
info = Gauge(spec["model_info"], spec["model_help"], spec["model_labels"],
             multiprocess_mode="livemax")
info.labels(*spec["model"]).set(1)
"""


def exposition(directory: Path) -> list[str]:
    """What /metrics answers for the files in `directory` (several workers' mode), sorted by
    line: the collector's order follows its directory listing, which may differ."""
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=str(directory))
    return sorted(generate_latest(registry).decode().splitlines())


def test_worker_files_read_back_like_prometheus_clients_own(tmp_path: Path) -> None:
    public_dir, ours_dir = tmp_path / "public", tmp_path / "ours"
    public_dir.mkdir()
    ours_dir.mkdir()
    spec = {
        "requests": [REQUESTS[0], REQUESTS[1], list(REQUESTS[2])],
        "latency": [LATENCY[0], LATENCY[1], list(LATENCY[2])],
        "bounds": list(LATENCY_BUCKETS),
        "request_counts": [[list(k), v] for k, v in REQUEST_COUNTS.items()],
        "durations": [[list(k), v] for k, v in DURATIONS.items()],
        "model_info": MODEL_INFO,
        "model_help": MODEL_INFO_HELP,
        "model_labels": list(MODEL_INFO_LABELS),
        "model": list(MODEL),
    }
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(public_dir)}
    subprocess.run(
        [sys.executable, "-c", PUBLIC_WRITER, json.dumps(spec)], env=env, check=True, timeout=60
    )

    requests = CounterFamily(*REQUESTS)
    for labels, amount in REQUEST_COUNTS.items():
        requests.inc(labels, amount)
    latency = HistogramFamily(*LATENCY, LATENCY_BUCKETS)
    for labels, values in DURATIONS.items():
        for value in values:
            latency.observe(labels, value)
    files = WorkerFiles(ours_dir, "1")
    for labels in requests.changed:
        files.write_counter(requests, labels, requests.values[labels])
    for labels in latency.changed:
        files.write_histogram(latency, labels, latency.series[labels])
    files.write_live_gauge(MODEL_INFO, MODEL_INFO_HELP, MODEL_INFO_LABELS, MODEL, 1.0)

    public = exposition(public_dir)
    # The public side wrote every family (a failed write would make both sides empty).
    for name in ("http_requests_total{", "http_request_duration_seconds_bucket{", "model_info{"):
        assert any(line.startswith(name) for line in public), name
    assert exposition(ours_dir) == public, UPGRADE_HINT
    files.close()
    # A stopped worker's live gauge goes (prometheus-client: mark_process_dead), counts stay.
    after = exposition(ours_dir)
    assert not any(line.startswith("model_info{") for line in after)
    assert any(line.startswith('http_requests_total{method="POST"') for line in after)
