"""Fit the classifier: deduplicate, split, search C and gamma, fit the whole pipeline.

The scaler lives inside the pipeline that is persisted, so the scaling learnt here is the
scaling applied at prediction time (the original project saved the SVM without its scaler).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from sklearn.calibration import CalibratedClassifierCV
from sklearn.model_selection import GridSearchCV, StratifiedKFold, train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from model.config import TrainConfig
from model.data import Dataset

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class Split:
    """The deduplicated rows, divided into a training part and a stratified holdout."""

    x_train: FloatArray
    y_train: IntArray
    x_test: FloatArray
    y_test: IntArray
    duplicates_removed: int


@dataclass(frozen=True)
class TrainedModel:
    """The refitted best pipeline and how it was chosen."""

    pipeline: Pipeline
    best_params: dict[str, Any]
    search_score: float


def build_pipeline(config: TrainConfig, c: float = 1.0, gamma: float | str = "scale") -> Pipeline:
    """StandardScaler then an RBF SVC whose scores are calibrated into probabilities.

    `SVC(probability=True)` is deprecated in scikit-learn 1.9; a sigmoid calibration fitted by
    cross-validation (`ensemble=False`: one SVC refitted on all rows) is the supported path.
    """
    svc = SVC(kernel="rbf", C=c, gamma=gamma, random_state=config.seed)
    calibration_cv = StratifiedKFold(
        n_splits=config.calibration_folds, shuffle=True, random_state=config.seed
    )
    classifier = CalibratedClassifierCV(svc, method="sigmoid", cv=calibration_cv, ensemble=False)
    return Pipeline([("scaler", StandardScaler()), ("classifier", classifier)])


def split_dataset(dataset: Dataset, config: TrainConfig) -> Split:
    """Drop exact duplicate rows, then split stratified by class.

    Deduplicating first guarantees no row sits on both sides of the split, which would
    inflate the holdout scores.
    """
    table = np.column_stack([dataset.features, dataset.labels])
    _, first_rows = np.unique(table, axis=0, return_index=True)
    keep = np.sort(first_rows)  # keep file order, so the split depends only on the seed
    features, labels = dataset.features[keep], dataset.labels[keep]
    x_train, x_test, y_train, y_test = train_test_split(
        features,
        labels,
        test_size=config.test_size,
        stratify=labels,
        random_state=config.seed,
    )
    return Split(x_train, y_train, x_test, y_test, duplicates_removed=dataset.rows - len(keep))


def fit(split: Split, config: TrainConfig) -> TrainedModel:
    """Grid-search C and gamma by stratified CV on the training part, refit the best."""
    search = GridSearchCV(
        build_pipeline(config),
        param_grid={
            "classifier__estimator__C": list(config.c_grid),
            "classifier__estimator__gamma": list(config.gamma_grid),
        },
        scoring="neg_log_loss",  # accuracy ties at 1.0 for most of the grid; log loss does not
        cv=StratifiedKFold(n_splits=config.search_folds, shuffle=True, random_state=config.seed),
        n_jobs=1,
        refit=True,
    )
    search.fit(split.x_train, split.y_train)
    best = {key.rsplit("__", 1)[-1]: value for key, value in search.best_params_.items()}
    return TrainedModel(search.best_estimator_, best, float(search.best_score_))
