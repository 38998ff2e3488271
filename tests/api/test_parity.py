"""The service's ONNX answers equal the trained sklearn pipeline's on every dataset row."""

from __future__ import annotations

from pathlib import Path

import joblib
import numpy as np
import pytest

from api.lifespan import load_predictor

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "data" / "data_banknote_authentication.txt"


@pytest.fixture(scope="module")
def rows() -> np.ndarray:
    data: np.ndarray = np.loadtxt(DATA, delimiter=",", dtype=np.float64)
    return data


def test_batch_matches_sklearn_on_every_row(artifact_dir: Path, rows: np.ndarray) -> None:
    pipeline = joblib.load(artifact_dir / "model.joblib")  # our own artifact, just trained
    features = rows[:, :4]
    expected_labels = pipeline.predict(features.astype(np.float32))
    expected_forged = pipeline.predict_proba(features.astype(np.float32))[:, 1]
    labels, forged = load_predictor(artifact_dir, 1).predict_many(features)
    assert labels == expected_labels.tolist()
    np.testing.assert_allclose(forged, expected_forged, atol=1e-5)
    # And the model is right about the data it learned from.
    assert (np.array(labels) == rows[:, 4]).mean() > 0.99


def test_single_matches_batch_on_every_row(artifact_dir: Path, rows: np.ndarray) -> None:
    predictor = load_predictor(artifact_dir, 1)
    labels, forged = predictor.predict_many(rows[:, :4])
    for row, label, probability in zip(rows[:, :4].tolist(), labels, forged, strict=True):
        assert predictor.predict_one(row) == (label, pytest.approx(probability, abs=1e-7))


def test_busy_bound_buffers_fall_back_to_a_plain_call(artifact_dir: Path) -> None:
    predictor = load_predictor(artifact_dir, 1)
    note = (-1.3971, 3.3191, -1.3927, -1.9948)
    fast = predictor.predict_one(note)
    with predictor._bound_lock:  # as if another thread were using them
        slow = predictor.predict_one(note)
    assert slow == fast
    assert fast[0] == 1


def test_values_beyond_float32_saturate(artifact_dir: Path) -> None:
    predictor = load_predictor(artifact_dir, 1)
    label, probability = predictor.predict_one((1e300, -1e300, 1e39, -1e39))
    assert label in (0, 1)
    assert 0.0 <= probability <= 1.0
    labels, probabilities = predictor.predict_many(np.array([[1e300, -1e300, 1e39, -1e39]]))
    assert (labels[0], probabilities[0]) == (label, pytest.approx(probability, abs=1e-7))
