from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from model.artifact import load_artifact
from model.build import train_artifact
from model.config import TrainConfig
from model.data import load_dataset
from model.errors import ArtifactError, ExportError
from model.export import check_parity, onnx_session
from model.parity import probability_tolerance
from tests.banknote import SPEC, spec_on


def test_round_trip_predicts_like_the_training_run(artifact_dir: Path) -> None:
    artifact = load_artifact(artifact_dir)
    dataset = load_dataset(SPEC)
    accuracy = (artifact.pipeline.predict(dataset.features) == dataset.labels).mean()
    assert accuracy >= 0.99
    # The scaler travels inside the pipeline: raw features in, right answers out.
    assert artifact.pipeline.named_steps["scaler"].mean_.shape == (4,)


def test_onnx_matches_the_pipeline_on_every_row(artifact_dir: Path, artifact_metadata) -> None:
    artifact = load_artifact(artifact_dir)
    features = load_dataset(SPEC).features
    labels, probabilities = onnx_session((artifact_dir / "model.onnx").read_bytes()).run(
        ["label", "probabilities"], {"features": features.astype(np.float32)}
    )
    np.testing.assert_array_equal(labels, artifact.pipeline.predict(features))
    gap = np.abs(probabilities - artifact.pipeline.predict_proba(features)).max(axis=1)
    assert np.all(gap <= probability_tolerance(artifact.pipeline, features).per_row)
    assert artifact_metadata["onnx"]["parity"]["rows"] == len(features)


def test_parity_check_catches_an_export_of_another_model(artifact_dir: Path, tmp_path) -> None:
    other = tmp_path / "other"
    train_artifact(spec_on(gate=False, factory="tests.banknote:weak_svc"), other, TrainConfig())
    pipeline = load_artifact(artifact_dir).pipeline
    features = load_dataset(SPEC).features
    with pytest.raises(ExportError, match="ONNX"):
        check_parity(pipeline, (other / "model.onnx").read_bytes(), features, SPEC.positive)


def test_missing_artifact(tmp_path) -> None:
    with pytest.raises(ArtifactError, match="does not exist: no model artifact here"):
        load_artifact(tmp_path / "absent")


@pytest.mark.parametrize("name", ["model.joblib", "model.onnx", "metadata.json"])
def test_incomplete_artifact_is_refused(artifact_copy: Path, name) -> None:
    (artifact_copy / name).unlink()
    with pytest.raises(ArtifactError, match=f"incomplete artifact, {name} is missing"):
        load_artifact(artifact_copy)


@pytest.mark.parametrize("name", ["model.joblib", "model.onnx"])
def test_tampered_file_is_refused(artifact_copy: Path, name) -> None:
    path = artifact_copy / name
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ArtifactError, match=f"{name}: sha256 does not match"):
        load_artifact(artifact_copy)


def test_other_sklearn_version_is_refused(artifact_copy: Path) -> None:
    path = artifact_copy / "metadata.json"
    metadata = json.loads(path.read_text())
    metadata["versions"]["scikit-learn"] = "1.0.2"
    path.write_text(json.dumps(metadata))
    with pytest.raises(ArtifactError, match=r"trained with scikit-learn 1\.0\.2"):
        load_artifact(artifact_copy)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{not json", "not valid JSON"),
        ('{"format_version": 99, "files": {}}', "format_version 99, this code reads"),
    ],
)
def test_unreadable_metadata_is_refused(artifact_copy: Path, text, message) -> None:
    (artifact_copy / "metadata.json").write_text(text)
    with pytest.raises(ArtifactError, match=message):
        load_artifact(artifact_copy)


def test_retraining_replaces_the_artifact_whole(artifact_copy: Path) -> None:
    before = json.loads((artifact_copy / "metadata.json").read_text())["model_version"]
    (artifact_copy / "stale-file").write_text("left over")
    train_artifact(SPEC, artifact_copy, TrainConfig())
    assert not (artifact_copy / "stale-file").exists()
    assert load_artifact(artifact_copy).metadata.model_version != before
    assert not list(artifact_copy.parent.glob(".model-*"))
