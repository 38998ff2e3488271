"""POST /predict under wrk: this service vs the reference app vs a bare FastAPI app.

    .venv/bin/python -m bench.http_bench [--rounds 8] [--duration 2] [--connections 32]

The machine is shared and noisy (its speed drifts by up to 2x within seconds), so the apps are
measured in alternation, many short rounds (every other one in reverse order), in one run, and
compared as ratios: the median of the per-round ratios. One uvicorn worker each, wrk with one
thread; p50/p99 latencies come from wrk's --latency distribution. Besides the three apps,
variants of the service show what its choices cost or save: `api-fastapi` has /predict written
the conventional FastAPI way (pydantic body model, dependencies, response model), `api-1call`
scores each request with its own model call (COALESCE_MAX_ROWS=1), `api-shared` keeps its
metrics in the files that several workers share, `api-nodrift` counts no input drift
(DRIFT_METRICS=false). The drift counting's cost is also timed in process, per note, the way
/predict pays it.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import statistics
import subprocess
import sys
import time
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from api.drift import DriftReference
from api.metrics import Metrics
from bench.servers import REPO, running
from contract import read_metadata

LUA = REPO / "bench" / "post_note.lua"
# api-nodrift next to api: the drift figure compares those two most closely.
APPS = ("reference", "bare", "api", "api-nodrift", "api-fastapi", "api-1call", "api-shared")
TARGET_VS_REFERENCE = 5.0
TARGET_VS_BARE = 0.75
# Counting inputs for the drift series may lower `api / bare` by at most this much (issue 11).
MAX_DRIFT_DROP = 0.03


@dataclass
class Run:
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int


def _ms(value: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", value).groups()  # type: ignore[union-attr]
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def wrk(url: str, seconds: int, connections: int) -> Run:
    """One wrk run against POST {url}/predict."""
    out = subprocess.run(
        [
            "wrk",
            "-t1",
            f"-c{connections}",
            f"-d{seconds}s",
            "--latency",
            "-s",
            str(LUA),
            f"{url}/predict",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = re.search(r"\s50%\s+(\S+)", out).group(1)  # type: ignore[union-attr]
    p99 = re.search(r"\s99%\s+(\S+)", out).group(1)  # type: ignore[union-attr]
    errors = sum(int(n) for n in re.findall(r"Non-2xx or 3xx responses: (\d+)", out))
    errors += sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", out))
    return Run(rps, _ms(p50), _ms(p99), errors)


def _keep_tail(path: Path, lines: int) -> None:
    text = path.read_text(errors="replace").splitlines()
    path.write_text("\n".join(text[-lines:]) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", type=Path, default=REPO / "artifacts" / "model")
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--duration", type=int, default=2, help="seconds per wrk run")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--logs", type=Path, default=REPO / "bench" / "results")
    args = parser.parse_args(argv)
    if shutil.which("wrk") is None:
        print("http_bench: wrk is not installed (apt-get install wrk)", file=sys.stderr)
        return 2
    args.logs.mkdir(parents=True, exist_ok=True)
    args.drift_us = drift_cost_us(args.model_dir)
    runs: dict[str, list[Run]] = {name: [] for name in APPS}
    with ExitStack() as stack:
        urls = {}
        for name in APPS:
            log = stack.enter_context((args.logs / f"http-{name}.log").open("w"))
            urls[name] = stack.enter_context(running(name, args.model_dir, log))
        for name in APPS:  # warm-up: imports, first-call caches, TCP
            wrk(urls[name], 2, args.connections)
        for round_number in range(1, args.rounds + 1):
            # Every other round in reverse order, so no app always follows the same one.
            for name in APPS if round_number % 2 else reversed(APPS):
                run = wrk(urls[name], args.duration, args.connections)
                runs[name].append(run)
                print(
                    f"  round {round_number} {name:11s} {run.rps:9.0f} req/s  "
                    f"p50 {run.p50_ms:6.2f} ms  p99 {run.p99_ms:6.2f} ms",
                    flush=True,
                )
    for name in APPS:  # keep the logs' tails: hundreds of thousands of access lines
        _keep_tail(args.logs / f"http-{name}.log", 200)
    return report(runs, args)


def drift_cost_us(model_dir: Path, notes: int = 200_000) -> float:
    """In process: the drift counting's cost per /predict note, in microseconds.

    What the route pays (`Metrics.count_input`: one list extend) plus its share of the
    vectorised counts made every DRIFT_PENDING_ROWS notes, median of 5 runs.
    """
    reference = DriftReference(read_metadata(model_dir).feature_stats)
    rows = np.random.default_rng(3).normal(0, 4, (notes, len(reference.features))).tolist()
    samples = []
    for _ in range(5):
        metrics = Metrics()
        metrics.watch_inputs(reference)
        count = metrics.count_input
        start = time.perf_counter()
        for row in rows:
            count(row)
        metrics.sync()  # the last, partial list
        samples.append((time.perf_counter() - start) / notes * 1e6)
    return statistics.median(samples)


def _ratio(runs: dict[str, list[Run]], over: str, under: str) -> float:
    """Median of the per-round ratios of req/s (rounds are measured side by side)."""
    return statistics.median(a.rps / b.rps for a, b in zip(runs[over], runs[under], strict=True))


def report(runs: dict[str, list[Run]], args: argparse.Namespace) -> int:
    print(
        f"\nPOST /predict, wrk -t1 -c{args.connections}, {args.rounds} x {args.duration}s "
        "per app, alternating; one uvicorn worker each"
    )
    print(f"  {'app':11s} {'req/s (median)':>15s} {'p50 ms':>8s} {'p99 ms':>8s}")
    medians = {}
    for name in APPS:
        rps, p50, p99 = (
            statistics.median(getattr(r, key) for r in runs[name])
            for key in ("rps", "p50_ms", "p99_ms")
        )
        medians[name] = {"rps": rps, "p50_ms": p50, "p99_ms": p99}
        print(f"  {name:11s} {rps:15.0f} {p50:8.2f} {p99:8.2f}")
    ratios = {
        "api/reference": _ratio(runs, "api", "reference"),
        "api/bare": _ratio(runs, "api", "bare"),
        "api/api-fastapi": _ratio(runs, "api", "api-fastapi"),
        "api-1call/bare": _ratio(runs, "api-1call", "bare"),
        "api/api-1call": _ratio(runs, "api", "api-1call"),
        "api-shared/api": _ratio(runs, "api-shared", "api"),
        "api-nodrift/bare": _ratio(runs, "api-nodrift", "bare"),
        "api/api-nodrift": _ratio(runs, "api", "api-nodrift"),
    }
    # How much `api / bare` drops with drift counting on: per round, side by side, then the
    # median (less noisy than the difference of the two ratios' medians).
    drop = statistics.median(
        (off.rps - on.rps) / bare.rps
        for on, off, bare in zip(runs["api"], runs["api-nodrift"], runs["bare"], strict=True)
    )
    # One request's time at the service's median rate, and the in-process drift cost in it.
    drift_share = args.drift_us * medians["api"]["rps"] / 1e6
    errors = sum(r.errors for name in APPS for r in runs[name])
    ok_ref = ratios["api/reference"] >= TARGET_VS_REFERENCE
    ok_bare = ratios["api/bare"] >= TARGET_VS_BARE
    print(
        f"  api / reference = {ratios['api/reference']:5.2f}x  (target >= "
        f"{TARGET_VS_REFERENCE}x: {'met' if ok_ref else 'NOT met'})"
    )
    print(
        f"  api / bare      = {ratios['api/bare']:5.2f}x  (target >= {TARGET_VS_BARE}x: "
        f"{'met' if ok_bare else 'NOT met'}; access log and metrics on)"
    )
    print(
        f"  raw-body route: api / api-fastapi = {ratios['api/api-fastapi']:.2f}x  (the "
        "conventional FastAPI route in its place)"
    )
    print(
        f"  coalescing:     api-1call / bare = {ratios['api-1call/bare']:.2f}x, "
        f"api / api-1call = {ratios['api/api-1call']:.2f}x  (one model call per request vs "
        "per event-loop iteration)"
    )
    print(
        f"  shared metrics: api-shared / api = {ratios['api-shared/api']:.2f}x  (the "
        "multi-worker metrics files, on one worker)"
    )
    print(
        f"  input drift:    api / bare = {ratios['api/bare']:.2f}x vs api-nodrift / bare = "
        f"{ratios['api-nodrift/bare']:.2f}x: drop {drop:+.3f} per round, median (target <= "
        f"{MAX_DRIFT_DROP}: "
        f"{'met' if drop <= MAX_DRIFT_DROP else 'NOT met'}); api / api-nodrift = "
        f"{ratios['api/api-nodrift']:.2f}x"
    )
    print(
        f"                  in process {args.drift_us:.2f} us per note = {100 * drift_share:.1f} % "
        "of one request at the api's median rate"
    )
    args.logs.mkdir(parents=True, exist_ok=True)
    (args.logs / "http.json").write_text(
        json.dumps(
            {
                "apps": medians,
                "ratios": ratios,
                "drift": {"drop_vs_bare": drop, "in_process_us_per_note": args.drift_us},
                "rounds": args.rounds,
            },
            indent=2,
        )
        + "\n"
    )
    if errors:
        print(f"  wrk reported {errors} errors or non-2xx answers")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
