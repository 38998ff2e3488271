"""Score the single notes that arrive together with one model call.

Why: a one-row ONNX Runtime call costs ~10 us in a quiet loop, almost all of it ORT's fixed
per-call work (an executor walking 18 graph nodes), not arithmetic. Under HTTP load it costs
about three times that, because the HTTP stack that runs between two calls evicts ORT's code
and data from the core's caches and branch predictors; how much depends on the host (`make
bench` prints both figures: "model call, quiet" and "after other work"). Under load, many
/predict requests reach the model in the same event-loop iteration. Collecting their notes
and scoring them with one call pays that fixed cost once per iteration instead of once per
request.

There is no timer: the call runs in the loop's next iteration, after every request already
queued in this one, so a lone request waits for nothing but its own model call. The model
scores rows independently, so an answer does not depend on the notes it was scored with
(tests/api/test_coalescer.py checks that bit for bit).
"""

from __future__ import annotations

import asyncio

import numpy as np

from api.predictor import Predictor

Row = tuple[float, float, float, float]


class Coalescer:
    """Collects concurrent one-note predictions and scores them in one model call.

    Runs on the event loop thread only (the /predict route is `async`).
    """

    def __init__(self, predictor: Predictor, max_rows: int) -> None:
        """Score with `predictor`; at most `max_rows` notes per call (1: a call per note)."""
        self.predictor = predictor
        self.max_rows = max_rows
        self._rows: list[Row] = []
        self._waiting: list[asyncio.Future[tuple[int, float]]] = []

    def score(self, row: Row) -> asyncio.Future[tuple[int, float]]:
        """A future of (class value, P(forged)) for one note."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[tuple[int, float]] = loop.create_future()
        self._rows.append(row)
        self._waiting.append(future)
        if len(self._rows) >= self.max_rows:
            self.flush()
        elif len(self._rows) == 1:
            loop.call_soon(self.flush)
        return future

    def flush(self) -> None:
        """Score every waiting note now, in one model call."""
        rows, waiting = self._rows, self._waiting
        if not rows:
            return
        self._rows, self._waiting = [], []
        try:
            if len(rows) == 1:
                # The bound-buffer path (Predictor.predict_one) is the cheapest for one row.
                results = [self.predictor.predict_one(*rows[0])]
            else:
                labels, probabilities = self.predictor.predict_many(
                    np.array(rows, dtype=np.float64)
                )
                results = list(zip(labels, probabilities, strict=True))
        except Exception as exc:  # every waiting request answers 500 through the middleware
            for future in waiting:
                if not future.done():
                    future.set_exception(exc)
            return
        for future, result in zip(waiting, results, strict=True):
            if not future.done():  # a cancelled request no longer waits
                future.set_result(result)
