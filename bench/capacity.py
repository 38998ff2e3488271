"""Capacity of one worker: the most requests per second it serves with p99 under 50 ms.

    .venv/bin/python -m bench.capacity [--duration 5] [--p99-ms 50] [--max-connections 512]

One uvicorn worker of this service (as `make run` starts it), POST /predict under wrk with a
doubling number of connections (1, 2, 4, ...). Each step's req/s and p99 are printed; the figure
is the step with the highest req/s whose p99 stays under the bound; the most connections whose
p99 stays under it is the concurrency one worker can queue within the bound.
docs/deploy/prod.md#capacity turns both into the HTTP scale rule's threshold
(concurrentRequests) and into replicas for a load. A figure from this machine, not an
assertion: compare it with Azure's vCPU before relying on it.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bench.http_bench import Run, wrk
from bench.servers import REPO, running

# The latency bound capacity is measured against: req/s with p99 under it. The HTTP scale rule's
# threshold (Pulumi.prod.yaml concurrentRequests) and the p95 alert on /predict
# (infra/promql.py LATENCY_P95_SECONDS) are derived from what one worker does within it.
P99_BOUND_MS = 50.0


@dataclass(frozen=True)
class Step:
    """One load level: wrk's connections and what it measured."""

    connections: int
    run: Run


def levels(maximum: int) -> list[int]:
    """1, 2, 4, ... up to `maximum` connections."""
    found, level = [], 1
    while level <= maximum:
        found.append(level)
        level *= 2
    return found


def capacity(steps: Sequence[Step], p99_ms: float) -> Step | None:
    """The step with the most req/s whose p99 is under the bound and that had no errors."""
    within = [s for s in steps if s.run.p99_ms < p99_ms and s.run.errors == 0]
    return max(within, key=lambda s: s.run.rps, default=None)


def concurrency_limit(steps: Sequence[Step], p99_ms: float) -> int | None:
    """The most connections whose p99 stayed under the bound, without errors."""
    within = [s.connections for s in steps if s.run.p99_ms < p99_ms and s.run.errors == 0]
    return max(within, default=None)


def main(argv: list[str] | None = None) -> int:
    """Sweep the connections, print each step and the capacity figure."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", type=Path, default=REPO / "artifacts" / "model")
    parser.add_argument("--duration", type=int, default=5, help="seconds per load level")
    parser.add_argument("--p99-ms", type=float, default=P99_BOUND_MS)
    parser.add_argument("--max-connections", type=int, default=512)
    parser.add_argument("--logs", type=Path, default=REPO / "bench" / "results")
    args = parser.parse_args(argv)
    if shutil.which("wrk") is None:
        print("capacity: wrk is not installed (apt-get install wrk)", file=sys.stderr)
        return 2
    args.logs.mkdir(parents=True, exist_ok=True)
    steps = []
    print(f"POST /predict, one worker, wrk -t1, {args.duration}s per level")
    with (
        (args.logs / "capacity-api.log").open("w") as log,
        running("api", args.model_dir, log) as url,
    ):
        wrk(url, 2, 8)  # warm-up
        for connections in levels(args.max_connections):
            run = wrk(url, args.duration, connections)
            steps.append(Step(connections, run))
            print(
                f"  {connections:4d} connections {run.rps:9.0f} req/s  "
                f"p50 {run.p50_ms:7.2f} ms  p99 {run.p99_ms:7.2f} ms  errors {run.errors}",
                flush=True,
            )
            if run.p99_ms >= 2 * args.p99_ms:
                break  # far past the bound: more connections only queue
    best, limit = capacity(steps, args.p99_ms), concurrency_limit(steps, args.p99_ms)
    if best is None or limit is None:
        print(f"  no level kept p99 under {args.p99_ms:g} ms")
        return 1
    print(
        f"  capacity per worker at p99 < {args.p99_ms:g} ms: {best.run.rps:.0f} req/s "
        f"(at {best.connections} concurrent requests, p99 {best.run.p99_ms:.2f} ms); "
        f"p99 stays under {args.p99_ms:g} ms up to {limit} concurrent requests"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
