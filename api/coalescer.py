"""Score the single rows that arrive together with one model call.

Why: a one-row ONNX Runtime call costs ~10 us in a quiet loop, almost all of it ORT's fixed
per-call work (an executor walking 18 graph nodes), not arithmetic. Under HTTP load it costs
about three times that, because the HTTP stack that runs between two calls evicts ORT's code
and data from the core's caches and branch predictors; how much depends on the host (`make
bench` prints both figures: "model call, quiet" and "after other work"). Under load, many
/predict requests reach the model in the same event-loop iteration. Collecting their rows
and scoring them with one call pays that fixed cost once per iteration instead of once per
request.

There is no timer: the call runs in the loop's next iteration, after every request already
queued in this one, so a lone request waits for nothing but its own model call. The model
scores rows independently, so an answer does not depend on the rows it was scored with
(tests/api/test_coalescer.py checks that bit for bit). Rows have any number of features.

/predict asks for P(positive class) (`score`); a one-row Open Inference Protocol request asks
for every class's probability (`score_row`). Both wait in the same queue, so they share the
model call.
"""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np

from api.predictor import Predictor

Row = tuple[float, ...]  # one row of features, in the model's order


class Coalescer:
    """Collects concurrent one-row predictions and scores them in one model call.

    Runs on the event loop thread only (the /predict route is `async`).
    """

    def __init__(self, predictor: Predictor, max_rows: int) -> None:
        """Score with `predictor`; at most `max_rows` rows per call (1: a call per row)."""
        self.predictor = predictor
        self.max_rows = max_rows
        self._rows: list[Row] = []
        self._waiting: list[asyncio.Future[Any]] = []
        # Positions in _waiting that want every class's probability (score_row), not only
        # the positive class's: empty on /predict's path, which then runs as before.
        self._full: list[int] = []

    def score(self, row: Row) -> asyncio.Future[tuple[int, float]]:
        """A future of (class index, P(positive class)) for one row."""
        return self._enqueue(row, full=False)

    def score_row(self, row: Row) -> asyncio.Future[tuple[int, list[float]]]:
        """A future of (class index, every class's probability in class-value order)."""
        return self._enqueue(row, full=True)

    def _enqueue(self, row: Row, full: bool) -> asyncio.Future[Any]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        if full:
            self._full.append(len(self._rows))
        self._rows.append(row)
        self._waiting.append(future)
        if len(self._rows) >= self.max_rows:
            self.flush()
        elif len(self._rows) == 1:
            loop.call_soon(self.flush)
        return future

    def flush(self) -> None:
        """Score every waiting row now, in one model call."""
        rows, waiting, full = self._rows, self._waiting, self._full
        if not rows:
            return
        self._rows, self._waiting, self._full = [], [], []
        try:
            results: list[Any] = self._full_rows(rows, full) if full else self._positive(rows)
        except Exception as exc:  # every waiting request answers 500 through the middleware
            for future in waiting:
                if not future.done():
                    future.set_exception(exc)
            return
        for future, result in zip(waiting, results, strict=True):
            if not future.done():  # a cancelled request no longer waits
                future.set_result(result)

    def _positive(self, rows: list[Row]) -> list[tuple[int, float]]:
        if len(rows) == 1:
            # The bound-buffer path (Predictor.predict_one) is the cheapest for one row.
            return [self.predictor.predict_one(rows[0])]
        labels, probabilities = self.predictor.predict_many(np.array(rows, dtype=np.float64))
        return list(zip(labels, probabilities, strict=True))

    def _full_rows(self, rows: list[Row], full: list[int]) -> list[Any]:
        predictor = self.predictor
        if len(rows) == 1:
            return [predictor.predict_one_row(rows[0])]
        probabilities = predictor.probabilities(np.array(rows, dtype=np.float64))
        indexes = predictor.class_indexes(probabilities).tolist()
        listed = probabilities.tolist()
        positive = predictor.positive_index
        results: list[Any] = [
            (index, row[positive]) for index, row in zip(indexes, listed, strict=True)
        ]
        for position in full:
            results[position] = (indexes[position], listed[position])
        return results
