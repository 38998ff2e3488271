"""Every path, seed and setting the training side uses, in one place.

What is specific to one model (its data, features, classes, estimator and quality gate) is in
its spec (model/specs/*.toml, read by model/spec.py); what follows is the same for every model.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Final

PROJECT_ROOT: Final = Path(__file__).resolve().parent.parent
# The project's model: what `make train`, `make run` and the pipeline train when no --spec is
# given. To make another model the project's, point this at its spec
# (docs/adapt-your-model.md, "Make it the project's model").
DEFAULT_SPEC: Final = PROJECT_ROOT / "model" / "specs" / "banknote.toml"
ARTIFACT_DIR: Final = PROJECT_ROOT / "artifacts" / "model"

# Opsets every onnxruntime of the last few years runs; pinned so the export does not drift.
ONNX_TARGET_OPSET: Final = {"": 17, "ai.onnx.ml": 3}

# Batch scoring reads and scores this many rows at a time: memory stays bounded.
BATCH_CHUNK_ROWS: Final = 50_000


@dataclass(frozen=True)
class TrainConfig:
    """How one training run splits, searches and evaluates (the same for every model)."""

    seed: int = 42
    test_size: float = 0.2
    search_folds: int = 5
    cv_folds: int = 10
    min_rows_per_class: int = 50


@dataclass(frozen=True)
class CompareConfig:
    """How much worse than the champion a challenger may score on the same rows.

    Accuracy moves in steps of one row (1/270 on the banknote holdout), so 0.005 forgives one
    row and not two. Log loss of a near-perfect champion is tiny, so a relative margin alone
    would refuse noise: the allowance is the larger of an absolute and a relative one.
    """

    max_accuracy_drop: float = 0.005
    max_log_loss_increase: float = 0.01
    max_log_loss_increase_ratio: float = 0.5

    def log_loss_allowance(self, champion_log_loss: float) -> float:
        """How far above the champion's log loss the challenger's may be."""
        return max(self.max_log_loss_increase, self.max_log_loss_increase_ratio * champion_log_loss)
