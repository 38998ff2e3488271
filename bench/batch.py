"""POST /predict/batch with 10,000 notes: end to end over HTTP, and where the time goes.

    .venv/bin/python -m bench.batch [--rows 10000] [--requests 10]

End to end: the real service (`python -m api`) on loopback, median over several requests, and
the same service with the input drift series off (DRIFT_METRICS=false), requests alternating.
Breakdown (in-process, same code as the endpoint): JSON parsing + validation, the one model
call, counting the rows for the drift series (numpy, in the endpoint's worker thread), and
encoding the answer. Parsing and validation must not cost more than 10x the model call.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path

import httpx
import numpy as np

from api.body import validate
from api.drift import DriftReference
from api.lifespan import load_predictor
from api.routers.predict import _score_batch, row_reader
from api.schemas import build_schemas
from bench.servers import REPO, running

DATA = REPO / "data" / "data_banknote_authentication.txt"
MAX_PARSE_TO_MODEL = 10.0


def notes(count: int) -> bytes:
    """`count` realistic notes (dataset rows, with a little noise) as a JSON body."""
    rng = np.random.default_rng(42)
    rows = np.loadtxt(DATA, delimiter=",")[:, :4]
    picked = rows[rng.integers(0, len(rows), count)] + rng.normal(0, 0.01, (count, 4))
    names = ("variance", "skewness", "curtosis", "entropy")
    return json.dumps([dict(zip(names, row, strict=True)) for row in picked.tolist()]).encode()


def median_ms(call: Callable[[], object], repeats: int = 15) -> float:
    call()
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", type=Path, default=REPO / "artifacts" / "model")
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=10)
    args = parser.parse_args(argv)
    body = notes(args.rows)

    predictor = load_predictor(args.model_dir, 1)
    reference = DriftReference(predictor.artifact.metadata.feature_stats)
    model = predictor.artifact.contract
    adapter = build_schemas(model).batch_adapter(args.rows)
    read_row = row_reader(model.feature_names)
    probability_field = model.signature().probability_field
    parsed = validate(adapter, body)

    def parse() -> np.ndarray:
        rows = validate(adapter, body)
        return np.array(list(map(read_row, rows)), dtype=np.float64)

    features = parse()
    parse_ms = median_ms(parse)
    model_ms = median_ms(lambda: predictor.predict_many(features))
    drift_ms = median_ms(lambda: reference.count(features))
    whole_ms = median_ms(
        lambda: _score_batch(predictor, adapter, read_row, probability_field, body, reference)
    )
    assert len(parsed) == args.rows

    results = Path(REPO / "bench" / "results")
    results.mkdir(parents=True, exist_ok=True)
    samples: dict[str, list[float]] = {"api": [], "api-nodrift": []}
    headers = {"content-type": "application/json"}
    with ExitStack() as stack:
        client = stack.enter_context(httpx.Client(timeout=60))
        urls = {}
        for name in samples:
            log = stack.enter_context((results / f"batch-{name}.log").open("w"))
            urls[name] = stack.enter_context(running(name, args.model_dir, log))
            first = client.post(f"{urls[name]}/predict/batch", content=body, headers=headers)
            first.raise_for_status()
            assert first.json()["count"] == args.rows
        for _ in range(args.requests):  # alternating, so both see the same machine
            for name, url in urls.items():
                start = time.perf_counter()
                answer = client.post(f"{url}/predict/batch", content=body, headers=headers)
                answer.raise_for_status()
                samples[name].append(time.perf_counter() - start)
    end_to_end = statistics.median(samples["api"])
    without_drift = statistics.median(samples["api-nodrift"])

    ratio = parse_ms / model_ms
    print(
        f"POST /predict/batch, {args.rows} notes ({len(body) / 1e6:.2f} MB JSON), "
        f"median of {args.requests}"
    )
    print(
        f"  end to end over HTTP   {end_to_end * 1000:8.1f} ms   "
        f"{args.rows / end_to_end:10.0f} rows/s"
    )
    print(
        f"  without drift series   {without_drift * 1000:8.1f} ms   (DRIFT_METRICS=false; "
        f"with / without = {end_to_end / without_drift:.2f}x)"
    )
    print(f"  parse + validate       {parse_ms:8.1f} ms")
    print(f"  model call (one)       {model_ms:8.1f} ms")
    print(
        f"  drift counting         {drift_ms:8.1f} ms   (numpy, every row; "
        f"{100 * drift_ms / whole_ms:.1f} % of the in-process steps)"
    )
    print(f"  all in-process steps   {whole_ms:8.1f} ms   (incl. drift counting and encoding)")
    print(
        f"  parse+validate / model = {ratio:.1f}x  (target <= {MAX_PARSE_TO_MODEL:.0f}x: "
        f"{'met' if ratio <= MAX_PARSE_TO_MODEL else 'NOT met'})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
