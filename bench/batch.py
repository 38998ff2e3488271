"""POST /predict/batch with 10,000 notes: end to end over HTTP, and where the time goes.

    .venv/bin/python -m bench.batch [--rows 10000] [--requests 10]

End to end: the real service (`python -m api`) on loopback, median over several requests.
Breakdown (in-process, same code as the endpoint): JSON parsing + validation, the one model
call, and encoding the answer. Parsing and validation must not cost more than 10x the model call.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import numpy as np

from api.body import validate
from api.lifespan import load_predictor
from api.routers.predict import _score_batch
from api.schemas import batch_adapter
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
    adapter = batch_adapter(args.rows)
    parsed = validate(adapter, body)

    def parse() -> np.ndarray:
        rows = validate(adapter, body)
        return np.array(
            [(n["variance"], n["skewness"], n["curtosis"], n["entropy"]) for n in rows],
            dtype=np.float64,
        )

    features = parse()
    parse_ms = median_ms(parse)
    model_ms = median_ms(lambda: predictor.predict_many(features))
    whole_ms = median_ms(lambda: _score_batch(predictor, adapter, body))
    assert len(parsed) == args.rows

    results = Path(REPO / "bench" / "results")
    results.mkdir(parents=True, exist_ok=True)
    with (
        (results / "batch-api.log").open("w") as log,
        running("api", args.model_dir, log) as url,
        httpx.Client(timeout=60) as client,
    ):
        headers = {"content-type": "application/json"}
        first = client.post(f"{url}/predict/batch", content=body, headers=headers)
        first.raise_for_status()
        assert first.json()["count"] == args.rows
        samples = []
        for _ in range(args.requests):
            start = time.perf_counter()
            client.post(f"{url}/predict/batch", content=body, headers=headers).raise_for_status()
            samples.append(time.perf_counter() - start)
    end_to_end = statistics.median(samples)

    ratio = parse_ms / model_ms
    print(
        f"POST /predict/batch, {args.rows} notes ({len(body) / 1e6:.2f} MB JSON), "
        f"median of {args.requests}"
    )
    print(
        f"  end to end over HTTP   {end_to_end * 1000:8.1f} ms   "
        f"{args.rows / end_to_end:10.0f} rows/s"
    )
    print(f"  parse + validate       {parse_ms:8.1f} ms")
    print(f"  model call (one)       {model_ms:8.1f} ms")
    print(f"  all in-process steps   {whole_ms:8.1f} ms   (incl. encoding the answer)")
    print(
        f"  parse+validate / model = {ratio:.1f}x  (target <= {MAX_PARSE_TO_MODEL:.0f}x: "
        f"{'met' if ratio <= MAX_PARSE_TO_MODEL else 'NOT met'})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
