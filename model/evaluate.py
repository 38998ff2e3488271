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

from contract import Signature
from model.config import TrainConfig
from model.spec import GateSpec


def classification_metrics(
    y_true: npt.NDArray[np.int64],
    y_pred: npt.NDArray[np.int64],
    p_positive: npt.NDArray[np.float64],
    signature: Signature,
) -> dict[str, Any]:
    """Overall and per-class metrics; precision/recall/F1 overall are for the positive class."""
    values = [c.value for c in signature.classes]
    positive = signature.positive_class
    precision, recall, f1, support = precision_recall_fscore_support(
        y_true, y_pred, labels=values, zero_division=0
    )
    return {
        "rows": len(y_true),
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "precision": float(precision_score(y_true, y_pred, pos_label=positive, zero_division=0)),
        "recall": float(recall_score(y_true, y_pred, pos_label=positive, zero_division=0)),
        "f1": float(f1_score(y_true, y_pred, pos_label=positive, zero_division=0)),
        "roc_auc": _roc_auc(y_true, p_positive, positive),
        # log_loss reads its probabilities as P(the larger label): P(positive) when that is it.
        "log_loss": float(log_loss(y_true, _p_larger(p_positive, signature), labels=values)),
        "brier": float(brier_score_loss(y_true, p_positive, pos_label=positive)),
        # rows: true class, columns: predicted class, both in class-value order
        "confusion_matrix": confusion_matrix(y_true, y_pred, labels=values).tolist(),
        "per_class": {
            c.name: {
                "precision": float(precision[i]),
                "recall": float(recall[i]),
                "f1": float(f1[i]),
                "support": int(support[i]),
            }
            for i, c in enumerate(signature.classes)
        },
    }


def _p_larger(p_positive: npt.NDArray[np.float64], signature: Signature) -> npt.NDArray[np.float64]:
    return p_positive if signature.positive_index == 1 else 1.0 - p_positive


def _roc_auc(
    y_true: npt.NDArray[np.int64], p_positive: npt.NDArray[np.float64], positive: int
) -> float | None:
    # Undefined when only one class is present (e.g. a one-class evaluation file).
    if len(np.unique(y_true)) < 2:
        return None
    return float(roc_auc_score(y_true == positive, p_positive))


def positive_probabilities(
    model: Any, features: npt.NDArray[np.float64], signature: Signature
) -> npt.NDArray[np.float64]:
    """P(positive class) for each row, from a fitted classifier."""
    probabilities = model.predict_proba(features)
    column = list(model.classes_).index(signature.positive_class)
    return np.asarray(probabilities[:, column], dtype=np.float64)


def evaluate(
    model: Any,
    features: npt.NDArray[np.float64],
    labels: npt.NDArray[np.int64],
    signature: Signature,
) -> dict[str, Any]:
    """Score a fitted classifier on labelled rows."""
    p_positive = positive_probabilities(model, features, signature)
    return classification_metrics(labels, model.predict(features), p_positive, signature)


def cross_validation(
    model: Any,
    features: npt.NDArray[np.float64],
    labels: npt.NDArray[np.int64],
    signature: Signature,
    config: TrainConfig,
) -> dict[str, Any]:
    """Stratified k-fold CV of an unfitted copy of `pipeline`: mean and std of each score."""
    positive = signature.positive_class
    scoring: dict[str, Any] = {
        "accuracy": "accuracy",
        # zero_division=0: a degenerate fold scores 0 instead of warning (tests treat warnings as
        # errors, and the gate must be able to judge hopeless models such as shuffled labels).
        "precision": make_scorer(precision_score, pos_label=positive, zero_division=0),
        "recall": make_scorer(recall_score, pos_label=positive, zero_division=0),
        "f1": make_scorer(f1_score, pos_label=positive, zero_division=0),
        "roc_auc": "roc_auc",
        "log_loss": "neg_log_loss",
        "brier": make_scorer(
            brier_score_loss,
            response_method="predict_proba",
            greater_is_better=False,
            pos_label=positive,
        ),
    }
    folds = StratifiedKFold(n_splits=config.cv_folds, shuffle=True, random_state=config.seed)
    scores = cross_validate(clone(model), features, labels, cv=folds, scoring=scoring)
    result: dict[str, Any] = {"folds": config.cv_folds}
    for name in scoring:
        values = scores[f"test_{name}"]
        if name in ("log_loss", "brier"):  # scored negated: greater is better for the search
            values = -values
        result[name] = {"mean": float(np.mean(values)), "std": float(np.std(values))}
    return result


def check_quality_gate(holdout: dict[str, Any], gate: GateSpec) -> list[str]:
    """The reasons the holdout metrics fail the spec's gate (empty when they pass)."""
    failures = []
    if holdout["accuracy"] < gate.min_accuracy:
        failures.append(f"holdout accuracy {holdout['accuracy']:.4f} < {gate.min_accuracy}")
    roc_auc = holdout["roc_auc"]
    if roc_auc is None or roc_auc < gate.min_roc_auc:
        shown = "undefined" if roc_auc is None else f"{roc_auc:.4f}"
        failures.append(f"holdout ROC AUC {shown} < {gate.min_roc_auc}")
    return failures
