"""A model as serving runs it: its verified model.onnx in ONNX Runtime, float32 in.

Comparisons evaluate this, never the pickle: it is what users get answers from, and it loads
whatever scikit-learn version trained it, so a dependency bump cannot break a comparison with
the model serving today.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import onnxruntime as ort

import contract
from contract import ONNX_FILE, ArtifactCore, Signature
from model.errors import ArtifactError
from model.export import onnx_session


@dataclass(frozen=True)
class ServedModel:
    """An ONNX Runtime session on a verified model.onnx, with the names to call it by."""

    source: str
    model_version: str
    format_version: int
    signature: Signature
    hyperparameters: dict[str, Any]
    session: ort.InferenceSession
    input_name: str
    label_output: str
    probability_output: str

    def predict(
        self, features: npt.NDArray[np.float64]
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
        """Labels and P(positive class) for an [N, features] array, as the service computes them."""
        labels, probabilities = self.session.run(
            [self.label_output, self.probability_output],
            {self.input_name: features.astype(np.float32)},
        )
        p_positive = probabilities[:, self.signature.positive_index].astype(np.float64)
        return np.asarray(labels, dtype=np.int64), p_positive


def load_served(model_dir: Path) -> ServedModel:
    """The artifact in `model_dir`, any comparable format; ArtifactError with the reason if not."""
    try:
        core = contract.read_core(model_dir)
        onnx_bytes = contract.read_verified(model_dir, core.files, ONNX_FILE)
    except contract.ArtifactError as error:
        raise ArtifactError(str(error)) from None
    return served_from_onnx(onnx_bytes, core, str(model_dir))


def served_from_onnx(onnx_bytes: bytes, core: ArtifactCore, source: str) -> ServedModel:
    """A ServedModel from ONNX bytes already verified against `core`'s recorded hash."""
    try:
        session = onnx_session(onnx_bytes)
    except Exception as error:  # ONNX Runtime raises its own exception types for bad graphs
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ArtifactError(
            f"{source}: ONNX Runtime {ort.__version__} cannot load {ONNX_FILE} ({reason})"
        ) from None
    inputs = {i.name: i.type for i in session.get_inputs()}
    outputs = {o.name for o in session.get_outputs()}
    if inputs.get(core.onnx.input) != "tensor(float)":
        raise ArtifactError(
            f"{source}: {ONNX_FILE} has no float32 input {core.onnx.input!r} (has {inputs})"
        )
    missing = {core.onnx.label_output, core.onnx.probability_output} - outputs
    if missing:
        raise ArtifactError(f"{source}: {ONNX_FILE} lacks the outputs {sorted(missing)}")
    return ServedModel(
        source=source,
        model_version=core.model_version,
        format_version=core.format_version,
        signature=core.contract,
        hyperparameters=core.hyperparameters,
        session=session,
        input_name=core.onnx.input,
        label_output=core.onnx.label_output,
        probability_output=core.onnx.probability_output,
    )
