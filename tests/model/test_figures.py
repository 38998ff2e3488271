"""The pictures (model/figures.py): in the artifact, in the model card, and from `compare`,
each decoded as a PNG and looked at: its size, and that something is drawn on it."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import numpy as np
import pytest
from matplotlib.image import imread

import contract
from model.figures import CALIBRATION_FILE, CONFUSION_FILE, DPI, ROC_FILE, SIZE
from tests.model.cli_support import run_model

FIGURES = (ROC_FILE, CALIBRATION_FILE, CONFUSION_FILE)
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def looked_at(data: bytes, width: float, height: float) -> np.ndarray:
    """The decoded PNG; fails unless it is width x height inches at DPI and not blank."""
    assert data.startswith(PNG_SIGNATURE)
    pixels = imread(io.BytesIO(data), format="png")
    assert pixels.shape[:2] == (round(height * DPI), round(width * DPI))
    colours = np.unique(pixels.reshape(-1, pixels.shape[-1]), axis=0)
    # Axes, text, curves, antialiasing: a drawn figure has hundreds of colours; a blank one, one.
    assert len(colours) > 50
    # Ink on at least 2 % of the canvas, and white still the background.
    ink = np.any(pixels[..., :3] < 0.9, axis=-1).mean()
    assert 0.02 < ink < 0.9
    return pixels


@pytest.mark.parametrize("name", FIGURES)
def test_training_draws_each_figure_into_the_artifact(
    artifact_dir: Path, artifact_metadata, name: str
) -> None:
    data = (artifact_dir / name).read_bytes()
    looked_at(data, *SIZE)
    # Recorded like the model files, so a changed picture is caught like a changed model.
    assert artifact_metadata["files"][name] == contract.sha256_bytes(data)


def test_the_confusion_matrix_shows_the_holdout_counts(artifact_dir: Path) -> None:
    # Same picture from the metadata's counts: the figure draws what the card reports.
    from model.figures import Scores, model_figures

    metadata = contract.read_metadata(artifact_dir)
    holdout = metadata.metrics.holdout
    scores = Scores("unused", np.array([0, 1]), np.array([0.1, 0.9]))
    names = [c.name for c in metadata.contract.classes]
    drawn = model_figures(scores, holdout["confusion_matrix"], names)[CONFUSION_FILE]
    assert drawn == (artifact_dir / CONFUSION_FILE).read_bytes()


def test_the_model_card_shows_every_figure_by_a_relative_link(artifact_dir: Path) -> None:
    card = (artifact_dir / contract.MODEL_CARD_FILE).read_text()
    section = card.split("\n## Figures\n", 1)[1].split("\n## ", 1)[0]
    links = re.findall(r"!\[[^\]]+\]\(([^)]+)\)", section)
    assert links == list(FIGURES)
    for link in links:
        assert (artifact_dir / link).is_file()


def test_compare_draws_both_models_on_one_figure(
    artifact_dir: Path, weak_artifact_dir: Path, tmp_path: Path
) -> None:
    figure, report = tmp_path / "comparison.png", tmp_path / "report.json"
    result = run_model(
        "compare", "--champion", str(artifact_dir), "--challenger", str(weak_artifact_dir),
        "--accept-regression", "--figure", str(figure), "--json", str(report),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    pixels = looked_at(figure.read_bytes(), 2 * SIZE[0], SIZE[1])
    # Both curves are there: the champion's blue and the challenger's red (model/figures.py).
    for colour in ("#1f77b4", "#d62728"):
        rgb = np.array([int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)])
        assert np.sum(np.all(np.abs(pixels[..., :3] - rgb) < 0.02, axis=-1)) > 200, colour
    assert json.loads(report.read_text())["holdout"]["rows"] == 270


def test_compare_markdown_redraws_the_roc_curves_as_a_mermaid_chart(
    artifact_dir: Path, weak_artifact_dir: Path, tmp_path: Path
) -> None:
    markdown, report = tmp_path / "report.md", tmp_path / "report.json"
    run_model(
        "compare", "--champion", str(artifact_dir), "--challenger", str(weak_artifact_dir),
        "--accept-regression", "--markdown", str(markdown), "--json", str(report),
    )  # fmt: skip
    chart = markdown.read_text().split("```mermaid\n", 1)[1].split("```", 1)[0]
    assert chart.startswith("xychart-beta\n")
    bars = [float(v) for v in re.search(r"bar \[([^\]]+)\]", chart)[1].split(", ")]
    line = [float(v) for v in re.search(r"line \[([^\]]+)\]", chart)[1].split(", ")]
    assert len(bars) == len(line) == 11
    # A ROC curve only rises; the champion (AUC 1) is at 1 from the first false positive rate
    # on, and the weaker challenger (AUC < 1) cannot be at 1 at rate 0.
    data = json.loads(report.read_text())
    assert data["champion"]["metrics"]["roc_auc"] == 1.0
    assert bars == [1.0] * 11
    assert data["challenger"]["metrics"]["roc_auc"] < 1.0
    assert line[0] < 1.0
    assert line == sorted(line)


def test_the_model_page_lists_the_figures_training_writes() -> None:
    from model.config import PROJECT_ROOT

    page = (PROJECT_ROOT / "docs" / "model.md").read_text()
    section = page.split("\n## Figures\n", 1)[1].split("\n## ", 1)[0]
    listed = re.findall(r"^\| `([^`]+\.png)` \|", section, flags=re.MULTILINE)
    assert listed == list(FIGURES)
    width, height = (round(side * DPI) for side in SIZE)
    assert f"{width} \N{MULTIPLICATION SIGN} {height} pixels" in section
