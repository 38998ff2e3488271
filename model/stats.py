"""Per-feature statistics of the training rows: the ranges and quantiles serving watches."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from contract import QUANTILE_KEYS, QUANTILE_LEVELS, FeatureStats, FeatureStatsBlock

SOURCE = "training split (exact duplicates removed), the rows the model was fitted on"


def feature_stats(x_train: npt.NDArray[np.float64], names: Sequence[str]) -> FeatureStatsBlock:
    """Min, max and the contract's quantiles of each feature column of `x_train` (`names`)."""
    # Linear interpolation (numpy's default): quantiles stay ordered and inside [min, max].
    quantiles = np.quantile(x_train, QUANTILE_LEVELS, axis=0)
    return FeatureStatsBlock(
        rows=len(x_train),
        source=SOURCE,
        features={
            name: FeatureStats(
                min=float(x_train[:, column].min()),
                max=float(x_train[:, column].max()),
                quantiles={
                    key: float(value)
                    for key, value in zip(QUANTILE_KEYS, quantiles[:, column], strict=True)
                },
            )
            for column, name in enumerate(names)
        },
    )
