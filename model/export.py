"""Export the fitted pipeline to ONNX for serving, and prove the export is faithful."""

from __future__ import annotations

import warnings

import numpy as np
import numpy.typing as npt
import onnxruntime as ort
from skl2onnx import to_onnx
from skl2onnx.common.data_types import FloatTensorType
from sklearn.pipeline import Pipeline

from contract import FEATURES, ONNX_INPUT, ONNX_LABEL_OUTPUT, ONNX_PROBABILITY_OUTPUT
from model.config import ONNX_PROBABILITY_TOLERANCE, ONNX_TARGET_OPSET
from model.errors import ExportError


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


def check_parity(pipeline: Pipeline, onnx_bytes: bytes, features: npt.NDArray[np.float64]) -> float:
    """Raise ExportError unless ONNX and sklearn agree on every row; return the max prob gap.

    Labels must be identical and probabilities within ONNX_PROBABILITY_TOLERANCE.
    """
    labels, probabilities = onnx_session(onnx_bytes).run(
        [ONNX_LABEL_OUTPUT, ONNX_PROBABILITY_OUTPUT],
        {ONNX_INPUT: features.astype(np.float32)},
    )
    expected_labels = pipeline.predict(features)
    mismatched = np.flatnonzero(labels != expected_labels)
    if mismatched.size:
        raise ExportError(
            f"ONNX export disagrees with the pipeline on {mismatched.size} of {len(features)} "
            f"rows (first: row {mismatched[0]})"
        )
    gap = float(np.max(np.abs(probabilities - pipeline.predict_proba(features))))
    if gap > ONNX_PROBABILITY_TOLERANCE:
        raise ExportError(
            f"ONNX probabilities differ from the pipeline's by up to {gap:.2e} "
            f"(tolerance {ONNX_PROBABILITY_TOLERANCE:.0e})"
        )
    return gap
