"""Every path, name, seed and threshold the training side uses, in one place."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Final

PROJECT_ROOT: Final = Path(__file__).resolve().parent.parent
DATA_PATH: Final = PROJECT_ROOT / "data" / "data_banknote_authentication.txt"
ARTIFACT_DIR: Final = PROJECT_ROOT / "artifacts" / "model"

# Column order of the UCI file and of every model input.
FEATURES: Final = ("variance", "skewness", "curtosis", "entropy")
TARGET: Final = "class"

# UCI does not document which class is forged; this is the majority reading and the original
# project's (see data/README.md).
CLASS_NAMES: Final = {0: "genuine", 1: "forged"}
CLASS_LABELS: Final = {0: "Goed bankbiljet", 1: "Vals bankbiljet"}
POSITIVE_CLASS: Final = 1  # precision/recall/F1 are reported for "forged" unless per class

# Artifact file names and the metadata format this code writes and reads.
MODEL_FILE: Final = "model.joblib"
ONNX_FILE: Final = "model.onnx"
METADATA_FILE: Final = "metadata.json"
MODEL_CARD_FILE: Final = "MODEL_CARD.md"
ARTIFACT_FORMAT_VERSION: Final = 1
ONNX_INPUT: Final = "features"
ONNX_LABEL_OUTPUT: Final = "label"
ONNX_PROBABILITY_OUTPUT: Final = "probabilities"
# Opsets every onnxruntime of the last few years runs; pinned so the export does not drift.
ONNX_TARGET_OPSET: Final = {"": 17, "ai.onnx.ml": 3}
ONNX_PROBABILITY_TOLERANCE: Final = 1e-5

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
