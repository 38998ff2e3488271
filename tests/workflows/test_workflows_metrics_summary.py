""".github/scripts/metrics_summary.py: the train stage's job summary, on real trained models."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.workflows.pipeline import ROOT

SCRIPT = ROOT / ".github" / "scripts" / "metrics_summary.py"


def summary(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def rows(markdown: str) -> dict[str, list[str]]:
    """Table rows by metric name: the cells after the first."""
    table = {}
    for line in markdown.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("| ") and len(cells) > 1 and cells[0] != "Metric":
            table[cells[0]] = cells[1:]
    return table


def test_summary_of_a_trained_model(artifact_dir: Path, artifact_metadata: dict[str, Any]) -> None:
    result = summary(artifact_dir)
    assert result.returncode == 0, result.stderr
    assert f"## Model `{artifact_metadata['model_version']}`" in result.stdout
    table = rows(result.stdout)
    accuracy = artifact_metadata["metrics"]["holdout"]["accuracy"]
    assert float(table["holdout accuracy"][0]) == pytest.approx(accuracy, abs=1e-4)
    assert "cv roc_auc (mean)" in table
    assert "confusion_matrix" not in result.stdout


def test_comparison_with_main_shows_the_change(
    artifact_dir: Path, artifact_metadata: dict[str, Any], tmp_path: Path
) -> None:
    baseline = tmp_path / "baseline"
    shutil.copytree(artifact_dir, baseline)
    older = json.loads(json.dumps(artifact_metadata))
    older["model_version"] = "20250101T000000Z-0000000"
    older["metrics"]["holdout"]["accuracy"] = (
        artifact_metadata["metrics"]["holdout"]["accuracy"] - 0.25
    )
    (baseline / "metadata.json").write_text(json.dumps(older))

    result = summary(artifact_dir, "--baseline", baseline)
    assert result.returncode == 0, result.stderr
    assert "main (`20250101T000000Z-0000000`)" in result.stdout
    table = rows(result.stdout)
    assert table["holdout accuracy"][2] == "+0.25"
    assert table["holdout roc_auc"][2] == "0"


def test_a_missing_baseline_is_said_not_failed(artifact_dir: Path, tmp_path: Path) -> None:
    result = summary(artifact_dir, "--baseline", tmp_path / "none")
    assert result.returncode == 0
    assert "No model from main to compare with" in result.stdout
    assert "| Metric | This model |" in result.stdout


def test_a_missing_artifact_is_one_clear_line(tmp_path: Path) -> None:
    result = summary(tmp_path)
    assert result.returncode == 1
    assert result.stderr.strip() == f"metrics_summary: {tmp_path / 'metadata.json'}: no such file"


def test_metadata_without_metrics_is_rejected(tmp_path: Path) -> None:
    (tmp_path / "metadata.json").write_text(json.dumps({"model_version": "x"}))
    result = summary(tmp_path)
    assert result.returncode == 1
    assert "no metrics" in result.stderr
