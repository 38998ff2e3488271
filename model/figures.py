"""Pictures of holdout scores: ROC, calibration and confusion matrix; two models side by side.

Drawn on `matplotlib.figure.Figure` objects, never through pyplot, so nothing global is touched
and no display is needed: saving a Figure to PNG renders it with the Agg backend (matplotlib
docs, "Embed in a web application server (Flask)"). PNGs are written without metadata (the
default records the matplotlib version under "Software"), so the same scores give the same bytes
with the same libraries; a test holds that.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from sklearn.calibration import calibration_curve
from sklearn.metrics import roc_auc_score, roc_curve

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

# The artifact's figure files (training writes them; the model card links them).
ROC_FILE: Final = "roc.png"
CALIBRATION_FILE: Final = "calibration.png"
CONFUSION_FILE: Final = "confusion.png"

DPI: Final = 100
SIZE: Final = (5.0, 4.5)  # inches: 500 x 450 pixels at DPI
CALIBRATION_BINS: Final = 10
COLOURS: Final = ("#1f77b4", "#d62728")  # champion / the one model, challenger


@dataclass(frozen=True)
class Scores:
    """One model's probabilities of the positive class on labelled rows, and its name."""

    name: str
    labels: IntArray  # 1 where the row is of the positive class
    positive: FloatArray


def model_figures(
    scores: Scores, confusion_matrix: Sequence[Sequence[int]], class_names: Sequence[str]
) -> dict[str, bytes]:
    """The artifact's figures as PNG bytes by file name: ROC, calibration, confusion matrix.

    `class_names` are the negative and the positive class's names, in that order, and the
    confusion matrix's rows (true) and columns (predicted) are in that order too.
    """
    roc = Figure(figsize=SIZE, layout="constrained")
    _roc(roc.add_subplot(), [scores], class_names[1])
    calibration = Figure(figsize=SIZE, layout="constrained")
    top, bottom = calibration.subplots(2, 1, sharex=True, height_ratios=(3, 1))
    _calibration(top, bottom, [scores], class_names[1])
    confusion = Figure(figsize=SIZE, layout="constrained")
    _confusion(confusion.add_subplot(), np.asarray(confusion_matrix), class_names)
    return {ROC_FILE: png(roc), CALIBRATION_FILE: png(calibration), CONFUSION_FILE: png(confusion)}


def comparison_figure(champion: Scores, challenger: Scores, positive_name: str) -> bytes:
    """Both models' ROC and calibration curves on one PNG, scored on the same rows."""
    figure = Figure(figsize=(2 * SIZE[0], SIZE[1]), layout="constrained")
    left, right = figure.subfigures(1, 2, squeeze=False)[0]
    _roc(left.add_subplot(), [champion, challenger], positive_name)
    top, bottom = right.subplots(2, 1, sharex=True, height_ratios=(3, 1))
    _calibration(top, bottom, [champion, challenger], positive_name)
    return png(figure)


def png(figure: Figure) -> bytes:
    """The figure as PNG bytes, without metadata (same input, same bytes)."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None})
    return buffer.getvalue()


def roc_points(scores: Scores) -> tuple[FloatArray, FloatArray]:
    """False and true positive rates at every threshold (scikit-learn's roc_curve)."""
    false_positive, true_positive, _ = roc_curve(scores.labels, scores.positive)
    return np.asarray(false_positive), np.asarray(true_positive)


def _roc(axes: Axes, models: Sequence[Scores], positive_name: str) -> None:
    axes.plot([0, 1], [0, 1], color="0.7", linestyle="--", linewidth=1, label="chance")
    for scores, colour in zip(models, COLOURS, strict=False):
        false_positive, true_positive = roc_points(scores)
        auc = roc_auc_score(scores.labels, scores.positive)
        axes.plot(
            false_positive,
            true_positive,
            color=colour,
            linewidth=2,
            drawstyle="steps-post",
            label=f"{scores.name} (AUC {auc:.4f})",
        )
    axes.set(
        xlim=(-0.01, 1.01),
        ylim=(-0.01, 1.01),
        xlabel="false positive rate",
        ylabel=f"true positive rate ({positive_name})",
        title=f"ROC curve, {len(models[0].labels)} holdout rows",
    )
    axes.legend(loc="lower right", fontsize="small")
    axes.grid(alpha=0.3)


def _calibration(top: Axes, bottom: Axes, models: Sequence[Scores], positive_name: str) -> None:
    top.plot([0, 1], [0, 1], color="0.7", linestyle="--", linewidth=1, label="perfectly calibrated")
    edges = [step / CALIBRATION_BINS for step in range(CALIBRATION_BINS + 1)]
    for scores, colour in zip(models, COLOURS, strict=False):
        observed, predicted = calibration_curve(
            scores.labels, scores.positive, n_bins=CALIBRATION_BINS, strategy="uniform"
        )
        top.plot(predicted, observed, color=colour, marker="o", linewidth=2, label=scores.name)
        bottom.hist(
            scores.positive,
            bins=edges,
            histtype="step",
            color=colour,
            linewidth=1.5,
            label=scores.name,
        )
    top.set(
        xlim=(0, 1),
        ylim=(-0.02, 1.02),
        ylabel=f"observed share {positive_name}",
        title=f"Calibration, {CALIBRATION_BINS} bins",
    )
    top.legend(loc="upper left", fontsize="small")
    top.grid(alpha=0.3)
    # Log counts, so that the few rows between a confident model's two peaks stay visible.
    most = max(int(np.histogram(scores.positive, bins=edges)[0].max()) for scores in models)
    bottom.set(
        xlabel=f"predicted P({positive_name})", ylabel="rows", yscale="log", ylim=(0.7, 2 * most)
    )
    bottom.grid(alpha=0.3)


def _confusion(axes: Axes, counts: IntArray, class_names: Sequence[str]) -> None:
    axes.imshow(counts, cmap="Blues", vmin=0, vmax=max(1, int(counts.max())))
    for (row, column), count in np.ndenumerate(counts):
        dark = count > counts.max() / 2
        axes.text(
            column, row, str(count), ha="center", va="center", fontsize="x-large",
            color="white" if dark else "black",
        )  # fmt: skip
    axes.set_xticks([0, 1], labels=list(class_names))
    axes.set_yticks([0, 1], labels=list(class_names))
    axes.set(
        xlabel="predicted",
        ylabel="true",
        title=f"Confusion matrix, {int(counts.sum())} holdout rows",
    )
