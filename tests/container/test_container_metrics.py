"""The image with two workers on a read-only root: every scrape tells the exact totals.

Whichever worker takes a scrape must report what both answered: requests, predictions and the
input drift series. The expected drift figures are computed with numpy from the metadata.json
baked into the image (tests/traffic.py).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.container.support import FORGED_NOTE, GENUINE_NOTE, Container, docker
from tests.traffic import (
    FEATURES,
    assert_valid_histograms,
    drift_samples,
    drive,
    edge_rows,
    expected_drift,
    once_shared,
)

pytestmark = pytest.mark.container

GENUINE_COUNT, FORGED_COUNT = 180, 120
SCRAPES = 10
WORKERS_UP_TIMEOUT_S = 60.0
# Inside the container: each worker's predictions, from its own multiprocess file on /dev/shm.
PER_WORKER = """
import glob, json
from prometheus_client.mmap_dict import MmapedDict
found = {}
for path in glob.glob('/dev/shm/api-metrics-*/counter_*.db'):
    found[path] = sum(v for k, v, _t, _p in MmapedDict.read_all_values_from_file(path)
                      if json.loads(k)[1] == 'predictions_total')
print(json.dumps(found))
"""


def _wait_for_workers(container: Container, count: int) -> None:
    # /ready answers as soon as one worker is up; each worker logs "model loaded" once.
    deadline = time.monotonic() + WORKERS_UP_TIMEOUT_S
    while container.logs().count('"model loaded"') < count:
        if time.monotonic() > deadline:
            pytest.fail(f"{count} workers did not start; logs:\n{container.logs()}")
        time.sleep(0.2)


def _samples(exposition: str) -> dict[Any, float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(exposition)
        for sample in family.samples
    }


def _value(samples: dict[Any, float], name: str, **labels: str) -> float:
    return samples[(name, tuple(sorted(labels.items())))]


def test_two_workers_in_the_read_only_image_report_exact_totals(
    start_container: Callable[..., Container], image_artifact: dict[str, Any]
) -> None:
    container = start_container("--env", "WORKERS=2")
    assert container.inspect()["HostConfig"]["ReadonlyRootfs"] is True
    _wait_for_workers(container, 2)
    stats = image_artifact["feature_stats"]["features"]
    edges, out_of_range = edge_rows(stats)
    known = [[GENUINE_NOTE[f] for f in FEATURES]] * GENUINE_COUNT
    known += [[FORGED_NOTE[f] for f in FEATURES]] * FORGED_COUNT
    batches = [edges[i : i + 20] for i in range(0, len(edges), 20)]

    sent = drive(container.url, known + edges, batches)

    # Both workers answered some: one worker's numbers alone would be wrong.
    def all_counted(per_worker: dict[str, float]) -> None:
        assert len(per_worker) == 2, per_worker
        assert all(count > 0 for count in per_worker.values()), per_worker
        assert sum(per_worker.values()) == len(sent.inputs)

    once_shared(
        lambda: json.loads(docker("exec", container.id, "python", "-c", PER_WORKER).stdout),
        all_counted,
    )

    assert sent.predictions["genuine"] >= GENUINE_COUNT
    assert sent.predictions["forged"] >= FORGED_COUNT
    expected_drift_samples = expected_drift(stats, sent.inputs)
    # The two known notes lie inside the training ranges, so the out-of-range totals are
    # exactly the edge rows', sent twice (one by one, then in batches).
    for (feature, direction), count in out_of_range.items():
        key = (
            "banknote_input_out_of_range_total",
            (("direction", direction), ("feature", feature)),
        )
        assert expected_drift_samples[key] == 2 * count

    def exact(text: str) -> None:
        samples = _samples(text)
        assert (
            _value(samples, "predictions_total", prediction="genuine")
            == (sent.predictions["genuine"])
        )
        assert (
            _value(samples, "predictions_total", prediction="forged")
            == (sent.predictions["forged"])
        )
        for route, count in (("/predict", sent.singles), ("/predict/batch", sent.batches)):
            post = {"method": "POST", "route": route}
            assert _value(samples, "http_requests_total", **post, status="200") == count
            assert _value(samples, "http_request_duration_seconds_count", **post) == count
        assert drift_samples(text) == expected_drift_samples
        assert_valid_histograms(text)
        assert f'model_version="{image_artifact["model_version"]}"' in text

    # Request counters may reach the files one sync after the predictions.
    once_shared(lambda: httpx.get(f"{container.url}/metrics", timeout=10).text, exact)
    for _ in range(SCRAPES):  # each on a new connection, so both workers take some
        exact(httpx.get(f"{container.url}/metrics", timeout=10).text)
