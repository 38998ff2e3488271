"""Fit the classifier: deduplicate, split, grid-search the spec's estimator, refit the best.

The estimator comes from the spec's factory (model/estimators.py has the banknote one) and is
persisted whole, so any scaling inside it is the scaling applied at prediction time (the
original project saved the SVM without its scaler).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from sklearn.model_selection import GridSearchCV, StratifiedKFold, train_test_split

from model.config import TrainConfig
from model.data import Dataset
from model.spec import Factory

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
    """The refitted best estimator and how it was chosen."""

    pipeline: Any  # a fitted scikit-learn classifier (predict, predict_proba, classes_)
    param_grid: Any  # what was searched, as the factory gave it
    best_params: dict[str, Any]
    search_score: float


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


def fit(split: Split, factory: Factory, config: TrainConfig) -> TrainedModel:
    """Grid-search the factory's estimator by stratified CV on the training part; refit the best."""
    estimator, param_grid = factory(config.seed)
    search = GridSearchCV(
        estimator,
        param_grid=param_grid,
        scoring="neg_log_loss",  # accuracy ties at 1.0 for most grids here; log loss does not
        cv=StratifiedKFold(n_splits=config.search_folds, shuffle=True, random_state=config.seed),
        n_jobs=1,
        refit=True,
    )
    search.fit(split.x_train, split.y_train)
    return TrainedModel(
        search.best_estimator_, param_grid, dict(search.best_params_), float(search.best_score_)
    )
