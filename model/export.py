"""Export the fitted pipeline to ONNX for serving, and prove the export is faithful."""

from __future__ import annotations

import warnings

import numpy as np
import numpy.typing as npt
import onnxruntime as ort
from skl2onnx import to_onnx
from skl2onnx.common.data_types import FloatTensorType
from sklearn.pipeline import Pipeline

from contract import (
    FEATURES,
    ONNX_INPUT,
    ONNX_LABEL_OUTPUT,
    ONNX_PROBABILITY_OUTPUT,
    ParityReport,
)
from model.config import ONNX_TARGET_OPSET, POSITIVE_CLASS
from model.errors import ExportError
from model.parity import judge_parity, probability_tolerance


def to_onnx_bytes(pipeline: Pipeline) -> bytes:
    """Serialized ONNX: float32 input [N, 4]; outputs label [N] and probabilities [N, 2]."""
    with warnings.catch_warnings():
        # skl2onnx 1.20 reads SVC.probA_/probB_, which scikit-learn 1.9 flags as deprecated even
        # though this SVC has probability=False; the attributes are only inspected, not used.
        warnings.filterwarnings("ignore", message=r"Attribute `prob[AB]_` was deprecated")
        onnx_model = to_onnx(
            pipeline,
            initial_types=[(ONNX_INPUT, FloatTensorType([None, len(FEATURES)]))],
            options={id(pipeline): {"zipmap": False}},
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
    pipeline: Pipeline, onnx_bytes: bytes, features: npt.NDArray[np.float64]
) -> ParityReport:
    """Raise ExportError unless ONNX and sklearn agree on every row (model/parity.py's rule)."""
    labels, probabilities = onnx_session(onnx_bytes).run(
        [ONNX_LABEL_OUTPUT, ONNX_PROBABILITY_OUTPUT],
        {ONNX_INPUT: features.astype(np.float32)},
    )
    return judge_parity(
        expected_labels=pipeline.predict(features),
        onnx_labels=labels,
        expected_probabilities=pipeline.predict_proba(features),
        onnx_probabilities=probabilities.astype(np.float64),
        tolerance=probability_tolerance(pipeline, features),
        positive_column=list(pipeline.classes_).index(POSITIVE_CLASS),
    )
