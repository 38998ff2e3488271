"""Estimator factories that model specs name (`[estimator] factory = "module:function"`).

A factory takes the training seed and returns an unfitted scikit-learn classifier and the
parameter grid to search (GridSearchCV's `param_grid`; `{}` searches nothing). Keep scaling
inside the estimator (a Pipeline): the fitted object is what is exported and served, so the
scaling learnt in training is the scaling applied at prediction time.
"""

from __future__ import annotations

from typing import Any

from sklearn.calibration import CalibratedClassifierCV
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

# Folds of the cross-validation that fits the sigmoid calibration.
CALIBRATION_FOLDS = 5


def calibrated_rbf_svc(seed: int) -> tuple[Pipeline, dict[str, list[Any]]]:
    """StandardScaler then an RBF SVC whose scores are calibrated into probabilities.

    SVMs are not scale-invariant (scikit-learn, "Tips on Practical Use"), hence the scaler.
    `SVC(probability=True)` is deprecated in scikit-learn 1.9; a sigmoid calibration fitted by
    cross-validation (`ensemble=False`: one SVC refitted on all rows) is the supported path.
    The grid is deliberately small: the banknote classes are almost separable after scaling.
    """
    svc = SVC(kernel="rbf", C=1.0, gamma="scale", random_state=seed)
    calibration_cv = StratifiedKFold(n_splits=CALIBRATION_FOLDS, shuffle=True, random_state=seed)
    classifier = CalibratedClassifierCV(svc, method="sigmoid", cv=calibration_cv, ensemble=False)
    pipeline = Pipeline([("scaler", StandardScaler()), ("classifier", classifier)])
    grid: dict[str, list[Any]] = {
        "classifier__estimator__C": [1.0, 10.0, 100.0],
        "classifier__estimator__gamma": ["scale", 0.1, 0.5, 1.0],
    }
    return pipeline, grid
