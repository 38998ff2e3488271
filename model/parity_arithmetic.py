"""Term 3 of the parity bound: float32 arithmetic after the graph's first layer, per family.

Each bound is derived from the fitted estimator (never from the export being judged) and is
first order in the unit roundoff u. A family's bound covers the sums its ONNX operator
computes in float32, which no input perturbation can reveal (model/parity.py says why); the
output stage (link function, 1 - p, the cast) is term 4, common to all.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt
from sklearn.base import BaseEstimator
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.ensemble._forest import ForestClassifier
from sklearn.linear_model._base import LinearClassifierMixin
from sklearn.pipeline import Pipeline
from sklearn.tree import BaseDecisionTree

from model.parity_svc import FAMILY as SVC_FAMILY
from model.parity_svc import calibrated_svc_bound

FloatArray = npt.NDArray[np.float64]

UNIT_ROUNDOFF: Final = 2.0**-24


@dataclass(frozen=True)
class ArithmeticTerm:
    """Per row, the bound on each probability, and the family it was derived for."""

    family: str
    bound: FloatArray
    derived: bool = True  # False: no bound exists for this family; the term is zero


def arithmetic_term(estimator: BaseEstimator, features: FloatArray) -> ArithmeticTerm:
    """Term 3 for `estimator` (a classifier or a Pipeline ending in one) on these rows."""
    svc = calibrated_svc_bound(estimator, features)
    if svc is not None:
        return ArithmeticTerm(SVC_FAMILY, svc)
    # The graph sees float32 inputs; what the last step receives is the earlier steps' output.
    x = features.astype(np.float32).astype(np.float64)
    final = estimator
    if isinstance(estimator, Pipeline):
        final = estimator.steps[-1][1]
        x = estimator[:-1].transform(x) if len(estimator.steps) > 1 else x
    name = type(final).__name__
    if isinstance(final, LinearClassifierMixin) and np.shape(final.coef_)[0] == 1:
        return ArithmeticTerm(f"{name}: a float32 dot product", _linear(final, x))
    if isinstance(final, ForestClassifier | BaseDecisionTree):
        trees = len(getattr(final, "estimators_", [final]))
        bound = np.full(len(x), (trees + 1) * UNIT_ROUNDOFF)
        return ArithmeticTerm(f"{name}: an average of {trees} trees in float32", bound)
    if isinstance(final, HistGradientBoostingClassifier) and len(final.classes_) == 2:
        trees = final.n_iter_
        return ArithmeticTerm(f"{name}: a float32 sum of {trees} trees", _boosted(final, x))
    return ArithmeticTerm(f"{name}: none derived", np.zeros(len(x)), derived=False)


def _linear(final: LinearClassifierMixin, z: FloatArray) -> FloatArray:
    # ONNX Runtime's LinearClassifier: score = z . w + b by a float GEMM
    # (onnxruntime/core/providers/cpu/ml/linearclassifier.cc, `ComputeImpl`), w and b stored
    # as float32 attributes. A k-term dot product plus the intercept rounds within
    # (k + 1) u of the sum of the magnitudes; storing w and b adds u of the same.
    weights, intercept = np.asarray(final.coef_[0]), float(final.intercept_[0])
    magnitude = np.abs(z) @ np.abs(weights) + abs(intercept)
    score_err = (z.shape[1] + 2) * UNIT_ROUNDOFF * magnitude
    bound: FloatArray = _logistic_slope(final, z) * score_err
    return bound


def _boosted(final: HistGradientBoostingClassifier, z: FloatArray) -> FloatArray:
    # ONNX Runtime's TreeEnsembleClassifier adds one leaf value per tree into a float
    # accumulator (onnxruntime/core/providers/cpu/ml/tree_ensemble_aggregator.h,
    # `TreeAggregatorSum::ProcessTreeNodePrediction`: `score += value` in the threshold type,
    # float for a float graph), then the base value, then the logistic. T terms in any order
    # round within (T - 1) u of the sum of their magnitudes; storing the leaves as float32
    # adds u of the same; the base value's storage and its addition add u |b| and u |score|.
    # The leaves reached come from the staged scores; the base value is the one skl2onnx
    # exports (`_baseline_prediction`, skl2onnx/operator_converters/random_forest.py).
    baseline = float(np.ravel(final._baseline_prediction)[0])
    staged = np.array(list(final.staged_decision_function(z)), dtype=np.float64)  # [T, rows]
    leaves = np.abs(np.diff(staged, axis=0, prepend=np.full((1, len(z)), baseline))).sum(axis=0)
    trees = staged.shape[0]
    score_err = UNIT_ROUNDOFF * (trees * leaves + abs(baseline) + np.abs(staged[-1]))
    bound: FloatArray = _logistic_slope(final, z) * score_err
    return bound


def _logistic_slope(final: BaseEstimator, z: FloatArray) -> FloatArray:
    """p (1 - p): how far a score error of 1 moves a binary logistic probability (first order)."""
    positive = np.asarray(final.predict_proba(z), dtype=np.float64)[:, 1]
    slope: FloatArray = positive * (1.0 - positive)
    return slope
