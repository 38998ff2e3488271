"""One worker's series in prometheus-client's multiprocess files, for MultiProcessCollector.

With several workers (`--workers N`, which sets PROMETHEUS_MULTIPROC_DIR; see
api/metrics_dir.py) each worker copies the series it changed into its own files in that
directory, and any worker's /metrics answers with prometheus-client's MultiProcessCollector:
the totals of all workers.

The files are written with prometheus-client's own writer (`MmapedDict`, keys from
`mmap_key`), which lives in a module the library does not document as public. Its public
Counter and Histogram write the same files, but on every observation, under a lock, with one
bucket layout per family (the drift histogram has one per feature); see api/metric_families.py
for the cost. tests/api/test_metric_files.py checks on every run that these files read back
exactly as the files prometheus-client's own public metrics write; when an upgrade breaks it,
that test (or the import below) says what to do.
"""

from __future__ import annotations

import math
from importlib.metadata import version
from pathlib import Path

from api.metric_families import CounterFamily, HistogramFamily, Labels

try:
    from prometheus_client.mmap_dict import MmapedDict, mmap_key
except ImportError as error:  # pragma: no cover - only after an incompatible upgrade
    raise ImportError(
        f"prometheus-client {version('prometheus-client')} no longer has "
        "prometheus_client.mmap_dict (MmapedDict, mmap_key), which api/metric_files.py uses to "
        "share metrics between workers. Pin the last prometheus-client that has it in "
        "pyproject.toml, or port WorkerFiles to the new writer and run "
        "tests/api/test_metric_files.py."
    ) from error


class WorkerFiles:
    """One worker's series in prometheus-client's multiprocess file format.

    Files are named as MultiProcessCollector expects: `counter_<id>.db`, `histogram_<id>.db`,
    and `gauge_livemax_<id>.db` for live gauges (model_info: removed when the worker stops).
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

    def write_live_gauge(
        self, name: str, documentation: str, labelnames: Labels, labels: Labels, value: float
    ) -> None:
        """Set a gauge that counts only while this worker lives (`multiprocess_mode="livemax"`)."""
        key = mmap_key(name, name, list(labelnames), list(labels), documentation)
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
