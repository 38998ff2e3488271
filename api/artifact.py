"""Read and verify the artifact the service runs, through the artifact contract (contract/).

The contract checks metadata.json's format and schema (the model's contract among it) and
model.onnx's sha256. model.joblib is training's file and is deliberately not read here: the
service never loads a pickle, and the image leaves it out.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from contract import ONNX_FILE, ArtifactError, ArtifactMetadata, ClassInfo, ModelContract
from contract import read_metadata as _read_metadata
from contract import read_verified as _read_verified

__all__ = ["Artifact", "ArtifactError", "ClassInfo", "load_artifact", "read_contract"]


@dataclass(frozen=True, slots=True)
class Artifact:
    """A verified artifact: the ONNX bytes plus the metadata the API exposes."""

    directory: Path
    onnx_bytes: bytes
    model_version: str
    created_at: str
    contract: ModelContract
    features: tuple[str, ...]  # the contract's feature names, in the model's order
    classes: tuple[ClassInfo, ...]
    input_name: str
    label_output: str
    probability_output: str
    metadata: ArtifactMetadata


def read_contract(directory: Path) -> ModelContract:
    """The model contract in `directory`'s metadata.json (ArtifactError if unusable)."""
    return _read_metadata(directory).contract


def load_artifact(directory: Path) -> Artifact:
    """Read `directory` through the contract; raise ArtifactError if it is not servable."""
    metadata = _read_metadata(directory)
    return Artifact(
        directory=directory,
        onnx_bytes=_read_verified(directory, metadata.files, ONNX_FILE),
        model_version=metadata.model_version,
        created_at=metadata.created_at,
        contract=metadata.contract,
        features=metadata.contract.feature_names,
        classes=metadata.contract.classes,
        input_name=metadata.onnx.input,
        label_output=metadata.onnx.label_output,
        probability_output=metadata.onnx.probability_output,
        metadata=metadata,
    )
