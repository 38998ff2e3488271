"""Write a model artifact directory and load it back with integrity and version checks.

Loading a pickle is only as safe as its origin: the loader refuses any file whose sha256 is
not the one recorded at training time, and any artifact made with another scikit-learn.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import joblib
import sklearn
from sklearn.pipeline import Pipeline

from model.config import (
    ARTIFACT_FORMAT_VERSION,
    METADATA_FILE,
    MODEL_CARD_FILE,
    MODEL_FILE,
    ONNX_FILE,
)
from model.data import file_sha256
from model.errors import ArtifactError

MODEL_FILES = (MODEL_FILE, ONNX_FILE)


@dataclass(frozen=True)
class Artifact:
    """A verified artifact: the fitted pipeline and its metadata."""

    path: Path
    pipeline: Pipeline
    metadata: dict[str, Any]


def write_artifact(
    out_dir: Path,
    pipeline: Pipeline,
    onnx_bytes: bytes,
    metadata: dict[str, Any],
    model_card: str,
) -> dict[str, Any]:
    """Write all files to a temporary sibling directory, then swap it in place.

    A reader never sees a half-written artifact, and a failed run leaves the old one intact.
    Returns the metadata as written (with the file hashes filled in).
    """
    out_dir = out_dir.resolve()
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}-", dir=out_dir.parent))
    try:
        joblib.dump(pipeline, staging / MODEL_FILE)
        (staging / ONNX_FILE).write_bytes(onnx_bytes)
        metadata = {
            **metadata,
            "files": {name: file_sha256(staging / name) for name in MODEL_FILES},
        }
        (staging / METADATA_FILE).write_text(json.dumps(metadata, indent=2) + "\n")
        (staging / MODEL_CARD_FILE).write_text(model_card)
        # mkdtemp makes it 0700; the artifact is read by other users (the image runs non-root).
        os.chmod(staging, 0o755)  # noqa: S103
        previous = out_dir.with_name(f".{out_dir.name}-previous")
        if out_dir.exists():
            shutil.rmtree(previous, ignore_errors=True)
            out_dir.rename(previous)
        staging.rename(out_dir)
        shutil.rmtree(previous, ignore_errors=True)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return metadata


def read_metadata(model_dir: Path) -> dict[str, Any]:
    """The artifact's metadata.json, checked for the format this code understands."""
    path = model_dir / METADATA_FILE
    if not model_dir.is_dir():
        raise ArtifactError(f"{model_dir}: no model artifact here (run `make train`)")
    if not path.is_file():
        raise ArtifactError(f"{model_dir}: incomplete artifact, {METADATA_FILE} is missing")
    try:
        metadata = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ArtifactError(f"{path}: not valid JSON ({error})") from None
    if not isinstance(metadata, dict) or not isinstance(metadata.get("files"), dict):
        raise ArtifactError(f"{path}: not a model metadata file")
    if metadata.get("format_version") != ARTIFACT_FORMAT_VERSION:
        raise ArtifactError(
            f"{path}: artifact format {metadata.get('format_version')!r}, "
            f"this code reads format {ARTIFACT_FORMAT_VERSION}"
        )
    return metadata


def verify_files(model_dir: Path, metadata: dict[str, Any], names: tuple[str, ...]) -> None:
    """Raise ArtifactError unless each named file exists with its recorded sha256."""
    for name in names:
        path = model_dir / name
        expected = metadata["files"].get(name)
        if not path.is_file() or expected is None:
            raise ArtifactError(f"{model_dir}: incomplete artifact, {name} is missing")
        if file_sha256(path) != expected:
            raise ArtifactError(
                f"{path}: sha256 does not match metadata.json; the file was modified after "
                "training, refusing to load it"
            )


def load_artifact(model_dir: Path) -> Artifact:
    """Load and verify an artifact written by `write_artifact`."""
    metadata = read_metadata(model_dir)
    verify_files(model_dir, metadata, MODEL_FILES)
    trained_with = metadata.get("versions", {}).get("scikit-learn")
    if trained_with != sklearn.__version__:
        raise ArtifactError(
            f"{model_dir}: trained with scikit-learn {trained_with}, this environment has "
            f"{sklearn.__version__}; retrain with `make train` (pickles are not portable "
            "across scikit-learn versions)"
        )
    pipeline = joblib.load(model_dir / MODEL_FILE)
    if not isinstance(pipeline, Pipeline):
        raise ArtifactError(f"{model_dir / MODEL_FILE}: not a scikit-learn Pipeline")
    return Artifact(model_dir, pipeline, metadata)
