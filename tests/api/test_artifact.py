"""The artifact loader refuses anything but a complete, untampered, compatible artifact."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.artifact import ArtifactError, load_artifact
from api.config import Settings
from api.lifespan import load_predictor
from api.main import create_app
from contract import FORMAT_VERSION
from tests.banknote import SPEC


def _edit_metadata(directory: Path, change: Callable[[dict[str, Any]], None]) -> None:
    path = directory / "metadata.json"
    metadata = json.loads(path.read_text())
    change(metadata)
    path.write_text(json.dumps(metadata))


def test_trained_artifact_loads(artifact_dir: Path) -> None:
    artifact = load_artifact(artifact_dir)
    assert artifact.features == SPEC.features
    assert [c.label for c in artifact.classes] == ["Goed bankbiljet", "Vals bankbiljet"]
    assert artifact.metadata.format_version == FORMAT_VERSION


def test_joblib_is_not_needed_to_serve(artifact_copy: Path) -> None:
    (artifact_copy / "model.joblib").unlink()
    (artifact_copy / "MODEL_CARD.md").unlink()
    predictor = load_predictor(artifact_copy, 1)
    assert predictor.predict_one((3.6216, 8.6661, -2.8073, -0.44699))[0] == 0


def test_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(ArtifactError, match="does not exist"):
        load_artifact(tmp_path / "nothing-here")


def test_missing_metadata(artifact_copy: Path) -> None:
    (artifact_copy / "metadata.json").unlink()
    with pytest.raises(ArtifactError, match=r"metadata\.json is missing"):
        load_artifact(artifact_copy)


def test_missing_onnx(artifact_copy: Path) -> None:
    (artifact_copy / "model.onnx").unlink()
    with pytest.raises(ArtifactError, match=r"model\.onnx is missing"):
        load_artifact(artifact_copy)


def test_metadata_not_json(artifact_copy: Path) -> None:
    (artifact_copy / "metadata.json").write_text("{not json")
    with pytest.raises(ArtifactError, match="not valid JSON"):
        load_artifact(artifact_copy)


@pytest.mark.parametrize("version", [None, 0, FORMAT_VERSION + 1, str(FORMAT_VERSION)])
def test_unsupported_format_version(artifact_copy: Path, version: Any) -> None:
    _edit_metadata(artifact_copy, lambda m: m.__setitem__("format_version", version))
    with pytest.raises(ArtifactError, match="format_version"):
        load_artifact(artifact_copy)


def test_tampered_onnx_is_refused(artifact_copy: Path) -> None:
    onnx = artifact_copy / "model.onnx"
    data = bytearray(onnx.read_bytes())
    data[len(data) // 2] ^= 0xFF
    onnx.write_bytes(bytes(data))
    with pytest.raises(ArtifactError, match=r"does not match metadata\.json"):
        load_artifact(artifact_copy)


def test_missing_hash_is_refused(artifact_copy: Path) -> None:
    _edit_metadata(artifact_copy, lambda m: m["files"].pop("model.onnx"))
    with pytest.raises(ArtifactError, match="sha256"):
        load_artifact(artifact_copy)


def test_garbage_onnx_with_matching_hash_is_refused(artifact_copy: Path) -> None:
    garbage = b"this is not an onnx graph"
    (artifact_copy / "model.onnx").write_bytes(garbage)
    digest = hashlib.sha256(garbage).hexdigest()
    _edit_metadata(artifact_copy, lambda m: m["files"].__setitem__("model.onnx", digest))
    with pytest.raises(ArtifactError, match="ONNX Runtime cannot load"):
        load_predictor(artifact_copy, 1)


def test_swapped_class_values_are_refused(artifact_copy: Path) -> None:
    def swap(metadata: dict[str, Any]) -> None:
        first, second = metadata["contract"]["classes"]
        first["value"], second["value"] = second["value"], first["value"]

    _edit_metadata(artifact_copy, swap)
    with pytest.raises(ArtifactError, match="ascending value order"):
        load_artifact(artifact_copy)


def test_features_other_than_the_trained_ones_are_refused(artifact_copy: Path) -> None:
    def rename(metadata: dict[str, Any]) -> None:
        model = metadata["contract"]
        for feature, name in zip(model["features"], "abcd", strict=True):
            feature["name"] = name
        for example in model["examples"]:
            example["values"] = dict(zip("abcd", example["values"].values(), strict=True))

    _edit_metadata(artifact_copy, rename)
    with pytest.raises(ArtifactError, match="feature_stats must cover exactly"):
        load_artifact(artifact_copy)


def test_an_example_the_model_gets_wrong_is_refused(artifact_copy: Path) -> None:
    # The start-up self-check scores the artifact's own examples: one of each class.
    def relabel(metadata: dict[str, Any]) -> None:
        metadata["contract"]["examples"][0]["values"] = metadata["contract"]["examples"][1][
            "values"
        ]

    _edit_metadata(artifact_copy, relabel)
    with pytest.raises(ArtifactError, match="for line 1 of its training data, known to be class 0"):
        load_predictor(artifact_copy, 1)


def test_wrong_output_name_is_refused(artifact_copy: Path) -> None:
    _edit_metadata(artifact_copy, lambda m: m["onnx"].__setitem__("probability_output", "proba"))
    with pytest.raises(ArtifactError, match="lacks outputs"):
        load_predictor(artifact_copy, 1)


def test_app_refuses_to_start_on_a_bad_artifact(
    artifact_copy: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (artifact_copy / "model.onnx").write_bytes(b"tampered")
    app = create_app(Settings(model_dir=artifact_copy))
    with pytest.raises(ArtifactError), TestClient(app):
        pass  # pragma: no cover - startup fails before the body runs
    errors = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert len(errors) == 1
    assert errors[0].startswith("cannot serve: ")
    assert app.state.predictor is None


def test_the_app_refuses_a_model_whose_contract_changed_after_it_was_built(
    artifact_copy: Path, weak_artifact_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    app = create_app(Settings(model_dir=artifact_copy))
    # Another model replaces the artifact between building the routes and loading the model.
    other = json.loads((weak_artifact_dir / "metadata.json").read_text())
    other["contract"]["api"]["predict_summary"] = "Another model's words"
    for name in ("model.onnx", "model.joblib"):
        (artifact_copy / name).write_bytes((weak_artifact_dir / name).read_bytes())
    (artifact_copy / "metadata.json").write_text(json.dumps(other))
    with (
        pytest.raises(ArtifactError, match="contract changed after the app was built"),
        TestClient(app),
    ):
        pass  # pragma: no cover - startup fails before the body runs
    assert app.state.predictor is None
