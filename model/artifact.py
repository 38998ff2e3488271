"""Training's side of the artifact: serialise the fitted pipeline, load it back verified.

The directory format itself (metadata schema, file names, hashes, atomic write) is the
contract's (contract/). Loading a pickle is only as safe as its origin: the loader refuses any
file whose sha256 is not the one recorded at training time, and any artifact made with another
scikit-learn.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import joblib
import sklearn

import contract
from contract import ONNX_FILE, PIPELINE_FILE, ArtifactMetadata
from model.errors import ArtifactError


@dataclass(frozen=True)
class Artifact:
    """A verified artifact: the fitted classifier and its metadata."""

    path: Path
    pipeline: Any  # a fitted scikit-learn classifier
    metadata: ArtifactMetadata


def dump_pipeline(pipeline: Any) -> bytes:
    """The pipeline as joblib bytes (hashed into the metadata before anything is written)."""
    buffer = io.BytesIO()
    joblib.dump(pipeline, buffer)
    return buffer.getvalue()


def read_metadata(model_dir: Path) -> ArtifactMetadata:
    """The artifact's metadata, validated by the contract (ArtifactError if unusable)."""
    try:
        return contract.read_metadata(model_dir)
    except contract.ArtifactError as error:
        raise ArtifactError(str(error)) from None


def load_artifact(model_dir: Path) -> Artifact:
    """Load and verify an artifact written by `python -m model train`."""
    metadata = read_metadata(model_dir)
    try:
        # The ONNX file is checked too: an artifact is used whole or not at all.
        contract.read_verified(model_dir, metadata.files, ONNX_FILE)
        pipeline_bytes = contract.read_verified(model_dir, metadata.files, PIPELINE_FILE)
    except contract.ArtifactError as error:
        raise ArtifactError(str(error)) from None
    trained_with = metadata.versions.get("scikit-learn")
    if trained_with != sklearn.__version__:
        raise ArtifactError(
            f"{model_dir}: trained with scikit-learn {trained_with}, this environment has "
            f"{sklearn.__version__}; retrain with `make train` (pickles are not portable "
            "across scikit-learn versions)"
        )
    # Unpickled from the bytes whose hash was just checked, not re-read from disk.
    pipeline = joblib.load(io.BytesIO(pipeline_bytes))
    if not hasattr(pipeline, "predict_proba") or not hasattr(pipeline, "classes_"):
        raise ArtifactError(f"{model_dir / PIPELINE_FILE}: not a fitted scikit-learn classifier")
    return Artifact(model_dir, pipeline, metadata)
