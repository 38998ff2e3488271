"""Export the fitted pipeline to ONNX for serving, and prove the export is faithful."""

from __future__ import annotations

import warnings

import numpy as np
import numpy.typing as npt
import onnxruntime as ort
from skl2onnx import to_onnx
from skl2onnx.common.data_types import FloatTensorType
from sklearn.base import BaseEstimator

from contract import (
    ONNX_INPUT,
    ONNX_LABEL_OUTPUT,
    ONNX_PROBABILITY_OUTPUT,
    ParityReport,
)
from model.config import ONNX_TARGET_OPSET
from model.errors import ExportError
from model.parity import judge_parity, probability_tolerance


def to_onnx_bytes(estimator: BaseEstimator) -> bytes:
    """Serialized ONNX: float32 input [N, features]; outputs label [N], probabilities [N, 2]."""
    with warnings.catch_warnings():
        # skl2onnx 1.20 reads SVC.probA_/probB_, which scikit-learn 1.9 flags as deprecated even
        # though this SVC has probability=False; the attributes are only inspected, not used.
        warnings.filterwarnings("ignore", message=r"Attribute `prob[AB]_` was deprecated")
        # skl2onnx 1.20 passes a HistGradientBoosting node's `missing_go_to_left` (a numpy
        # bool) as an int attribute (skl2onnx/common/tree_ensemble.py, `add_node`); protobuf 6
        # stores it as 0 or 1 and warns that protobuf 7.34 will refuse it.
        warnings.filterwarnings(
            "ignore", message=r"Field onnx\.AttributeProto\.ints: Expected an int, got a boolean"
        )
        onnx_model = to_onnx(
            estimator,
            initial_types=[(ONNX_INPUT, FloatTensorType([None, estimator.n_features_in_]))],
            options={id(estimator): {"zipmap": False}},
            target_opset=ONNX_TARGET_OPSET,
        )
    outputs = [output.name for output in onnx_model.graph.output]
    if outputs != [ONNX_LABEL_OUTPUT, ONNX_PROBABILITY_OUTPUT]:
        raise ExportError(f"unexpected ONNX outputs {outputs}")
    data: bytes = onnx_model.SerializeToString()
    return data


def onnx_session(onnx_bytes: bytes) -> ort.InferenceSession:
    """A single-threaded CPU session, as the service runs it (telemetry off)."""
    ort.disable_telemetry_events()
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    return ort.InferenceSession(onnx_bytes, options, providers=["CPUExecutionProvider"])


def check_parity(
    estimator: BaseEstimator,
    onnx_bytes: bytes,
    features: npt.NDArray[np.float64],
    positive_class: int,
) -> ParityReport:
    """Raise ExportError unless ONNX and sklearn agree on every row (model/parity.py's rule).

    `features` are every row of the data file (the training rows among them); `positive_class`
    is the class value whose probability decides the label.
    """
    if not hasattr(estimator, "predict_proba"):
        raise ExportError(
            f"{type(estimator).__name__} has no predict_proba: the service reports "
            "probabilities, so the estimator must give them"
        )
    labels, probabilities = onnx_session(onnx_bytes).run(
        [ONNX_LABEL_OUTPUT, ONNX_PROBABILITY_OUTPUT],
        {ONNX_INPUT: features.astype(np.float32)},
    )
    return judge_parity(
        expected_labels=estimator.predict(features),
        onnx_labels=labels,
        expected_probabilities=estimator.predict_proba(features),
        onnx_probabilities=probabilities.astype(np.float64),
        tolerance=probability_tolerance(estimator, features),
        positive_column=list(estimator.classes_).index(positive_class),
    )
