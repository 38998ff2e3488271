"""How closely model.onnx must reproduce the fitted pipeline: a float32 error bound per row.

Why not one fixed tolerance. The export computes in float32 what scikit-learn computes in
float64, so its error scales with the model, not with a constant: a strong model's decision
value is a short sum of small kernel terms, a weak one's (C=100 on a feature-starved problem)
is a near-cancelling sum of terms thousands of times larger. A fixed 1e-5 passed the first and
refused the second (gap 3.2e-05) although both exports were exactly as faithful as float32
allows.

Why not a double-precision export. ONNX-ML's SVMClassifier outputs float scores whatever its
input type, and ONNX Runtime's kernel casts a double input to float before computing
(microsoft/onnxruntime, onnxruntime/core/providers/cpu/ml/svmclassifier.cc,
`SVMClassifier::Compute`: "need to cast the input to float so we can use the fast GEMM
implementations"); skl2onnx stores the support vectors, coefficients and rho as float32 either
way (skl2onnx/operator_converters/support_vector_machines.py). A double graph would be no more
precise, and serving's input contract (float32 [N, 4]) would change for nothing.

The rule, then, for every row:
- the labels are identical, except where P(forged) lies within the row's tolerance of 0.5: there
  float32 cannot decide the class, and neither answer is wrong;
- every probability is within the row's tolerance: a first-order forward error bound of the
  exported graph evaluated in float32, computed below from the fitted parameters. Each input,
  parameter and operation contributes its rounding (unit roundoff u = 2**-24, relative); the
  errors are carried through the scaler, the RBF kernel (squared distance, then exp), the
  coefficient sum (ONNX Runtime accumulates it in double, so the sum adds no error at this
  order), the cast of the score to float, and the sigmoid calibration p = 1 / (1 + exp(a f + b)),
  whose slope p (1 - p) |a| turns a score error into a probability error. No factor is fitted to
  the data: on the models we tried (strong, one or two features zeroed, shuffled labels) the
  largest gap stays below 0.3 of its row's bound.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt
from sklearn.calibration import CalibratedClassifierCV, _SigmoidCalibration
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from contract import ParityReport
from model.errors import ExportError

FloatArray = npt.NDArray[np.float64]

UNIT_ROUNDOFF: Final = 2.0**-24  # float32: every rounding is within this relative error
# exp is the one operation not correctly rounded: libm's and the vectorised ones ONNX Runtime
# uses stay within a few units in the last place.
EXP_ULPS: Final = 4
# Rows per block when building the [rows, support vectors, features] arrays: bounded memory.
BLOCK_ELEMENTS: Final = 4_000_000

RULE: Final = (
    "labels identical except where P(forged) is within the row's tolerance of 0.5; "
    "probabilities within a per-row float32 forward error bound (model/parity.py)"
)


@dataclass(frozen=True)
class _Parameters:
    """The fitted numbers the exported graph computes with."""

    mean: FloatArray
    scale: FloatArray
    support_vectors: FloatArray
    coefficients: FloatArray
    intercept: float
    gamma: float
    slope: float  # the calibration's a in p = 1 / (1 + exp(a f + b))
    offset: float  # its b


def _parameters(pipeline: Pipeline) -> _Parameters:
    """The pipeline's parameters, or ExportError if it is not the shape the bound is derived for."""
    steps = [step for _, step in pipeline.steps]
    calibrated = steps[-1] if len(steps) == 2 else None
    if (
        not isinstance(steps[0], StandardScaler)
        or not isinstance(calibrated, CalibratedClassifierCV)
        or len(calibrated.calibrated_classifiers_) != 1
    ):
        raise ExportError(_unsupported(pipeline))
    member = calibrated.calibrated_classifiers_[0]
    svc, calibrators = member.estimator, member.calibrators
    if (
        not isinstance(svc, SVC)
        or svc.kernel != "rbf"
        or len(svc.classes_) != 2
        or len(calibrators) != 1
        or not isinstance(calibrators[0], _SigmoidCalibration)
    ):
        raise ExportError(_unsupported(pipeline))
    scaler = steps[0]
    return _Parameters(
        mean=np.asarray(scaler.mean_, dtype=np.float64),
        scale=np.asarray(scaler.scale_, dtype=np.float64),
        support_vectors=np.asarray(svc.support_vectors_, dtype=np.float64),
        coefficients=np.asarray(svc.dual_coef_[0], dtype=np.float64),
        intercept=float(svc.intercept_[0]),
        gamma=float(svc._gamma),
        slope=float(calibrators[0].a_),
        offset=float(calibrators[0].b_),
    )


