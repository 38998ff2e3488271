"""Read and verify a model artifact directory before anything is served from it.

The contract (written by `python -m model train`): metadata.json with format_version 1 and the
sha256 of model.onnx; model.onnx takes float32 [N, 4] features and returns labels and
probabilities. model.joblib is training's file and is deliberately not required here: the
service never loads a pickle, and the image may leave it out.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SUPPORTED_FORMAT_VERSION = 1
METADATA_FILE = "metadata.json"
ONNX_FILE = "model.onnx"
EXPECTED_FEATURES = ("variance", "skewness", "curtosis", "entropy")
# The label convention the API promises (DESIGN.md): class 0 genuine, class 1 forged.
EXPECTED_CLASSES = ((0, "genuine"), (1, "forged"))


class ArtifactError(Exception):
    """The artifact is missing, incomplete, tampered with or incompatible."""


@dataclass(frozen=True, slots=True)
class ClassInfo:
    """One output class: its integer value, API name and the original Dutch label."""

    value: int
    name: str
    label: str


@dataclass(frozen=True, slots=True)
class Artifact:
    """A verified artifact: the ONNX bytes plus the metadata the API exposes."""

    directory: Path
    onnx_bytes: bytes
    model_version: str
    created_at: str
    features: tuple[str, ...]
    classes: tuple[ClassInfo, ...]
    input_name: str
    label_output: str
    probability_output: str
    metadata: dict[str, Any]


def load_artifact(directory: Path) -> Artifact:
    """Read `directory`, check format version, hashes and contract; raise ArtifactError if off."""
    metadata = _read_metadata(directory)
    onnx_bytes = _read_verified_onnx(directory, metadata)
    onnx_info = _require(metadata, "onnx", dict)
    return Artifact(
        directory=directory,
        onnx_bytes=onnx_bytes,
        model_version=_require(metadata, "model_version", str),
        created_at=_require(metadata, "created_at", str),
        features=_check_features(metadata),
        classes=_check_classes(metadata),
        input_name=_require(onnx_info, "input", str, "onnx.input"),
        label_output=_require(onnx_info, "label_output", str, "onnx.label_output"),
        probability_output=_require(
            onnx_info, "probability_output", str, "onnx.probability_output"
        ),
        metadata=metadata,
    )


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise ArtifactError(f"{path} is missing: the artifact is incomplete") from None
    except OSError as exc:
        raise ArtifactError(f"cannot read {path}: {exc.strerror}") from None


def _read_metadata(directory: Path) -> dict[str, Any]:
    path = directory / METADATA_FILE
    if not directory.is_dir():
        raise ArtifactError(f"model directory {directory} does not exist (train one: make train)")
    raw = _read(path)
    try:
        metadata = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ArtifactError(f"{path} is not valid JSON: {exc}") from None
    if not isinstance(metadata, dict):
        raise ArtifactError(f"{path} must hold a JSON object")
    version = metadata.get("format_version")
    if version != SUPPORTED_FORMAT_VERSION:
        raise ArtifactError(
            f"{path}: format_version {version!r} is not supported "
            f"(this service reads format_version {SUPPORTED_FORMAT_VERSION})"
        )
    return metadata


def _read_verified_onnx(directory: Path, metadata: dict[str, Any]) -> bytes:
    path = directory / ONNX_FILE
    files = _require(metadata, "files", dict)
    expected = files.get(ONNX_FILE)
    if not isinstance(expected, str) or len(expected) != 64:
        raise ArtifactError(f"metadata.json: files[{ONNX_FILE!r}] must be a sha256 hex digest")
    data = _read(path)
    actual = hashlib.sha256(data).hexdigest()
    if actual != expected.lower():
        raise ArtifactError(
            f"{path}: sha256 {actual} does not match metadata.json ({expected}); "
            "the file was changed after training"
        )
    return data


def _check_features(metadata: dict[str, Any]) -> tuple[str, ...]:
    features = metadata.get("features")
    if not isinstance(features, list) or tuple(features) != EXPECTED_FEATURES:
        raise ArtifactError(
            f"metadata.json: features {features!r} differ from {list(EXPECTED_FEATURES)}"
        )
    return EXPECTED_FEATURES


def _check_classes(metadata: dict[str, Any]) -> tuple[ClassInfo, ...]:
    raw = metadata.get("classes")
    try:
        classes = tuple(
            ClassInfo(value=int(c["value"]), name=str(c["name"]), label=str(c["label"]))
            for c in raw  # type: ignore[union-attr]
        )
    except (TypeError, KeyError, ValueError):
        raise ArtifactError(f"metadata.json: classes {raw!r} are malformed") from None
    if tuple((c.value, c.name) for c in classes) != EXPECTED_CLASSES:
        raise ArtifactError(
            f"metadata.json: classes {raw!r} break the label convention (0 = genuine, 1 = forged)"
        )
    return classes


def _require(mapping: dict[str, Any], key: str, kind: type[Any], name: str | None = None) -> Any:
    value = mapping.get(key)
    if not isinstance(value, kind):
        raise ArtifactError(f"metadata.json: {name or key} is missing or not a {kind.__name__}")
    return value
