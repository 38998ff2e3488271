"""Term 3 of the parity bound for a sigmoid-calibrated RBF SVC: an analytic float32 error bound.

Why analytic here. An RBF SVC's decision value is a sum over support vectors; a weak model
(C=100 on a feature-starved problem) sums terms thousands of times larger than the result, with
opposite signs. Moving the input shifts every term together, so the measured terms of
model/parity.py see only the small net slope; float32 rounds each term on its own, and those
errors do not cancel. Measured on the banknote data, the export's gap reaches 1e5 times the
measured terms, so this family needs its rounding carried through the graph by hand.

Why not a double-precision export. ONNX-ML's SVMClassifier outputs float scores whatever its
input type, and ONNX Runtime's kernel casts a double input to float before computing
(microsoft/onnxruntime, onnxruntime/core/providers/cpu/ml/svmclassifier.cc,
`SVMClassifier::Compute`: "need to cast the input to float so we can use the fast GEMM
implementations"); skl2onnx stores the support vectors, coefficients and rho as float32 either
way (skl2onnx/operator_converters/support_vector_machines.py). A double graph would be no more
precise, and serving's float32 input contract would change for nothing.

The bound is first order: each input, parameter and operation contributes its rounding (unit
roundoff u = 2**-24, relative), carried through the scaler, the RBF kernel (squared distance,
then exp), the coefficient sum (ONNX Runtime accumulates it in double, so the sum adds no error
at this order), the cast of the score to float, and the sigmoid calibration
p = 1 / (1 + exp(a f + b)), whose slope p (1 - p) |a| turns a score error into a probability
error. No factor is fitted to the data: on the models we tried (strong, one or two features
zeroed, shuffled labels) the largest gap stays below 0.3 of its row's bound.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt
from sklearn.base import BaseEstimator
from sklearn.calibration import CalibratedClassifierCV, _SigmoidCalibration
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

FloatArray = npt.NDArray[np.float64]

UNIT_ROUNDOFF: Final = 2.0**-24  # float32: every rounding is within this relative error
# exp is the one operation not correctly rounded: libm's and the vectorised ones ONNX Runtime
# uses stay within a few units in the last place.
EXP_ULPS: Final = 4
# Rows per block when building the [rows, support vectors, features] arrays: bounded memory.
BLOCK_ELEMENTS: Final = 4_000_000

FAMILY: Final = "sigmoid-calibrated RBF SVC (analytic, model/parity_svc.py)"


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


def _parameters(estimator: BaseEstimator) -> _Parameters | None:
    """The pipeline's parameters, or None if it is not the shape the bound is derived for."""
    if not isinstance(estimator, Pipeline) or len(estimator.steps) != 2:
        return None
    scaler, calibrated = (step for _, step in estimator.steps)
    if (
        not isinstance(scaler, StandardScaler)
        or not isinstance(calibrated, CalibratedClassifierCV)
        or len(calibrated.calibrated_classifiers_) != 1
    ):
        return None
    member = calibrated.calibrated_classifiers_[0]
    svc, calibrators = member.estimator, member.calibrators
    if (
        not isinstance(svc, SVC)
        or svc.kernel != "rbf"
        or len(svc.classes_) != 2
        or len(calibrators) != 1
        or not isinstance(calibrators[0], _SigmoidCalibration)
    ):
        return None
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


def calibrated_svc_bound(estimator: BaseEstimator, features: FloatArray) -> FloatArray | None:
    """Per row, the float32 error bound on each probability; None if not a calibrated RBF SVC."""
    params = _parameters(estimator)
    if params is None:
        return None
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
