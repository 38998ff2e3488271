"""Input drift: how the rows the service scores compare with the rows the model was fitted on.

Training records each feature's range and quantiles (metadata.json `feature_stats`, format 2).
For every scored row this module counts, per feature, whether the value lies below the
training minimum or above the training maximum (a value equal to either is in range), and in
which quantile bucket it falls. api/metrics.py turns the counts into Prometheus series.

Counting is vectorised: one call counts a whole [N, features] array with a few numpy
operations, so /predict/batch counts its rows in the worker thread that scores them, and
/predict rows are gathered and counted many at a time (api/metrics.py says when).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from contract import FeatureStatsBlock

DIRECTIONS = ("below", "above")


@dataclass(frozen=True, slots=True)
class InputCounts:
    """What one call of `DriftReference.count` found, per feature (in the reference's order)."""

    below: tuple[int, ...]  # values < the training minimum
    above: tuple[int, ...]  # values > the training maximum
    # Non-cumulative bucket counts: bucket i holds values in (bound[i-1], bound[i]]; the last
    # one holds the values above the highest bound (Prometheus' le="+Inf" minus the rest).
    buckets: tuple[tuple[int, ...], ...]


class DriftReference:
    """The training ranges and quantile bucket bounds of each feature, ready to count against.

    Immutable after construction, so `count` is safe from any thread.
    """

    def __init__(self, stats: FeatureStatsBlock) -> None:
        """Take the features, in order, from training's `feature_stats`."""
        self.features = tuple(stats.features)
        self.minimum = tuple(s.min for s in stats.features.values())
        self.maximum = tuple(s.max for s in stats.features.values())
        # Repeated quantiles (a constant or zeroed feature) are merged: a Prometheus histogram
        # needs strictly increasing bounds, and equal bounds would be one series twice.
        self.bounds = tuple(s.bucket_bounds() for s in stats.features.values())
        self._min = np.array(self.minimum, dtype=np.float64)
        self._max = np.array(self.maximum, dtype=np.float64)
        # All features' bounds in one [features, most bounds] array, padded with +inf: a value
        # is never above +inf, so a padding column counts every row and drops out below.
        widest = max(len(b) for b in self.bounds)
        self._padded = np.full((len(self.bounds), widest), np.inf)
        for index, bounds in enumerate(self.bounds):
            self._padded[index, : len(bounds)] = bounds

    def limits(self) -> tuple[object, ...]:
        """What the counts depend on (features, minima, maxima, bucket bounds), comparable."""
        return self.features, self.minimum, self.maximum, self.bounds

    def count(self, features: NDArray[np.float64]) -> InputCounts:
        """Count an [N, features] array of finite values (N >= 1)."""
        rows = features.shape[0]
        # One contiguous row per feature: counting along it is ~7x faster than counting down
        # the columns of the row-major input (0.05 vs 0.33 ms per count for 10,000 rows).
        columns = np.ascontiguousarray(features.T)
        below = np.count_nonzero(columns < self._min[:, None], axis=1).tolist()
        above = np.count_nonzero(columns > self._max[:, None], axis=1).tolist()
        # at_most[f, i]: rows whose feature f is <= its i-th bound (Prometheus' cumulative `le`).
        at_most = (columns[:, None, :] <= self._padded[:, :, None]).sum(axis=2)
        cumulative = np.concatenate([at_most, np.full((len(self.bounds), 1), rows)], axis=1)
        per_bucket = np.diff(cumulative, axis=1, prepend=0).tolist()
        return InputCounts(
            below=tuple(below),
            above=tuple(above),
            buckets=tuple(
                tuple(counts[: len(bounds) + 1])
                for counts, bounds in zip(per_bucket, self.bounds, strict=True)
            ),
        )
