from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from contract import METADATA_FILE, MODEL_CARD_FILE, QUANTILE_KEYS
from model.artifact import load_artifact
from model.build import train_artifact
from model.config import TrainConfig
from model.data import load_dataset
from model.errors import QualityGateError
from model.evaluate import check_quality_gate
from model.figures import CALIBRATION_FILE, CONFUSION_FILE, ROC_FILE
from model.spec import GateSpec
from model.train import split_dataset
from tests.banknote import DATA_PATH, FEATURES, SPEC, spec_on


def test_default_model_passes_the_gate_with_room(artifact_metadata) -> None:
    holdout = artifact_metadata["metrics"]["holdout"]
    assert holdout["accuracy"] >= 0.99
    assert holdout["roc_auc"] >= 0.995
    assert artifact_metadata["metrics"]["cv"]["accuracy"]["mean"] >= 0.99
    assert holdout["rows"] == artifact_metadata["data"]["test_rows"]
    assert sum(map(sum, holdout["confusion_matrix"])) == holdout["rows"]
    assert set(holdout["per_class"]) == {"genuine", "forged"}


def test_no_duplicate_straddles_the_split() -> None:
    dataset = load_dataset(SPEC)
    split = split_dataset(dataset, TrainConfig())
    train_rows = {tuple(row) for row in split.x_train}
    test_rows = {tuple(row) for row in split.x_test}
    assert not train_rows & test_rows
    assert split.duplicates_removed == 24
    assert len(split.y_train) + len(split.y_test) == 1348
    # Stratified: the holdout keeps the class balance of the unique rows to within one row.
    assert abs(split.y_test.mean() - split.y_train.mean()) < 0.01


def test_two_runs_give_identical_metrics_and_predictions(artifact_dir: Path, tmp_path) -> None:
    again = tmp_path / "again"
    train_artifact(SPEC, again, TrainConfig())
    first, second = load_artifact(artifact_dir), load_artifact(again)
    assert first.metadata.metrics == second.metadata.metrics
    assert first.metadata.hyperparameters == second.metadata.hyperparameters
    assert first.metadata.model_version != second.metadata.model_version
    features = load_dataset(SPEC).features
    np.testing.assert_array_equal(
        first.pipeline.predict_proba(features), second.pipeline.predict_proba(features)
    )
    assert (artifact_dir / "model.onnx").read_bytes() == (again / "model.onnx").read_bytes()
    # The pictures too, byte for byte: no timestamp or version inside them (model/figures.py).
    for name in (ROC_FILE, CALIBRATION_FILE, CONFUSION_FILE):
        assert (artifact_dir / name).read_bytes() == (again / name).read_bytes(), name


def test_gate_fails_on_shuffled_labels(tmp_path) -> None:
    rng = np.random.default_rng(0)
    lines = DATA_PATH.read_text().splitlines()
    labels = [line.rsplit(",", 1)[1] for line in lines]
    rng.shuffle(labels)
    shuffled = tmp_path / "shuffled.txt"
    shuffled.write_text(
        "".join(
            f"{line.rsplit(',', 1)[0]},{label}\n" for line, label in zip(lines, labels, strict=True)
        )
    )
    out = tmp_path / "model"
    with pytest.raises(QualityGateError, match=r"quality gate failed: holdout accuracy 0\.\d+"):
        train_artifact(spec_on(shuffled), out, TrainConfig())
    assert not out.exists(), "a failed gate must not write an artifact"


def test_gate_reports_every_failing_threshold() -> None:
    holdout = {"accuracy": 0.98, "roc_auc": 0.99}
    gate = GateSpec(min_accuracy=0.99, min_roc_auc=0.995)
    assert check_quality_gate(holdout, gate) == [
        "holdout accuracy 0.9800 < 0.99",
        "holdout ROC AUC 0.9900 < 0.995",
    ]
    assert check_quality_gate({"accuracy": 0.99, "roc_auc": 0.995}, gate) == []


def test_metadata_records_provenance(artifact_dir: Path, artifact_metadata) -> None:
    import sklearn

    meta = artifact_metadata
    assert meta["data"]["sha256"] == load_dataset(SPEC).sha256
    assert meta["data"]["rows"] == 1372
    assert [f["name"] for f in meta["contract"]["features"]] == list(SPEC.features)
    assert meta["contract"]["classes"][1] == {
        "value": 1,
        "name": "forged",
        "label": "Vals bankbiljet",
    }
    assert meta["hyperparameters"]["estimator"] == SPEC.estimator.factory
    assert meta["versions"]["scikit-learn"] == sklearn.__version__
    assert set(meta["versions"]) >= {"python", "numpy", "onnx", "onnxruntime", "skl2onnx"}
    assert meta["created_at"].endswith("Z")
    assert meta["model_version"].startswith(meta["created_at"][:10].replace("-", ""))
    assert set(meta["files"]) == {
        "model.joblib", "model.onnx", ROC_FILE, CALIBRATION_FILE, CONFUSION_FILE
    }  # fmt: skip
    card = (artifact_dir / MODEL_CARD_FILE).read_text()
    assert meta["model_version"] in card
    assert "removed before the\nsplit" in card or "removed before the split" in card
    assert "| 1 | forged | Vals bankbiljet |" in card
    # The card's prose is the spec's, the model paragraph the fitted estimator's own.
    assert SPEC.card.intended_use
    assert SPEC.card.intended_use in card
    assert SPEC.card.limits
    assert SPEC.card.limits in card
    assert meta["hyperparameters"]["fitted"] in card
    best = meta["hyperparameters"]["best_params"]
    assert f"SVC(C={best['classifier__estimator__C']}" in card
    assert "Precision (forged)" in card
    assert json.loads((artifact_dir / METADATA_FILE).read_text()) == meta


def test_training_ranges_and_quantiles_describe_the_fitted_rows(
    artifact_dir: Path, artifact_metadata
) -> None:
    split = split_dataset(load_dataset(SPEC), TrainConfig())
    recorded = artifact_metadata["feature_stats"]
    assert recorded["rows"] == len(split.y_train) == artifact_metadata["data"]["train_rows"]
    card = (artifact_dir / MODEL_CARD_FILE).read_text()
    assert "## Training ranges" in card
    for column, name in enumerate(FEATURES):
        values = split.x_train[:, column]
        stats = recorded["features"][name]
        assert (stats["min"], stats["max"]) == (values.min(), values.max())
        for key, value in stats["quantiles"].items():
            assert value == pytest.approx(np.quantile(values, float(key)))
        # The card lists every feature with its min, nine quantiles and max.
        row = next(line for line in card.splitlines() if line.startswith(f"| {name} |"))
        assert row.count("|") == 1 + 1 + len(QUANTILE_KEYS) + 2
        assert f"{stats['min']:.4g}" in row
    # The training split's range is not the whole file's: the holdout may reach beyond it.
    assert recorded["features"]["curtosis"]["max"] <= load_dataset(SPEC).features[:, 2].max()
