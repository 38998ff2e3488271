"""One-row model call: the service's ONNX Runtime path vs the sklearn pipeline, and parity.

    .venv/bin/python -m bench.model_call [--model-dir artifacts/model]

Times `Predictor.predict_one` (features in, P(forged) out: what /predict runs) and the sklearn
pipeline's `predict_proba` on one row, as medians over many repeats; then checks that the ONNX
answers equal sklearn's on every row of the dataset (labels identical, probabilities within
1e-5). bench/ may import sklearn; the service never does.

It also times the model call the way a server makes it: right after a request has gone through
a FastAPI app in the same process, which leaves other code and data in the core's caches.
That call costs clearly more than the same call repeated at once, and 16 rows cost little more
than one: the reason the service scores concurrent requests together (api/coalescer.py).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import joblib
import numpy as np

from api.lifespan import load_predictor
from bench.asgi_predict import SCOPE, receive
from bench.bare_app import app as bare_app
from bench.servers import REPO

DATA = REPO / "data" / "data_banknote_authentication.txt"
TARGET_US = 20.0
TOLERANCE = 1e-5


def median_us(call: Callable[[], object], repeats: int = 31, number: int = 2000) -> float:
    """Median over `repeats` batches of the per-call time of `call`, in microseconds."""
    for _ in range(number):  # warm-up
        call()
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(number):
            call()
        samples.append((time.perf_counter() - start) / number * 1e6)
    return statistics.median(samples)


def _request_through(app: Any) -> Callable[[], None]:
    """One POST /predict through `app` in this process, as its server would run it."""
    loop = asyncio.new_event_loop()

    async def send(message: dict[str, Any]) -> None:
        pass

    return lambda: loop.run_until_complete(app(dict(SCOPE), receive, send))


def after_other_work_us(
    call: Callable[[], object], work: Callable[[], None]
) -> tuple[float, float]:
    """Medians of `call` right after `work` and of the same call repeated at once, in us.

    The two are interleaved, so the machine's drifting speed hits both alike.
    """
    cold, warm = [], []
    for repeat in range(3000):
        work()
        start = time.perf_counter_ns()
        call()
        middle = time.perf_counter_ns()
        call()
        if repeat >= 300:  # warm-up
            cold.append((middle - start) / 1000)
            warm.append((time.perf_counter_ns() - middle) / 1000)
    return statistics.median(cold), statistics.median(warm)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", type=Path, default=REPO / "artifacts" / "model")
    args = parser.parse_args(argv)
    predictor = load_predictor(args.model_dir, 1)
    pipeline = joblib.load(args.model_dir / "model.joblib")  # our own artifact
    rows = np.loadtxt(DATA, delimiter=",", dtype=np.float64)
    features = rows[:, :4]
    note = tuple(features[0].tolist())
    one_row = features[:1].astype(np.float32)

    onnx_us = median_us(lambda: predictor.predict_one(note))
    sklearn_us = median_us(lambda: pipeline.predict_proba(one_row)[0, 1], repeats=11, number=200)
    request = _request_through(bare_app)
    one_after_us, one_again_us = after_other_work_us(lambda: predictor.predict_one(note), request)
    sixteen = np.repeat(features[:1], 16, axis=0)
    sixteen_after_us, _ = after_other_work_us(lambda: predictor.predict_many(sixteen), request)

    labels, forged = predictor.predict_many(features)
    expected_labels = pipeline.predict(features.astype(np.float32)).tolist()
    expected_forged = pipeline.predict_proba(features.astype(np.float32))[:, 1]
    singles = [predictor.predict_one(row) for row in features.tolist()]
    label_mismatches = sum(a != b for a, b in zip(labels, expected_labels, strict=True))
    label_mismatches += sum(s[0] != b for s, b in zip(singles, expected_labels, strict=True))
    max_diff = float(np.max(np.abs(np.array(forged) - expected_forged)))
    max_diff = max(
        max_diff, float(np.max(np.abs(np.array([s[1] for s in singles]) - expected_forged)))
    )

    print("One-row model call (median; features in, P(forged) out)")
    print(
        f"  onnxruntime (service) {onnx_us:8.1f} us   target <= {TARGET_US:.0f} us: "
        f"{'met' if onnx_us <= TARGET_US else 'NOT met'}"
    )
    print(f"  sklearn predict_proba {sklearn_us:8.1f} us   ({sklearn_us / onnx_us:.0f}x slower)")
    print(
        f"  onnxruntime right after a request through FastAPI: {one_after_us:.1f} us, the same "
        f"call repeated at once {one_again_us:.1f} us ({one_after_us / one_again_us:.1f}x); "
        f"16 rows right after a request: {sixteen_after_us:.1f} us "
        f"({sixteen_after_us / 16:.1f} us per row)"
    )
    parity_ok = label_mismatches == 0 and max_diff <= TOLERANCE
    print(
        f"  parity with sklearn on all {len(rows)} rows (batch and single): "
        f"{label_mismatches} label mismatches, max |dP| = {max_diff:.2e} "
        f"({'ok' if parity_ok else 'FAILED'})"
    )
    return 0 if parity_ok else 1


if __name__ == "__main__":
    sys.exit(main())
