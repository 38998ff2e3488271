"""The command line end to end, as a user runs it: real subprocesses, real files."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np

from model.artifact import load_artifact
from tests.banknote import DATA_PATH
from tests.model.cli_support import assert_one_line_error, run_model


def test_help_lists_the_commands() -> None:
    result = run_model("--help")
    assert result.returncode == 0
    for command in ("train", "compare", "evaluate", "predict"):
        assert command in result.stdout


def test_train_evaluate_predict_on_the_real_data(tmp_path: Path) -> None:
    out = tmp_path / "model"
    trained = run_model("train", "--data", str(DATA_PATH), "--out", str(out))
    assert trained.returncode == 0, trained.stderr
    assert "accuracy" in trained.stdout
    assert "roc_auc" in trained.stdout
    version = json.loads((out / "metadata.json").read_text())["model_version"]
    assert version in trained.stdout

    report = tmp_path / "eval.json"
    evaluated = run_model("evaluate", "--model", str(out), "--output", str(report))
    assert evaluated.returncode == 0, evaluated.stderr
    metrics = json.loads(report.read_text())
    assert metrics["model_version"] == version
    assert metrics["data"]["rows"] == 1372
    assert metrics["metrics"]["accuracy"] >= 0.99

    notes = tmp_path / "notes.csv"
    notes.write_text(
        "id,variance,skewness,curtosis,entropy\n"
        "a,3.6216,8.6661,-2.8073,-0.44699\n"
        "b,-1.3971,3.3191,-1.3927,-1.9948\n"
    )
    scored = tmp_path / "scored.csv"
    predicted = run_model(
        "predict", "--model", str(out), "--input", str(notes), "--output", str(scored)
    )
    assert predicted.returncode == 0, predicted.stderr
    rows = list(csv.DictReader(scored.read_text().splitlines()))
    assert [(r["id"], r["prediction"], r["label"]) for r in rows] == [
        ("a", "genuine", "Goed bankbiljet"),
        ("b", "forged", "Vals bankbiljet"),
    ]
    pipeline = load_artifact(out).pipeline
    expected = pipeline.predict_proba(
        np.array([[3.6216, 8.6661, -2.8073, -0.44699], [-1.3971, 3.3191, -1.3927, -1.9948]])
    )[:, 1]
    np.testing.assert_array_equal([float(r["probability_forged"]) for r in rows], expected)
    assert not (tmp_path / "scored.rejects.csv").exists()


def test_missing_data_file_is_one_line(tmp_path: Path) -> None:
    result = run_model("train", "--data", str(tmp_path / "none.txt"), "--out", str(tmp_path))
    assert_one_line_error(result, 1, "none.txt: file not found")


def test_malformed_data_is_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.txt"
    bad.write_text("1,2,3,4,0\n1,2,three,4,1\n")
    result = run_model("train", "--data", str(bad), "--out", str(tmp_path / "m"))
    assert_one_line_error(result, 1, "bad.txt:2: column 'curtosis' is not a number: 'three'")


def test_gate_failure_exits_2(tmp_path: Path) -> None:
    result = run_model("train", "--out", str(tmp_path / "m"), "--min-accuracy", "1.01")
    assert_one_line_error(result, 2, "quality gate failed: holdout accuracy 1.0000 < 1.01")
    assert not (tmp_path / "m").exists()


def test_tampered_artifact_is_one_line(artifact_copy: Path) -> None:
    (artifact_copy / "model.joblib").write_bytes(b"not a pickle")
    result = run_model("evaluate", "--model", str(artifact_copy))
    assert_one_line_error(result, 1, "sha256 does not match")


def test_predict_with_an_unwritable_output_is_one_line(artifact_dir: Path, tmp_path) -> None:
    notes = tmp_path / "notes.csv"
    notes.write_text("variance,skewness,curtosis,entropy\n1,2,3,4\n")
    blocker = tmp_path / "file"
    blocker.write_text("")
    result = run_model(
        "predict",
        "--model",
        str(artifact_dir),
        "--input",
        str(notes),
        "--output",
        str(blocker / "out.csv"),
    )
    assert result.returncode == 1
    assert result.stderr.startswith("error: ")
    assert "Traceback" not in result.stderr


def test_a_usage_error_is_one_line_and_exit_code_1(tmp_path: Path) -> None:
    # Not argparse's 2: that code means a failed quality gate here.
    result = run_model("train", "--seed", "forty-two", "--out", str(tmp_path / "m"))
    assert_one_line_error(result, 1, "argument --seed: invalid int value: 'forty-two'")
    assert "python -m model train --help" in result.stderr
    missing = run_model("compare", "--champion", str(tmp_path))
    assert_one_line_error(missing, 1, "the following arguments are required: --challenger")
