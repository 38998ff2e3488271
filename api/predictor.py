"""Run the verified ONNX model with ONNX Runtime: one row or a whole batch in one call."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import numpy as np
import onnxruntime as ort
from numpy.typing import NDArray

from api.artifact import Artifact, ArtifactError

F32_MAX = float(np.finfo(np.float32).max)


class Predictor:
    """The loaded model. Methods are safe to call from the event loop and from threads."""

    def __init__(self, artifact: Artifact, intra_op_threads: int = 1) -> None:
        """Build the ORT session from `artifact` and prove it answers the contract's examples
        (one row of each class from the training data) with their classes."""
        self.artifact = artifact
        self.class_names = tuple(c.name for c in artifact.classes)
        self.class_labels = tuple(c.label for c in artifact.classes)
        # The probability answered: the positive class's column (class-value order).
        self.positive_index = artifact.contract.signature().positive_index
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

    def predict_one(self, row: Sequence[float]) -> tuple[int, float]:
        """Class index (in class-value order) and P(positive class) for one row of features."""
        probabilities = self._one_row(row)
        # The model's own label is argmax(probabilities) (checked at load); comparing here
        # saves computing a second output on every call.
        return int(probabilities[1] > probabilities[0]), probabilities[self.positive_index]

    def predict_one_row(self, row: Sequence[float]) -> tuple[int, list[float]]:
        """Class index and every class's probability (class-value order) for one row."""
        probabilities = self._one_row(row)
        return int(probabilities[1] > probabilities[0]), probabilities

    def _one_row(self, row: Sequence[float]) -> list[float]:
        """Every class's probability for one row, in one model call."""
        if max(row) > F32_MAX or min(row) < -F32_MAX:
            row = _saturate(row)
        # Fast path: write into the buffers bound to the session once (no per-call input
        # and output arrays). The lock keeps two threads off the same buffers; a thread
        # that finds them busy takes the ordinary path instead of waiting.
        if self._bound_lock.acquire(blocking=False):
            try:
                self._bound_row[0] = row
                self._session.run_with_iobinding(self._binding)
                probabilities: list[float] = self._bound_out[0].tolist()
            finally:
                self._bound_lock.release()
            return probabilities
        return self._session.run(  # type: ignore[no-any-return]
            self._probability_only, {self._input: np.array([row], dtype=np.float32)}
        )[0][0].tolist()

    def predict_many(self, features: NDArray[np.float64]) -> tuple[list[int], list[float]]:
        """Class indexes and P(positive class) for an [N, features] array, in one model call."""
        probabilities = self.probabilities(features)
        labels = self.class_indexes(probabilities)
        positive = probabilities[:, self.positive_index]
        return labels.tolist(), positive.astype(np.float64).tolist()

    def probabilities(self, features: NDArray[np.floating[Any]]) -> NDArray[np.float32]:
        """The model's [N, classes] float32 probabilities (class-value order) for an
        [N, features] array, in one model call. Finite values beyond float32 saturate."""
        if features.dtype == np.float32:
            rows = features  # float32 cannot hold a finite value beyond float32's range
        else:
            rows = np.clip(features, -F32_MAX, F32_MAX).astype(np.float32)
        probabilities: NDArray[np.float32] = self._session.run(
            self._probability_only, {self._input: rows}
        )[0]
        return probabilities

    @staticmethod
    def class_indexes(probabilities: NDArray[np.float32]) -> NDArray[np.int64]:
        """The class index of each row of `probabilities`, as predict_one and predict_many
        decide it (the model's own label, checked at load)."""
        return (probabilities[:, 1] > probabilities[:, 0]).astype(np.int64)

    def _self_check(self) -> None:
        classes = self.artifact.classes
        positive = classes[self.positive_index].name
        for example in self.artifact.contract.examples:
            row = tuple(example.values.values())
            expected = [c.value for c in classes].index(example.class_value)
            index, _probability = self.predict_one(row)
            model_labels, model_probabilities = self._session.run(
                self._outputs, {self._input: np.array([row], dtype=np.float32)}
            )
            if index != expected or int(model_labels[0]) != classes[index].value:
                answered = float(model_probabilities[0, self.positive_index])
                raise ArtifactError(
                    f"model.onnx answers class {int(model_labels[0])} (P({positive})="
                    f"{answered:.3f}) for line {example.line} of its training data, known to be "
                    f"class {example.class_value}: refusing to serve it"
                )


def _saturate(row: Sequence[float]) -> tuple[float, ...]:
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
