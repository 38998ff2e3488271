"""One-row model call: the service's ONNX Runtime path vs the sklearn pipeline, and parity.

    .venv/bin/python -m bench.model_call [--model-dir artifacts/model]

Times `Predictor.predict_one` (features in, P(forged) out: what /predict runs) and the sklearn
pipeline's `predict_proba` on one row, as medians over many repeats; then checks that the ONNX
answers equal sklearn's on every row of the dataset (labels identical, probabilities within
1e-5). bench/ may import sklearn; the service never does.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import joblib
import numpy as np

from api.lifespan import load_predictor
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

    onnx_us = median_us(lambda: predictor.predict_one(*note))
    sklearn_us = median_us(lambda: pipeline.predict_proba(one_row)[0, 1], repeats=11, number=200)

    labels, forged = predictor.predict_many(features)
    expected_labels = pipeline.predict(features.astype(np.float32)).tolist()
    expected_forged = pipeline.predict_proba(features.astype(np.float32))[:, 1]
    singles = [predictor.predict_one(*row) for row in features.tolist()]
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
    parity_ok = label_mismatches == 0 and max_diff <= TOLERANCE
    print(
        f"  parity with sklearn on all {len(rows)} rows (batch and single): "
        f"{label_mismatches} label mismatches, max |dP| = {max_diff:.2e} "
        f"({'ok' if parity_ok else 'FAILED'})"
    )
    return 0 if parity_ok else 1


if __name__ == "__main__":
    sys.exit(main())
