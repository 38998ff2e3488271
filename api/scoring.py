"""One way to score rows, whichever protocol brought them: the same checks, model call, drift
counting and prediction counts for the Open Inference Protocol and MLflow's scoring protocol.

A protocol's codec turns its request into an [N, features] array in the model's feature order
(api/v2_codec.py, api/mlflow_codec.py); `check_rows` applies the rules every route shares
(at least one row, at most MAX_BATCH_ROWS, every value a finite number); `score` does the rest.
One row is scored by the coalescer with the concurrent /predict rows (api/coalescer.py); more
rows go to a worker thread, as /predict/batch does, so the event loop keeps answering meanwhile.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from starlette.concurrency import run_in_threadpool

from api.coalescer import Coalescer
from api.drift import DriftReference, InputCounts
from api.metrics import Metrics
from api.predictor import Predictor


class RowsError(ValueError):
    """Rows that no protocol may score; the message says why, for the client."""


@dataclass(frozen=True, slots=True)
class Scores:
    """The model's answers for N rows."""

    indexes: NDArray[np.int64]  # the predicted class's index (class-value order) per row
    probabilities: NDArray[np.float32]  # [N, classes], the model's own float32 numbers


def check_rows(
    features: NDArray[np.floating], n_features: int, max_rows: int, finite: bool = False
) -> None:
    """Raise RowsError unless `features` is [1..max_rows, n_features] of finite numbers
    (`finite`: the values are known to be finite already, as a JSON validator checked them)."""
    if features.ndim != 2 or features.shape[1] != n_features:
        raise RowsError(f"expected rows of {n_features} features, got shape {list(features.shape)}")
    rows = features.shape[0]
    if rows < 1:
        raise RowsError("expected at least one row")
    if rows > max_rows:
        raise RowsError(f"{rows} rows is more than the limit of {max_rows} rows per request")
    if not finite and not np.isfinite(features).all():
        row, column = (int(i) for i in np.argwhere(~np.isfinite(features))[0])
        raise RowsError(
            f"row {row}, feature {column}: {features[row, column]} is not a finite number"
        )


async def score_one(
    coalescer: Coalescer, metrics: Metrics, row: tuple[float, ...]
) -> tuple[int, list[float]]:
    """Score one checked row with the coalescer, as /predict does, and count it in `metrics`:
    (class index, every class's probability)."""
    metrics.count_input(row)
    index, probabilities = await coalescer.score_row(row)
    metrics.count_predictions(coalescer.predictor.class_names[index])
    return index, probabilities


def score_in_thread(
    predictor: Predictor, features: NDArray[np.floating], drift: DriftReference | None
) -> tuple[Scores, InputCounts | None]:
    """Score checked rows in one model call and count them for the drift series (any thread)."""
    inputs = drift.count(features.astype(np.float64, copy=False)) if drift is not None else None
    probabilities = predictor.probabilities(features)
    return Scores(predictor.class_indexes(probabilities), probabilities), inputs


async def score(coalescer: Coalescer, metrics: Metrics, features: NDArray[np.floating]) -> Scores:
    """Score checked rows and count them (drift, predictions per class) in `metrics`."""
    predictor = coalescer.predictor
    if features.shape[0] == 1:
        index, probabilities = await score_one(coalescer, metrics, tuple(features[0].tolist()))
        return Scores(
            np.array([index], dtype=np.int64), np.array([probabilities], dtype=np.float32)
        )
    scores, inputs = await run_in_threadpool(score_in_thread, predictor, features, metrics.drift)
    record(metrics, predictor, scores, inputs)
    return scores


def record(
    metrics: Metrics, predictor: Predictor, scores: Scores, inputs: InputCounts | None
) -> None:
    """Count rows scored in a worker thread: each class's share of `scores` in
    predictions_total, and their drift counts `inputs` (on the event loop's thread)."""
    counts = np.bincount(scores.indexes, minlength=len(predictor.class_names)).tolist()
    for name, count in zip(predictor.class_names, counts, strict=True):
        if count:
            metrics.count_predictions(name, count)
    if inputs is not None:
        metrics.add_input_counts(inputs)
