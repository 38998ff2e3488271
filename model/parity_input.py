"""Terms 1 and 2 of the parity bound: what float32 inputs do to the float64 estimator.

Measured, not derived, so they hold for any estimator with `predict_proba`: the estimator is
scored on the rows as given; at the lowest doubles that round to the same float32 (where a
graph's threshold comparisons of rounded values fall); on the rows rounded to float32 (what its
arithmetic sees); and on the rounded rows moved by the first layer's rounding, one feature and
one direction at a time. For a tree ensemble fed the raw inputs, the first of these is exact
and the others are not needed. model/parity.py says why these are the right points.
"""

from __future__ import annotations

from typing import Final

import numpy as np
import numpy.typing as npt
from sklearn.base import BaseEstimator
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.ensemble._forest import ForestClassifier
from sklearn.tree import BaseDecisionTree

FloatArray = npt.NDArray[np.float64]

UNIT_ROUNDOFF: Final = 2.0**-24  # float32: every rounding is within this relative error
# The roundings a graph's first layer makes between an input and the fitted number it meets,
# counted for the worst case (ai.onnx.ml Scaler, see model/parity.py): the input's, the
# offset's, the difference's, and the scale's with the product's, which round (x - offset)
# and so count at most 2 (|x| + |offset|).
FIRST_LAYER_ROUNDINGS: Final = 4
# Rows per block: every block scores up to (2 * features + 3) copies of its rows at once.
BLOCK_ELEMENTS: Final = 4_000_000
# Estimators whose export meets the raw inputs with threshold comparisons and nothing else
# (TreeEnsembleClassifier, BRANCH_LEQ), their thresholds either rounded to nearest float32
# (HistGradientBoosting: skl2onnx/common/tree_ensemble.py, `add_node`, without
# `sklearn_threshold`) or picked to compare as scikit-learn's own float32 comparisons do
# (forests and trees, whose inputs scikit-learn casts to float32: `sklearn_threshold`).
COMPARING_ONLY: Final = (HistGradientBoostingClassifier, ForestClassifier, BaseDecisionTree)


def input_rounding_terms(estimator: BaseEstimator, features: FloatArray) -> FloatArray:
    """Per row, the largest probability change float32 rounding of the input can cause.

    For a tree ensemble fed the raw inputs, |f(lowest_double(x)) - f(x)|: the change the
    export's branches really make. For any other estimator, the larger of that and
    |f(float32(x)) - f(x)|, plus the sum over features j of the larger of
    |f(float32(x) -+ step_j e_j) - f(float32(x))|. Each change is the largest over the classes.
    `features` must include the rows the model was fitted on: each feature's step is
    proportional to its largest magnitude among them, which bounds every fitted number the
    first layer compares or combines it with.
    """
    comparing_only = isinstance(estimator, COMPARING_ONLY)
    reach = np.max(np.abs(features), axis=0)
    copies = 2 * features.shape[1] + 3
    rows = max(1, BLOCK_ELEMENTS // (copies * features.shape[1]))
    return np.concatenate(
        [
            _block(estimator, features[start : start + rows], reach, comparing_only)
            for start in range(0, len(features), rows)
        ]
    )


def first_layer_step(rounded: FloatArray, reach: FloatArray) -> FloatArray:
    """How far the first layer's float32 roundings can move each input (model/parity.py)."""
    step: FloatArray = FIRST_LAYER_ROUNDINGS * UNIT_ROUNDOFF * (np.abs(rounded) + reach)
    return step


def lowest_double(features: FloatArray) -> FloatArray:
    """The smallest double that rounds to the same float32 as each value.

    Rounding to nearest is monotone, so float32(x) <= float32(t) exactly when
    lowest_double(x) <= t: a graph comparing rounded inputs with thresholds rounded to nearest
    takes, at x, the branches the float64 model takes at lowest_double(x).
    """
    rounded = features.astype(np.float32)
    below = np.nextafter(rounded, np.float32(-np.inf))
    # The midpoint of two adjacent floats is exact in double; a tie rounds to the even one.
    middle = (below.astype(np.float64) + rounded.astype(np.float64)) / 2
    lowest: FloatArray = np.where(
        middle.astype(np.float32) == rounded, middle, np.nextafter(middle, np.inf)
    )
    return lowest


def _scored(estimator: BaseEstimator, points: list[FloatArray]) -> FloatArray:
    """predict_proba of every block of points in one call, as [blocks, rows, classes]."""
    scored = np.asarray(estimator.predict_proba(np.concatenate(points)), dtype=np.float64)
    return scored.reshape(len(points), len(points[0]), -1)


def _block(
    estimator: BaseEstimator, x: FloatArray, reach: FloatArray, comparing_only: bool
) -> FloatArray:
    if comparing_only:
        exact, at_lowest = _scored(estimator, [x, lowest_double(x)])
        branches: FloatArray = np.max(np.abs(at_lowest - exact), axis=-1)
        return branches
    n, k = x.shape
    rounded = x.astype(np.float32).astype(np.float64)
    step = first_layer_step(rounded, reach)
    moved = np.repeat(rounded[None, :, :], 2 * k, axis=0)  # [2k, n, k]: feature j down, up
    for j in range(k):
        moved[2 * j, :, j] -= step[:, j]
        moved[2 * j + 1, :, j] += step[:, j]
    scored = _scored(estimator, [x, rounded, lowest_double(x), *moved])
    exact, at_rounded, at_lowest = scored[0], scored[1], scored[2]
    rounding = np.maximum(
        np.max(np.abs(at_rounded - exact), axis=-1), np.max(np.abs(at_lowest - exact), axis=-1)
    )
    change = np.max(np.abs(scored[3:] - at_rounded), axis=-1).reshape(k, 2, n).max(axis=1)
    total: FloatArray = rounding + change.sum(axis=0)
    return total
