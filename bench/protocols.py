"""The standard protocols against the service's own routes, on one server, side by side:

    .venv/bin/python -m bench.protocols [--rows 10000] [--requests 25] [--rounds 6]

1. Open Inference Protocol v2 infer of 10,000 rows as binary tensors (what tritonclient sends
   by default) vs POST /predict/batch of the same rows as JSON, end to end over HTTP: median of
   alternating requests. Goal: v2 >= 3x faster.
2. One row: v2 infer with a JSON tensor vs POST /predict, under wrk (-t1 -c32), alternating
   rounds. Goal: v2 >= 0.8x /predict's req/s.
3. MLflow's /invocations with `dataframe_split` of the same 10,000 rows vs /predict/batch:
   reported.
Both sides of each ratio hit the same server in the same minute; the ratio of the medians is
printed, the machines being shared and noisy.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import time
from pathlib import Path

import httpx
import numpy as np

from bench.http_bench import wrk
from bench.servers import REPO, running

DATA = REPO / "data" / "data_banknote_authentication.txt"
FEATURES = ("variance", "skewness", "curtosis", "entropy")
GOAL_BINARY = 3.0
GOAL_ONE_ROW = 0.8


def rows(count: int) -> np.ndarray:
    """`count` realistic rows (dataset rows with a little noise), as bench/batch.py makes them."""
    rng = np.random.default_rng(42)
    data = np.loadtxt(DATA, delimiter=",")[:, :4]
    picked: np.ndarray = data[rng.integers(0, len(data), count)] + rng.normal(0, 0.01, (count, 4))
    return picked


def bodies(features: np.ndarray) -> dict[str, tuple[str, bytes, dict[str, str]]]:
    """Each protocol's request for the same rows: (path, body, headers)."""
    batch = json.dumps([dict(zip(FEATURES, r, strict=True)) for r in features.tolist()]).encode()
    as_float32 = features.astype(np.float32)
    head = json.dumps(
        {
            "inputs": [
                {
                    "name": "features",
                    "shape": list(features.shape),
                    "datatype": "FP32",
                    "parameters": {"binary_data_size": as_float32.nbytes},
                }
            ],
            "parameters": {"binary_data_output": True},
        }
    ).encode()
    split = json.dumps(
        {"dataframe_split": {"columns": list(FEATURES), "data": features.tolist()}}
    ).encode()
    json_type = {"content-type": "application/json"}
    return {
        "predict/batch": ("/predict/batch", batch, json_type),
        "v2 binary": (
            "/v2/models/banknote/infer",
            head + as_float32.tobytes(),
            {"inference-header-content-length": str(len(head))},
        ),
        "invocations": ("/invocations", split, json_type),
    }


def end_to_end(
    url: str, requests: dict[str, tuple[str, bytes, dict[str, str]]], repeats: int
) -> dict[str, float]:
    """Median seconds per request of each kind, requests alternating."""
    samples: dict[str, list[float]] = {name: [] for name in requests}
    with httpx.Client(base_url=url, timeout=60) as client:
        for path, body, headers in requests.values():  # warm-up, and a sanity check
            client.post(path, content=body, headers=headers).raise_for_status()
        for _ in range(repeats):
            for name, (path, body, headers) in requests.items():
                start = time.perf_counter()
                client.post(path, content=body, headers=headers).raise_for_status()
                samples[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in samples.items()}


def one_row(url: str, rounds: int, seconds: int) -> tuple[float, float, float]:
    """Median req/s of /predict and of v2 JSON one-row infer under wrk, and the median ratio."""
    targets = {
        "predict": (REPO / "bench" / "post_note.lua", "/predict"),
        "v2": (REPO / "bench" / "post_v2_row.lua", "/v2/models/banknote/infer"),
    }
    runs: dict[str, list[float]] = {name: [] for name in targets}
    for round_number in range(rounds + 1):  # round 0 warms up
        order = list(targets) if round_number % 2 else list(reversed(targets))
        for name in order:
            script, path = targets[name]
            run = wrk(url, seconds, 32, script=script, path=path)
            if run.errors:
                raise RuntimeError(f"wrk saw {run.errors} errors on {name}")
            if round_number:
                runs[name].append(run.rps)
    ratios = [v2 / predict for v2, predict in zip(runs["v2"], runs["predict"], strict=True)]
    return (
        statistics.median(runs["predict"]),
        statistics.median(runs["v2"]),
        statistics.median(ratios),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", type=Path, default=REPO / "artifacts" / "model")
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=25)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--duration", type=int, default=2, help="seconds per wrk run")
    args = parser.parse_args(argv)
    if shutil.which("wrk") is None:
        print("protocols: wrk is not installed (apt-get install wrk)", file=sys.stderr)
        return 2
    requests = bodies(rows(args.rows))
    results = REPO / "bench" / "results"
    results.mkdir(parents=True, exist_ok=True)
    with (
        (results / "protocols-api.log").open("w") as log,
        running("api", args.model_dir, log) as url,
    ):
        medians = end_to_end(url, requests, args.requests)
        predict_rps, v2_rps, one_row_ratio = one_row(url, args.rounds, args.duration)
    batch = medians["predict/batch"]
    binary_ratio = batch / medians["v2 binary"]
    invocations_ratio = batch / medians["invocations"]
    sizes = {name: len(body) / 1e6 for name, (_path, body, _headers) in requests.items()}
    print(
        f"Protocols, {args.rows} rows end to end over HTTP (median of {args.requests}, alternating)"
    )
    for name, seconds in medians.items():
        print(f"  {name:14s} {seconds * 1000:8.1f} ms   {sizes[name]:5.2f} MB request")
    print(
        f"  v2 binary / predict/batch = {binary_ratio:.2f}x faster  (goal >= {GOAL_BINARY}x: "
        f"{'met' if binary_ratio >= GOAL_BINARY else 'NOT met'})"
    )
    print(f"  invocations dataframe_split / predict/batch = {invocations_ratio:.2f}x faster")
    print(f"One row under wrk -t1 -c32, {args.rounds} x {args.duration}s each, alternating")
    print(f"  /predict {predict_rps:9.0f} req/s   v2 JSON infer {v2_rps:9.0f} req/s")
    print(
        f"  v2 one row / predict = {one_row_ratio:.2f}x  (goal >= {GOAL_ONE_ROW}x: "
        f"{'met' if one_row_ratio >= GOAL_ONE_ROW else 'NOT met'})"
    )
    (results / "protocols.json").write_text(
        json.dumps(
            {
                "end_to_end_ms": {k: v * 1000 for k, v in medians.items()},
                "ratios": {
                    "v2_binary_vs_batch": binary_ratio,
                    "v2_one_row_vs_predict": one_row_ratio,
                    "invocations_vs_batch": invocations_ratio,
                },
                "one_row_rps": {"predict": predict_rps, "v2": v2_rps},
            },
            indent=2,
        )
        + "\n"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
