"""Champion vs challenger: `python -m model compare` and `train --champion`, for real."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from contract import METADATA_FILE
from model import cli
from model.build import train_artifact
from model.compare import regression_reasons
from model.config import CompareConfig, TrainConfig
from model.errors import NewContractError, RegressionError
from tests.banknote import DATA_PATH, SPEC, spec_file, three_feature_spec_file
from tests.contract.legacy import as_format_1
from tests.model.cli_support import assert_one_line_error, run_model

REPORTED = ("accuracy", "roc_auc", "log_loss", "brier", "confusion_matrix")


@pytest.fixture
def weak_dir(weak_artifact_dir: Path) -> Path:
    """The weak model of tests/conftest.py (variance zeroed, absolute gate off)."""
    return weak_artifact_dir


@pytest.fixture(scope="module")
def retrained_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An equal challenger: a retrain on the same data with the same settings."""
    out = tmp_path_factory.mktemp("retrained") / "model"
    train_artifact(SPEC, out, TrainConfig())
    return out


def _edit(directory: Path, change: Any) -> None:
    path = directory / METADATA_FILE
    metadata = json.loads(path.read_text())
    change(metadata)
    path.write_text(json.dumps(metadata))


def _snapshot(directory: Path) -> dict[str, str]:
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(directory.iterdir())
        if p.is_file()
    }


def test_a_clearly_worse_challenger_fails(artifact_dir: Path, weak_dir: Path, tmp_path) -> None:
    report, markdown = tmp_path / "report.json", tmp_path / "report.md"
    result = run_model(
        "compare", "--champion", str(artifact_dir), "--challenger", str(weak_dir),
        "--json", str(report), "--markdown", str(markdown),
    )  # fmt: skip
    assert_one_line_error(result, RegressionError.exit_code, "is worse than champion")
    assert "accuracy" in result.stderr
    assert "log loss" in result.stderr
    # The side-by-side table is on stdout, the metrics the issue names included.
    for title in ("accuracy", "ROC AUC", "log loss", "Brier", "confusion matrices"):
        assert title in result.stdout
    assert "worse beyond tolerance" in result.stdout
    data = json.loads(report.read_text())
    assert data["verdict"] == "regression"
    assert data["failed_metrics"] == ["accuracy", "log_loss"]
    assert data["holdout"] == {
        "rows": 270,
        "data_file": DATA_PATH.name,
        "data_sha256": json.loads((artifact_dir / METADATA_FILE).read_text())["data"]["sha256"],
        "seed": 42,
        "test_size": 0.2,
    }
    champion, challenger = data["champion"]["metrics"], data["challenger"]["metrics"]
    assert set(champion) == set(challenger) == set(REPORTED)
    assert champion["accuracy"] - challenger["accuracy"] > 0.1
    assert sum(map(sum, challenger["confusion_matrix"])) == 270
    text = markdown.read_text()
    assert "| accuracy | 1.0000 |" in text
    assert "(worse beyond tolerance)" in text
    assert "**Verdict: regression:" in text