def _unsupported(pipeline: Pipeline) -> str:
    return (
        f"the ONNX parity bound is derived for StandardScaler -> sigmoid-calibrated binary RBF "
        f"SVC (ensemble=False), not {pipeline!r}; derive one for the new model in model/parity.py"
    )


def probability_tolerance(pipeline: Pipeline, features: FloatArray) -> FloatArray:
    """For each row, how far model.onnx's probabilities may lie from the pipeline's."""
    params = _parameters(pipeline)
    rows = max(1, BLOCK_ELEMENTS // params.support_vectors.size)
    return np.concatenate(
        [_bound(params, features[start : start + rows]) for start in range(0, len(features), rows)]
    )


def _bound(p: _Parameters, x: FloatArray) -> FloatArray:
    u = UNIT_ROUNDOFF
    # Scaler: z = (x - offset) * scale in float32; x, offset and scale are rounded, then the
    # subtraction and the product round.
    inverse = 1.0 / p.scale
    z = (x - p.mean) * inverse
    z_err = u * (inverse * (np.abs(x) + np.abs(p.mean) + np.abs(x - p.mean)) + 2 * np.abs(z))
    # RBF kernel: d = z - sv (sv rounded, difference rounded), d2 = sum of d**2 over the k
    # features (the squares round by u of their sum, each of the k additions by u of d2),
    # K = exp(-gamma * d2).
    d = z[:, None, :] - p.support_vectors[None, :, :]
    d_err = z_err[:, None, :] + u * (np.abs(p.support_vectors)[None, :, :] + np.abs(d))
    d2 = np.einsum("nsk,nsk->ns", d, d)
    d2_err = 2 * np.einsum("nsk,nsk->ns", np.abs(d), d_err) + (d.shape[-1] + 1) * u * d2
    exponent_err = p.gamma * d2_err + 2 * u * p.gamma * d2  # gamma rounded, product rounded
    kernel = np.exp(-p.gamma * d2)
    # Each term coefficient * K carries K's relative error plus exp's, the coefficient's and the
    # product's roundings; the double accumulator adds nothing at first order; rho is rounded
    # and the score is cast to float32.
    term_err = exponent_err + (EXP_ULPS + 2) * u
    score = kernel @ p.coefficients + p.intercept
    score_err = (kernel * term_err) @ np.abs(p.coefficients) + u * (
        abs(p.intercept) + np.abs(score)
    )
    # Calibration: t = a * f + b (a, b rounded; product and sum round), then
    # p = 1 / (1 + exp(t)); dp/dt = -p (1 - p). exp, the addition, the division, 1 - p and
    # the final normalisation each add at most a few roundings of a value at most 1.
    t = p.slope * score + p.offset
    t_err = abs(p.slope) * score_err + u * (2 * np.abs(p.slope * score) + abs(p.offset) + np.abs(t))
    probability = 1.0 / (1.0 + np.exp(t))
    spread = probability * (1.0 - probability)
    tolerance: FloatArray = spread * (t_err + EXP_ULPS * u) + 5 * u
    return tolerance


def judge_parity(
    expected_labels: npt.NDArray[np.int64],
    onnx_labels: npt.NDArray[np.int64],
    expected_probabilities: FloatArray,
    onnx_probabilities: FloatArray,
    tolerance: FloatArray,
    positive_column: int,
) -> ParityReport:
    """Apply the rule above to one evaluation; ExportError naming the first offending row."""
    undecidable = np.abs(expected_probabilities[:, positive_column] - 0.5) <= tolerance
    flipped = np.flatnonzero((onnx_labels != expected_labels) & ~undecidable)
    if flipped.size:
        raise ExportError(
            f"ONNX export disagrees with the pipeline on the label of {flipped.size} of "
            f"{len(expected_labels)} rows (first: row {flipped[0]})"
        )
    gap = np.max(np.abs(onnx_probabilities - expected_probabilities), axis=1)
    ratio = gap / tolerance
    worst = int(np.argmax(ratio))
    if ratio[worst] > 1:
        raise ExportError(
            f"ONNX probabilities differ from the pipeline's by {gap[worst]:.2e} on row {worst}, "
            f"beyond that row's float32 error bound {tolerance[worst]:.2e}"
        )
    return ParityReport(
        rows=len(expected_labels),
        rule=RULE,
        max_probability_gap=float(gap.max()),
        max_tolerance=float(tolerance.max()),
        max_gap_to_tolerance=float(ratio[worst]),
        undecidable_rows=int(undecidable.sum()),
    )
