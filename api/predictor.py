"""Run the verified ONNX model with ONNX Runtime: one row or a whole batch in one call."""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
import onnxruntime as ort
from numpy.typing import NDArray

from api.artifact import Artifact, ArtifactError

# Notes whose class is known (lines 1 and 763 of the UCI data file, also the examples in /docs):
# a model that gets these wrong is not served.
KNOWN_NOTES: tuple[tuple[tuple[float, float, float, float], int], ...] = (
    ((3.6216, 8.6661, -2.8073, -0.44699), 0),
    ((-1.3971, 3.3191, -1.3927, -1.9948), 1),
)
F32_MAX = float(np.finfo(np.float32).max)


class Predictor:
    """The loaded model. Methods are safe to call from the event loop and from threads."""

    def __init__(self, artifact: Artifact, intra_op_threads: int = 1) -> None:
        """Build the ORT session from `artifact` and prove it answers the known notes."""
        self.artifact = artifact
        self.class_names = tuple(c.name for c in artifact.classes)
        self.class_labels = tuple(c.label for c in artifact.classes)
        self._session = _build_session(artifact, intra_op_threads)
        self._input = artifact.input_name
        self._outputs = [artifact.label_output, artifact.probability_output]
        self._probability_only = [artifact.probability_output]
        self._bound_row = np.zeros((1, len(artifact.features)), dtype=np.float32)
        self._bound_out = np.zeros((1, len(artifact.classes)), dtype=np.float32)
        self._binding = self._session.io_binding()
        self._binding.bind_cpu_input(self._input, self._bound_row)
        self._binding.bind_output(
            artifact.probability_output,
            "cpu",
            0,
            np.float32,
            list(self._bound_out.shape),
            self._bound_out.ctypes.data,
        )
        self._bound_lock = threading.Lock()
        self._self_check()

    def predict_one(
        self, variance: float, skewness: float, curtosis: float, entropy: float
    ) -> tuple[int, float]:
        """Class value and P(forged) for one note."""
        row: tuple[float, ...] = (variance, skewness, curtosis, entropy)
        if max(row) > F32_MAX or min(row) < -F32_MAX:
            row = _saturate(row)
        # Fast path: write into the buffers bound to the session once (no per-call input
        # and output arrays). The lock keeps two threads off the same buffers; a thread
        # that finds them busy takes the ordinary path instead of waiting.
        if self._bound_lock.acquire(blocking=False):
            try:
                self._bound_row[0] = row
                self._session.run_with_iobinding(self._binding)
                p_genuine, p_forged = self._bound_out[0].tolist()
            finally:
                self._bound_lock.release()
        else:
            probabilities = self._session.run(
                self._probability_only, {self._input: np.array([row], dtype=np.float32)}
            )[0]
            p_genuine, p_forged = probabilities[0].tolist()
        # The model's own label is argmax(probabilities) (checked at load); comparing here
        # saves computing a second output on every call.
        return int(p_forged > p_genuine), p_forged

    def predict_many(self, features: NDArray[np.float64]) -> tuple[list[int], list[float]]:
        """Class values and P(forged) for an [N, 4] array, in one vectorised model call."""
        rows = np.clip(features, -F32_MAX, F32_MAX).astype(np.float32)
        probabilities = self._session.run(self._probability_only, {self._input: rows})[0]
        labels = (probabilities[:, 1] > probabilities[:, 0]).astype(np.int64)
        return labels.tolist(), probabilities[:, 1].astype(np.float64).tolist()

    def _self_check(self) -> None:
        for note, expected in KNOWN_NOTES:
            label, _probability = self.predict_one(*note)
            model_labels, model_probabilities = self._session.run(
                self._outputs, {self._input: np.array([note], dtype=np.float32)}
            )
            if label != expected or int(model_labels[0]) != label:
                raise ArtifactError(
                    f"model.onnx answers class {int(model_labels[0])} "
                    f"(P(forged)={float(model_probabilities[0, 1]):.3f}) for a note known to "
                    f"be class {expected}: refusing to serve it"
                )


def _saturate(row: tuple[float, ...]) -> tuple[float, ...]:
    # Finite values beyond float32's range would overflow to inf (with a numpy warning);
    # clamping keeps them finite. The RBF kernel is ~0 that far out either way.
    return tuple(min(max(value, -F32_MAX), F32_MAX) for value in row)


def _build_session(artifact: Artifact, intra_op_threads: int) -> Any:
    # A service should not send usage telemetry anywhere (the image also sets
    # ORT_DISABLE_TELEMETRY=1; this covers `make run` and any other launcher).
    ort.disable_telemetry_events()
    options = ort.SessionOptions()
    # Explicit thread counts: in a container ORT would otherwise size its pool from the
    # host's CPU count, and several workers would fight over the cores.
    options.intra_op_num_threads = intra_op_threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.log_severity_level = 3
    try:
        session = ort.InferenceSession(
            artifact.onnx_bytes, sess_options=options, providers=["CPUExecutionProvider"]
        )
    except Exception as exc:  # ORT raises its own exception types for bad graphs
        raise ArtifactError(f"ONNX Runtime cannot load model.onnx: {exc}") from None
    inputs = {i.name: i for i in session.get_inputs()}
    outputs = {o.name: o for o in session.get_outputs()}
    if artifact.input_name not in inputs:
        raise ArtifactError(f"model.onnx has no input {artifact.input_name!r}")
    if inputs[artifact.input_name].type != "tensor(float)":
        raise ArtifactError("model.onnx input must be float32")
    missing = {artifact.label_output, artifact.probability_output} - set(outputs)
    if missing:
        raise ArtifactError(f"model.onnx lacks outputs {sorted(missing)}")
    if outputs[artifact.probability_output].type != "tensor(float)":
        raise ArtifactError("model.onnx probabilities must be float32")
    return session