def test_an_equal_challenger_passes(artifact_dir: Path, retrained_dir: Path, tmp_path) -> None:
    report = tmp_path / "report.json"
    result = run_model(
        "compare", "--champion", str(artifact_dir), "--challenger", str(retrained_dir),
        "--json", str(report),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert "verdict: pass" in result.stdout
    data = json.loads(report.read_text())
    assert data["verdict"] == "pass"
    assert data["reasons"] == []
    assert data["champion"]["metrics"] == data["challenger"]["metrics"]


def test_a_regression_can_be_accepted_on_purpose(artifact_dir: Path, weak_dir: Path, tmp_path):
    report = tmp_path / "report.json"
    result = run_model(
        "compare", "--champion", str(artifact_dir), "--challenger", str(weak_dir),
        "--accept-regression", "--json", str(report),
    )  # fmt: skip
    assert result.returncode == 0
    assert result.stderr.startswith("warning: challenger ")
    assert result.stderr.rstrip().endswith("accepted with --accept-regression")
    data = json.loads(report.read_text())
    assert (data["verdict"], data["regression"], data["accepted"]) == (
        "regression accepted",
        True,
        True,
    )


def test_tolerances_are_flags(artifact_dir: Path, weak_dir: Path) -> None:
    result = run_model(
        "compare", "--champion", str(artifact_dir), "--challenger", str(weak_dir),
        "--max-accuracy-drop", "0.5", "--max-log-loss-increase", "1",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    bad = run_model(
        "compare", "--champion", str(artifact_dir), "--challenger", str(weak_dir),
        "--max-accuracy-drop", "-0.1",
    )  # fmt: skip
    assert_one_line_error(bad, 1, "must be a finite number >= 0")


def test_a_format_1_champion_from_another_scikit_learn_still_compares(
    artifact_copy: Path, retrained_dir: Path, tmp_path
) -> None:
    # main's model before this format existed, trained under another scikit-learn: compare
    # runs its model.onnx and never unpickles model.joblib, so neither matters.
    def downgrade(metadata: dict[str, Any]) -> None:
        old = as_format_1(metadata)
        old["versions"]["scikit-learn"] = "1.5.2"
        metadata.clear()
        metadata.update(old)

    _edit(artifact_copy, downgrade)
    (artifact_copy / "model.joblib").write_bytes(b"a pickle from another scikit-learn")
    report = tmp_path / "report.json"
    result = run_model(
        "compare", "--champion", str(artifact_copy), "--challenger", str(retrained_dir),
        "--json", str(report),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    data = json.loads(report.read_text())
    assert data["champion"]["format_version"] == 1
    assert data["verdict"] == "pass"


def _tamper_onnx(directory: Path) -> None:
    path = directory / "model.onnx"
    path.write_bytes(path.read_bytes()[:-1] + b"\x00")


def _garbage_onnx_with_its_hash(directory: Path) -> None:
    garbage = b"not an onnx graph"
    (directory / "model.onnx").write_bytes(garbage)
    _edit(
        directory,
        lambda m: m["files"].__setitem__("model.onnx", hashlib.sha256(garbage).hexdigest()),
    )


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (_tamper_onnx, "model.onnx: sha256 does not match metadata.json"),
        (_garbage_onnx_with_its_hash, "cannot load model.onnx"),
        (lambda d: _edit(d, lambda m: m.__setitem__("format_version", 99)), "format_version 99"),
        (
            lambda d: _edit(d, lambda m: m["contract"].pop("classes")),
            "no usable 'contract.classes'",
        ),
        (lambda d: shutil.rmtree(d), "does not exist: no model artifact here"),
    ],
    ids=["tampered", "not-onnx", "future-format", "no-classes", "missing"],
)
def test_an_unusable_champion_is_refused_with_its_reason(
    artifact_copy: Path, retrained_dir: Path, damage: Any, message: str
) -> None:
    damage(artifact_copy)
    result = run_model(
        "compare", "--champion", str(artifact_copy), "--challenger", str(retrained_dir)
    )
    assert_one_line_error(result, 1, message)
    assert result.stdout == ""


def test_a_challenger_with_a_new_contract_is_not_compared(
    artifact_dir: Path, new_contract_artifact_dir: Path, tmp_path: Path
) -> None:
    report, markdown = tmp_path / "report.json", tmp_path / "report.md"
    result = run_model(
        "compare", "--champion", str(artifact_dir), "--challenger", str(new_contract_artifact_dir),
        "--json", str(report), "--markdown", str(markdown),
    )  # fmt: skip
    assert_one_line_error(
        result, NewContractError.exit_code, "new model contract: no comparison possible"
    )
    assert result.stderr.rstrip().endswith("in features")
    assert "verdict: new model contract: no comparison possible" in result.stdout
    data = json.loads(report.read_text())
    assert (data["verdict"], data["regression"], data["accepted"]) == ("new contract", False, False)
    assert data["differences"] == {
        "features": {
            "champion": "variance, skewness, curtosis, entropy",
            "challenger": "variance, skewness, curtosis",
        }
    }
    assert "| features | variance, skewness, curtosis, entropy |" in markdown.read_text()
    accepted = run_model(
        "compare", "--champion", str(artifact_dir), "--challenger", str(new_contract_artifact_dir),
        "--accept-regression",
    )  # fmt: skip
    assert accepted.returncode == 0, accepted.stderr
    assert accepted.stderr.startswith("warning: new model contract")
    assert accepted.stderr.rstrip().endswith("accepted with --accept-regression")


def test_compare_scores_on_the_challengers_own_spec(new_contract_artifact_dir: Path) -> None:
    # Two models of a contract other than the default spec's: their rows are their spec's.
    result = run_model(
        "compare", "--champion", str(new_contract_artifact_dir),
        "--challenger", str(new_contract_artifact_dir),
    )  # fmt: skip
    assert_one_line_error(result, 1, "was not trained from")
    assert "give its --spec" in result.stderr


def test_train_with_an_equal_champion_writes_the_new_model(
    artifact_dir: Path, tmp_path: Path
) -> None:
    out, report = tmp_path / "model", tmp_path / "comparison.md"
    result = run_model(
        "train", "--out", str(out), "--champion", str(artifact_dir),
        "--compare-markdown", str(report),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "verdict: pass" in result.stdout
    version = json.loads((out / METADATA_FILE).read_text())["model_version"]
    assert f"model {version} written to {out}" in result.stdout
    assert f"`{version}`" in report.read_text()


def test_train_keeps_the_previous_artifact_when_the_challenger_is_worse(
    artifact_copy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A change that makes training worse on unchanged data (here: a factory whose grid offers
    # only a poor C and gamma), with the absolute gate off so only the comparison can stop it.
    spec = spec_file(tmp_path, factory="tests.banknote:weak_svc")
    before = _snapshot(artifact_copy)
    report = tmp_path / "comparison.json"
    code = cli.main(
        [
            "train", "--spec", str(spec), "--out", str(artifact_copy),
            "--champion", str(artifact_copy), "--min-accuracy", "0", "--min-roc-auc", "0",
            "--compare-json", str(report),
        ]
    )  # fmt: skip
    captured = capsys.readouterr()
    assert code == RegressionError.exit_code
    assert captured.err.startswith("error: challenger ")
    assert captured.err.rstrip().endswith(f"nothing written, {artifact_copy} is unchanged")
    assert captured.err.count("\n") == 1
    assert "written to" not in captured.out
    assert _snapshot(artifact_copy) == before
    assert not [p for p in artifact_copy.parent.iterdir() if p.name.startswith(".model-")]
    assert json.loads(report.read_text())["verdict"] == "regression"


def test_train_with_a_champion_of_another_contract_writes_nothing(
    artifact_copy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = three_feature_spec_file(tmp_path)
    before = _snapshot(artifact_copy)
    code = cli.main(
        [
            "train",
            "--spec",
            str(spec),
            "--out",
            str(artifact_copy),
            "--champion",
            str(artifact_copy),
        ]
    )
    captured = capsys.readouterr()
    assert code == NewContractError.exit_code
    assert captured.err.startswith("error: new model contract: no comparison possible")
    assert captured.err.rstrip().endswith(f"nothing written, {artifact_copy} is unchanged")
    assert captured.err.count("\n") == 1
    assert _snapshot(artifact_copy) == before


def test_train_refuses_a_bad_champion_before_training(tmp_path: Path) -> None:
    result = run_model(
        "train", "--out", str(tmp_path / "model"), "--champion", str(tmp_path / "nothing")
    )
    assert_one_line_error(result, 1, "does not exist: no model artifact here")
    assert result.stdout == ""  # no training output: it stopped before spending the time
    assert not (tmp_path / "model").exists()


def test_comparison_flags_need_a_champion(tmp_path: Path) -> None:
    result = run_model("train", "--out", str(tmp_path / "m"), "--accept-regression")
    assert_one_line_error(result, 1, "need --champion")


@pytest.mark.parametrize(
    ("champion", "challenger", "failed"),
    [
        ({"accuracy": 1.0, "log_loss": 0.003}, {"accuracy": 0.995, "log_loss": 0.013}, []),
        ({"accuracy": 1.0, "log_loss": 0.003}, {"accuracy": 0.9949, "log_loss": 0.003}, ["acc"]),
        ({"accuracy": 1.0, "log_loss": 0.003}, {"accuracy": 1.0, "log_loss": 0.0131}, ["log"]),
        # Above 0.02 the relative half wins over the absolute 0.01.
        ({"accuracy": 0.9, "log_loss": 0.2}, {"accuracy": 0.9, "log_loss": 0.3}, []),
        ({"accuracy": 0.9, "log_loss": 0.2}, {"accuracy": 0.9, "log_loss": 0.301}, ["log"]),
        ({"accuracy": 0.9, "log_loss": 0.2}, {"accuracy": 0.99, "log_loss": 0.01}, []),
    ],
)
def test_the_tolerance_rule(
    champion: dict[str, float], challenger: dict[str, float], failed: list[str]
) -> None:
    reasons = regression_reasons(champion, challenger, CompareConfig())
    assert [key[:3] for key in reasons] == failed
