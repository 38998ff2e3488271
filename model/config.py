"""Every path, name, seed and threshold the training side uses, in one place."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Final

from contract import FORGED

PROJECT_ROOT: Final = Path(__file__).resolve().parent.parent
DATA_PATH: Final = PROJECT_ROOT / "data" / "data_banknote_authentication.txt"
ARTIFACT_DIR: Final = PROJECT_ROOT / "artifacts" / "model"

# The features, classes, file names and metadata format are the artifact contract's
# (contract/), shared with the API and the Pulumi program; what follows is training's own.

# The UCI file's last column: the class value.
TARGET: Final = "class"
# Precision, recall and F1 are reported for "forged" unless per class.
POSITIVE_CLASS: Final = FORGED.value

# Opsets every onnxruntime of the last few years runs; pinned so the export does not drift.
ONNX_TARGET_OPSET: Final = {"": 17, "ai.onnx.ml": 3}

# Batch scoring reads and scores this many rows at a time: memory stays bounded.
BATCH_CHUNK_ROWS: Final = 50_000


@dataclass(frozen=True)
class TrainConfig:
    """Hyperparameter search, evaluation and quality-gate settings for one training run."""

    seed: int = 42
    test_size: float = 0.2
    search_folds: int = 5
    calibration_folds: int = 5
    cv_folds: int = 10
    # A deliberately small grid: the classes are almost separable after scaling.
    c_grid: tuple[float, ...] = (1.0, 10.0, 100.0)
    gamma_grid: tuple[float | str, ...] = ("scale", 0.1, 0.5, 1.0)
    min_rows_per_class: int = 50
    min_accuracy: float = 0.99
    min_roc_auc: float = 0.995


@dataclass(frozen=True)
class CompareConfig:
    """How much worse than the champion a challenger may score on the same rows.

    Accuracy moves in steps of one row (1/270 on the default holdout), so 0.005 forgives one
    row and not two. Log loss of a near-perfect champion is tiny, so a relative margin alone
    would refuse noise: the allowance is the larger of an absolute and a relative one.
    """

    max_accuracy_drop: float = 0.005
    max_log_loss_increase: float = 0.01
    max_log_loss_increase_ratio: float = 0.5

    def log_loss_allowance(self, champion_log_loss: float) -> float:
        """How far above the champion's log loss the challenger's may be."""
        return max(self.max_log_loss_increase, self.max_log_loss_increase_ratio * champion_log_loss)
