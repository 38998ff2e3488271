"""Metrics for a fitted classifier: small pure functions returning plain dicts."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
from sklearn.base import clone
from sklearn.metrics import (
    accuracy_score,
    brier_score_loss,
    confusion_matrix,
    f1_score,
    log_loss,
    make_scorer,
    precision_recall_fscore_support,
    precision_score,
    recall_score,
    roc_auc_score,
)
from sklearn.model_selection import StratifiedKFold, cross_validate
from sklearn.pipeline import Pipeline

from contract import CLASS_NAMES
from model.config import POSITIVE_CLASS, TrainConfig

CLASS_VALUES = sorted(CLASS_NAMES)


def classification_metrics(
    y_true: npt.NDArray[np.int64],
    y_pred: npt.NDArray[np.int64],
    p_forged: npt.NDArray[np.float64],
) -> dict[str, Any]:
    """Overall and per-class metrics; precision/recall/F1 overall are for class "forged"."""
    precision, recall, f1, support = precision_recall_fscore_support(
        y_true, y_pred, labels=CLASS_VALUES, zero_division=0
    )
    return {
        "rows": len(y_true),
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "precision": float(
            precision_score(y_true, y_pred, pos_label=POSITIVE_CLASS, zero_division=0)
        ),
        "recall": float(recall_score(y_true, y_pred, pos_label=POSITIVE_CLASS, zero_division=0)),
        "f1": float(f1_score(y_true, y_pred, pos_label=POSITIVE_CLASS, zero_division=0)),
        "roc_auc": _roc_auc(y_true, p_forged),
        "log_loss": float(log_loss(y_true, p_forged, labels=CLASS_VALUES)),
        "brier": float(brier_score_loss(y_true, p_forged, pos_label=POSITIVE_CLASS)),
        # rows: true class, columns: predicted class, both in CLASS_VALUES order
        "confusion_matrix": confusion_matrix(y_true, y_pred, labels=CLASS_VALUES).tolist(),
        "per_class": {
            CLASS_NAMES[value]: {
                "precision": float(precision[i]),
                "recall": float(recall[i]),
                "f1": float(f1[i]),
                "support": int(support[i]),
            }
            for i, value in enumerate(CLASS_VALUES)
        },
    }


def _roc_auc(y_true: npt.NDArray[np.int64], p_forged: npt.NDArray[np.float64]) -> float | None:
    # Undefined when only one class is present (e.g. a one-class evaluation file).
    if len(np.unique(y_true)) < 2:
        return None
    return float(roc_auc_score(y_true, p_forged))


def evaluate(
    pipeline: Pipeline, features: npt.NDArray[np.float64], labels: npt.NDArray[np.int64]
) -> dict[str, Any]:
    """Score a fitted pipeline on labelled rows."""
    probabilities = pipeline.predict_proba(features)
    p_forged = probabilities[:, list(pipeline.classes_).index(POSITIVE_CLASS)]
    return classification_metrics(labels, pipeline.predict(features), p_forged)


def cross_validation(
    pipeline: Pipeline,
    features: npt.NDArray[np.float64],
    labels: npt.NDArray[np.int64],
    config: TrainConfig,
) -> dict[str, Any]:
    """Stratified k-fold CV of an unfitted copy of `pipeline`: mean and std of each score."""
    scoring: dict[str, Any] = {
        "accuracy": "accuracy",
        # zero_division=0: a degenerate fold scores 0 instead of warning (tests treat warnings as
        # errors, and the gate must be able to judge hopeless models such as shuffled labels).
        "precision": make_scorer(precision_score, zero_division=0),
        "recall": make_scorer(recall_score, zero_division=0),
        "f1": make_scorer(f1_score, zero_division=0),
        "roc_auc": "roc_auc",
        "log_loss": "neg_log_loss",
        "brier": "neg_brier_score",
    }
    folds = StratifiedKFold(n_splits=config.cv_folds, shuffle=True, random_state=config.seed)
    scores = cross_validate(clone(pipeline), features, labels, cv=folds, scoring=scoring)
    result: dict[str, Any] = {"folds": config.cv_folds}
    for name, scorer in scoring.items():
        values = scores[f"test_{name}"]
        if isinstance(scorer, str) and scorer.startswith("neg_"):
            values = -values
        result[name] = {"mean": float(np.mean(values)), "std": float(np.std(values))}
    return result


def check_quality_gate(holdout: dict[str, Any], config: TrainConfig) -> list[str]:
    """The reasons the holdout metrics fail the gate (empty when they pass)."""
    failures = []
    if holdout["accuracy"] < config.min_accuracy:
        failures.append(f"holdout accuracy {holdout['accuracy']:.4f} < {config.min_accuracy}")
    roc_auc = holdout["roc_auc"]
    if roc_auc is None or roc_auc < config.min_roc_auc:
        shown = "undefined" if roc_auc is None else f"{roc_auc:.4f}"
        failures.append(f"holdout ROC AUC {shown} < {config.min_roc_auc}")
    return failures
