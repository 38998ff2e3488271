"""How closely model.onnx must reproduce the fitted estimator: a float32 error bound per row.

Why not one fixed tolerance. The export computes in float32 what scikit-learn computes in
float64, so its error scales with the model, not with a constant: a strong RBF SVC's decision
value is a short sum of small kernel terms, a weak one's is a near-cancelling sum of terms
thousands of times larger; a tree ensemble is exact almost everywhere and jumps at its splits.
A fixed 1e-5 refused faithful exports of weak models (gap 3.2e-05) and would let through a
wrong export whose probabilities moved by less.

The rule, for every row x (the rows the model was fitted on among them), with f the fitted
estimator's predict_proba in float64, x' = float32(x) what the graph receives, and unit
roundoff u = 2**-24:
- the labels are identical, except where P(positive) lies within the row's tolerance of 0.5:
  there float32 cannot decide the class, and neither answer is wrong;
- every probability is within the row's tolerance, the sum of four terms.

1. Input rounding, measured (model/parity_input.py). The graph's arithmetic sees x', and its
   threshold comparisons see x'' = the lowest double that rounds to x': rounding to nearest is
   monotone, so float32(x) <= float32(t) exactly when x'' <= t. Term 1 is the larger of
   |f(x') - f(x)| and |f(x'') - f(x)| (for a tree ensemble, the second alone: see 2).

2. First-layer rounding, measured (model/parity_input.py). Every graph skl2onnx emits for these
   estimators starts by meeting each input with fitted numbers from that input's own range: the
   ai.onnx.ml Scaler subtracts the training mean and multiplies by a scale; an SVMClassifier
   subtracts support-vector coordinates; a TreeEnsemble compares with split thresholds. In
   float32 that is exact arithmetic on an input moved by at most step_j = 4 u (|x_j| + R_j),
   R_j the largest |x_j| among the rows: the Scaler is the worst case, rounding the input
   (u |x|), the offset (u |m|), their difference and then the scale and the product
   (3 u |x - m|), with |m| <= R_j. So f is scored at x' -+ step_j along each feature j, and the
   larger change per feature is summed over the features: to first order the largest change
   any move within that box can make (exact for a linear function).

   A tree ensemble fed the raw inputs needs neither the box nor x': its export only compares,
   and its branches are exactly f's at x''. HistGradientBoosting compares float64 inputs with
   float64 thresholds (sklearn/ensemble/_hist_gradient_boosting/_predictor.pyx, X_DTYPE =
   float64) that skl2onnx rounds to nearest float32 (skl2onnx/common/tree_ensemble.py,
   `add_node` without `sklearn_threshold` for these trees), so a row just above a threshold
   whose float32 rounding is the threshold's takes the other branch in the graph. Term 1 is
   then that jump, on that row only; a row equal to a threshold rounds with it and keeps a tight
   bound. Forests and trees never jump: scikit-learn casts their inputs to float32 itself, and
   skl2onnx's `sklearn_threshold` picks float32 thresholds that compare the same way, so f at
   x'' is f at x.

3. Arithmetic after the first layer, derived per family from the fitted parameters
   (model/parity_arithmetic.py). Moving an input moves every term of a sum together; float32
   rounds each term on its own. A sum of many terms with cancellation (an RBF kernel
   expansion, a hundred boosted trees) has a small slope and a large rounding error, which
   terms 1 and 2 cannot see: a dot product (linear models), an average of trees (forests), a
   sum of trees plus a base value (HistGradientBoosting), the analytic bound of a
   sigmoid-calibrated RBF SVC (model/parity_svc.py). For any other estimator the term is zero
   and the export must match within terms 1, 2 and 4; when it does not, the error says which
   family needs a bound derived.

4. Output rounding: (EXP_ULPS + 4) u. The last operations (the link function's exp, within a
   few ulps; the addition and division around it; 1 - p; the cast) each round a value at most 1.

No factor is fitted to the data. On the banknote data (all rows; all four features, its two
weakest only, and a fifth of the labels flipped), the largest gap stays below 0.25 of its
row's bound for the calibrated SVC, StandardScaler + LogisticRegression,
HistGradientBoosting and random forests; an export whose calibration intercept, one
coefficient or one leaf value moved by 0.1 % is refused (docs/model.md has the figures).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt
from sklearn.base import BaseEstimator

from contract import ParityReport
from model.errors import ExportError
from model.parity_arithmetic import arithmetic_term
from model.parity_input import UNIT_ROUNDOFF, input_rounding_terms

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

# exp is the one operation not correctly rounded: libm's and the vectorised ones ONNX Runtime
# uses stay within a few units in the last place.
EXP_ULPS: Final = 4
OUTPUT_ROUNDING: Final = (EXP_ULPS + 4) * UNIT_ROUNDOFF

RULE: Final = (
    "labels identical except where P(positive) is within the row's tolerance of 0.5; "
    "probabilities within a per-row float32 bound: input rounding and first-layer rounding "
    "measured on the float64 model, plus float32 arithmetic of {family} (model/parity.py)"
)


@dataclass(frozen=True)
class Tolerance:
    """Per row, how far model.onnx's probabilities may lie from the estimator's, and why."""

    per_row: FloatArray
    family: str  # the estimator family term 3 was derived for
    derived: bool  # False: no arithmetic term exists for that family yet


def probability_tolerance(estimator: BaseEstimator, features: FloatArray) -> Tolerance:
    """The rule's bound for each row of `features` (which include the training rows)."""
    arithmetic = arithmetic_term(estimator, features)
    per_row = input_rounding_terms(estimator, features) + arithmetic.bound + OUTPUT_ROUNDING
    # Probabilities cannot differ by more than 1: a larger bound (a row at a split whose
    # branches disagree completely) says no more than 1 does.
    return Tolerance(np.minimum(per_row, 1.0), arithmetic.family, arithmetic.derived)


def judge_parity(
    expected_labels: IntArray,
    onnx_labels: IntArray,
    expected_probabilities: FloatArray,
    onnx_probabilities: FloatArray,
    tolerance: Tolerance,
    positive_column: int,
) -> ParityReport:
    """Apply the rule above to one evaluation; ExportError naming the first offending row."""
    bound = tolerance.per_row
    undecidable = np.abs(expected_probabilities[:, positive_column] - 0.5) <= bound
    flipped = np.flatnonzero((onnx_labels != expected_labels) & ~undecidable)
    if flipped.size:
        raise ExportError(
            f"ONNX export disagrees with the estimator on the label of {flipped.size} of "
            f"{len(expected_labels)} rows (first: row {flipped[0]})"
        )
    gap = np.max(np.abs(onnx_probabilities - expected_probabilities), axis=1)
    ratio = gap / bound
    worst = int(np.argmax(ratio))
    if ratio[worst] > 1:
        hint = (
            ""
            if tolerance.derived
            else f"; no float32 arithmetic bound is derived for {tolerance.family.split(':')[0]}"
            " (model/parity_arithmetic.py): if the export is right, derive one there"
        )
        raise ExportError(
            f"ONNX probabilities differ from the estimator's by {gap[worst]:.2e} on row "
            f"{worst}, beyond that row's float32 error bound {bound[worst]:.2e}{hint}"
        )
    return ParityReport(
        rows=len(expected_labels),
        rule=RULE.format(family=tolerance.family),
        max_probability_gap=float(gap.max()),
        max_tolerance=float(bound.max()),
        median_tolerance=float(np.median(bound)),
        max_gap_to_tolerance=float(ratio[worst]),
        undecidable_rows=int(undecidable.sum()),
    )
